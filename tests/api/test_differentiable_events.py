"""Gradients through make_extended_trapezoid_area (traced area) and make_arbitrary_rf (traced
pulse samples): autograd of a simulated signal loss against central finite differences.

The PDG simulation runs in float32 (relative noise ~1e-5 on the loss): the finite
differences are a cubic fit over several steps (``central_slope``). The steps are
small enough that no guard fails (the gradient timing stays) and that MRzeroCore's
state pruning does not switch (it makes the loss jump for large changes of a pulse).
"""
import warnings

import numpy as np
import pytest
import torch

import pulseqzero
from tests.backends.test_mr0_lowering import central_slope
from tests.conftest import simulate

pp = pulseqzero.pp_impl

SYSTEM = dict(max_grad=28, grad_unit="mT/m", max_slew=150, slew_unit="T/m/s")
F64 = dict(dtype=torch.float64)


def prephased_readout(area):
    """A 90° pulse, an extended-trapezoid prephaser of ``area`` (1/m), a readout."""
    system = pp.Opts(**SYSTEM)
    seq = pp.Sequence(system)
    seq.add_block(pp.make_block_pulse(np.pi / 2, duration=1e-3, system=system))
    g_pre, _, _ = pp.make_extended_trapezoid_area(area, "x", 0.0, 0.0, system)
    seq.add_block(g_pre)
    gx = pp.make_trapezoid("x", flat_area=16 / 0.22, flat_time=3.2e-3, system=system)
    seq.add_block(gx, pp.make_adc(16, duration=gx.flat_time, delay=gx.rise_time, system=system))
    return seq


def shaped_pulse(pulse, scaled: bool = False):
    """An arbitrary pulse of samples ``pulse`` (Hz unscaled, else scaled to 60°), a readout."""
    system = pp.Opts(**SYSTEM)
    seq = pp.Sequence(system)
    seq.add_block(pp.make_arbitrary_rf(pulse, np.pi / 3, no_signal_scaling=not scaled,
                                       dwell=1e-5, system=system))
    gx = pp.make_trapezoid("x", flat_area=16 / 0.22, flat_time=3.2e-3, system=system)
    seq.add_block(pp.make_trapezoid("x", area=-gx.area / 2, duration=1e-3, system=system))
    seq.add_block(gx, pp.make_adc(16, duration=gx.flat_time, delay=gx.rise_time, system=system))
    return seq


def trace(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pulseqzero.trace(fn, static_argnames=("scaled",)).trace(*args, **kwargs)


def test_extended_trapezoid_area_gradient(phantom16):
    graph = trace(prephased_readout, -30.0)
    weights = torch.arange(16, **F64)  # where the echo sits in the readout

    def loss(area, sub=1):
        sig = simulate(graph.to_mr0(area=area, rf_subpulses=sub), phantom16)
        return ((sig.abs() ** 2).double().flatten() * weights).sum()

    area = torch.tensor(-30.0, **F64, requires_grad=True)
    loss(area).backward()
    fd = central_slope(loss, torch.tensor(-30.0, **F64), 0.02, 3)
    assert float(area.grad) != 0
    assert float(area.grad) == pytest.approx(fd, rel=1e-2)


@pytest.mark.parametrize("scaled, subpulses, step", [(False, 1, 2.0), (True, 8, 0.5)])
def test_arbitrary_rf_shape_gradient(phantom16, scaled, subpulses, step):
    """Unscaled samples set the flip angle; scaled ones (60°) shape the sub-pulses."""
    # one clear peak: 1.5 stores the peak's time as the pulse's centre (a guarded choice),
    # which the finite differences below must not move
    x0 = np.hanning(34)[1:-1] * 400.0
    x0[16] += 60.0
    graph = trace(shaped_pulse, x0, scaled=scaled)
    direction = torch.tensor(np.random.default_rng(0).normal(size=32), **F64)

    def loss(pulse):
        sig = simulate(graph.to_mr0(pulse=pulse, rf_subpulses=subpulses), phantom16)
        return (sig.abs() ** 2).double().sum()

    pulse = torch.tensor(x0, **F64, requires_grad=True)
    loss(pulse).backward()
    autograd = float(pulse.grad @ direction)
    fd = central_slope(lambda t: loss(torch.tensor(x0, **F64) + t * direction), 0.0, step, 3)
    assert autograd != 0
    assert autograd == pytest.approx(fd, rel=2e-2)
