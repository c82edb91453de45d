"""Gradients flow through ``add_gradients``, ``split_gradient_at``, ``scale_grad`` and ``rotate``.

Each sequence is a small 2D gradient echo whose readout prephaser is built
with one of the helpers from a traced parameter (an amplitude in Hz/m, a
scale factor, a rotation angle in rad). The loss is the energy of the
simulated signal (MRzeroCore PDG on a 16x16 phantom): it depends on the
prephaser's moment, which moves the echo inside the readout. Autograd through
``graph.to_mr0`` is compared with central finite differences of the same
loss, re-executing the graph at shifted parameter values. The simulation runs
in float32 (relative noise ~1e-5 on the loss), so the finite difference is a
cubic fit over 2k+1 points (see ``CASES`` for the spread and the tolerance).
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

import pulseqzero
from tests.conftest import simulate

pp = pulseqzero.pp_impl

SYSTEM = dict(max_grad=28, grad_unit="mT/m", max_slew=150, slew_unit="T/m/s",
              rf_ringdown_time=20e-6, rf_dead_time=100e-6, adc_dead_time=10e-6)
FOV = 0.22  # m
N = 16  # readout samples and phase-encode lines


def helper_gre(p, helper: str = "add_gradients", lines: int = 6):
    """A GRE whose x prephaser uses ``helper`` with the parameter ``p``.

    ``add_gradients``: ``p`` is the amplitude (Hz/m) of a trapezoid added to a
    prephaser of another timing (an extended trapezoid results), of the same
    timing (``_same_timing``: a trapezoid results), or of a half-length
    arbitrary gradient added to an arbitrary prephaser (``_arbitrary``);
    ``scale_grad``: ``p`` scales the prephaser; ``split_gradient_at``: ``p`` is
    the prephaser amplitude, the prephaser is cut at 0.5 ms into two blocks;
    ``rotate``: ``p`` is the angle (rad) by which the prephaser is rotated
    about z (x and y components).
    """
    system = pp.Opts(**SYSTEM)
    seq = pp.Sequence(system)
    delta_k = 1 / FOV
    rf = pp.make_block_pulse(flip_angle=15 * math.pi / 180, duration=0.3e-3, system=system)
    gx = pp.make_trapezoid(channel="x", flat_area=N * delta_k, flat_time=1.6e-3, system=system)
    adc = pp.make_adc(num_samples=N, duration=gx.flat_time, delay=gx.rise_time, system=system)
    gx_spoil = pp.make_trapezoid(channel="x", area=2 * N * delta_k, system=system)
    for i in range(lines):
        seq.add_block(rf)
        gy = pp.make_trapezoid(channel="y", area=(i - lines / 2) * 2 * delta_k, duration=1e-3,
                               system=system)
        pre = pp.make_trapezoid(channel="x", area=-gx.area / 2, duration=1e-3, system=system)
        if helper == "add_gradients":
            extra = pp.make_trapezoid(channel="x", amplitude=p, flat_time=4e-4, rise_time=1e-4,
                                      delay=2e-4, system=system)
            seq.add_block(pp.add_gradients([pre, extra], system=system), gy)
        elif helper == "add_gradients_same_timing":
            extra = pp.make_trapezoid(channel="x", amplitude=p, flat_time=pre.flat_time,
                                      rise_time=pre.rise_time, system=system)
            seq.add_block(pp.add_gradients([pre, extra], system=system), gy)
        elif helper == "add_gradients_arbitrary":
            bump = np.sin(np.pi * (np.arange(100) + 0.5) / 100)  # 1 ms, area 0.64 ms
            pre = pp.make_arbitrary_grad("x", waveform=-6e4 * bump, system=system)
            extra = pp.make_arbitrary_grad("x", waveform=p * bump[::2], system=system)
            seq.add_block(pp.add_gradients([pre, extra], system=system), gy)
        elif helper == "scale_grad":
            seq.add_block(pp.scale_grad(pre, p), gy)
        elif helper == "split_gradient_at":
            pre = pp.make_trapezoid(channel="x", amplitude=p, flat_time=6e-4, rise_time=2e-4,
                                    system=system)
            first, second = pp.split_gradient_at(pre, 5e-4, system=system)
            second.delay = 0  # the second part starts its own block
            seq.add_block(first)
            seq.add_block(second, gy)
        elif helper == "rotate":
            seq.add_block(*pp.rotate(pre, angle=p, axis="z", system=system))
            seq.add_block(gy)
        else:
            raise ValueError(helper)
        seq.add_block(gx, adc)
        seq.add_block(gx_spoil, pp.make_delay(4e-3))
    return seq


#: helper -> (parameter value, finite-difference step). The loss curves strongly (the echo
#: moves through the centre of k-space) and the PDG's state selection adds small kinks:
#: the fit spans +-0.5 % of the parameter (measured: autograd and differences then agree
#: to 0.3 %; over +-10 % the cubic fit is off by 20 %).
CASES = {
    "add_gradients": (-4e4, 50.0),
    "add_gradients_same_timing": (-2e4, 50.0),
    "add_gradients_arbitrary": (-2e4, 50.0),
    "scale_grad": (0.7, 5e-4),
    "split_gradient_at": (-5e4, 50.0),
    "rotate": (0.35, 5e-4),
}


def fd_slope(f, x0, step, k=4):
    """Derivative at x0 from a cubic fit through f(x0 + j·step), j = -k..k."""
    offsets = np.arange(-k, k + 1) * step
    values = np.array([float(f(x0 + o)) for o in offsets])
    return np.polyfit(offsets, values, 3)[-2]


@pytest.mark.parametrize("helper", sorted(CASES))
def test_autograd_matches_finite_differences(helper, phantom16):
    p0, step = CASES[helper]
    traced = pulseqzero.trace(helper_gre, static_argnames=("helper", "lines"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        graph = traced.trace(p0, helper=helper)
    assert [p.name for p in graph.params] == ["p"]

    def loss(p):
        signal = simulate(graph.to_mr0(p=p), phantom16)
        return (signal.abs() ** 2).sum().double()

    p = torch.tensor(p0, dtype=torch.float64, requires_grad=True)
    loss(p).backward()
    with torch.no_grad():
        fd = fd_slope(lambda x: loss(torch.tensor(x, dtype=torch.float64)), p0, step)
    assert torch.isfinite(p.grad) and float(p.grad) != 0
    assert abs(fd) > 1e-3 * abs(float(loss(torch.tensor(p0)))) / abs(p0), "the loss hardly moves"
    assert float(p.grad) == pytest.approx(fd, rel=1e-2)
