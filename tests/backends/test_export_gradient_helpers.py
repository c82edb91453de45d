"""Export and lowering of sequences built with the gradient helpers.

``add_gradients`` (all three of pypulseq's paths), ``align``, ``rotate`` (with
an RF pulse passed through), ``scale_grad``, ``split_gradient`` and
``split_gradient_at`` feed blocks from traced parameters. Traced and
exported, each sequence must give the bytes pypulseq writes for the same
function — at the traced values and at new ones — which also proves the
replay: every helper's result is rebuilt by calling the real pypulseq helper
on the replayed input events and must equal the evaluated graph bit for bit.
``graph.to_mr0()`` must build.
"""
import math
import warnings

import numpy as np
import pytest

import pulseqzero
from tests.api.test_differentiable_helpers import CASES as GRE_CASES, helper_gre
from tests.backends.test_pypulseq_export import write_with_pypulseq

pp = pulseqzero.pp_impl

SYSTEM = dict(max_grad=28, grad_unit="mT/m", max_slew=150, slew_unit="T/m/s",
              rf_ringdown_time=20e-6, rf_dead_time=100e-6, adc_dead_time=10e-6)
BUMP = np.sin(np.pi * (np.arange(30) + 0.5) / 30)  # an arbitrary gradient shape, ~0 at its ends


def helpers(amp, scale, angle, t_split):
    """Every gradient helper once; ``amp`` (Hz/m), ``scale``, ``angle`` (rad), ``t_split`` (s)."""
    system = pp.Opts(**SYSTEM)
    seq = pp.Sequence(system)
    rf = pp.make_block_pulse(flip_angle=10 * math.pi / 180, duration=0.5e-3, system=system)

    # add_gradients: trapezoids of one timing -> a trapezoid
    g1 = pp.make_trapezoid("x", amplitude=amp, flat_time=5e-4, rise_time=1e-4, system=system)
    g2 = pp.make_trapezoid("x", amplitude=2e4, flat_time=5e-4, rise_time=1e-4, system=system)
    seq.add_block(pp.add_gradients([g1, g2], system=system))
    # trapezoids and an extended trapezoid -> an extended trapezoid on the union of corners
    g3 = pp.make_trapezoid("x", amplitude=-3e4, flat_time=3e-4, rise_time=2e-4, delay=1e-4,
                           system=system)
    ext = pp.make_extended_trapezoid("x", times=[0, 1e-4, 4e-4, 6e-4],
                                     amplitudes=[0, amp, amp / 2, 0], system=system)
    seq.add_block(pp.add_gradients([g1, g3, ext], system=system))
    # arbitrary gradients of one delay -> an arbitrary gradient
    arb1 = pp.make_arbitrary_grad("y", waveform=amp * BUMP, system=system)
    arb2 = pp.make_arbitrary_grad("y", waveform=1e4 * BUMP[:20], system=system)
    seq.add_block(pp.add_gradients([arb1, arb2], max_grad=6e5, system=system))

    # scale_grad of a trapezoid and of an extended trapezoid
    seq.add_block(pp.scale_grad(g3, scale))
    seq.add_block(pp.scale_grad(ext, -scale))

    # rotate: the RF pulse passes through, the x trapezoid becomes x and y components
    seq.add_block(*pp.rotate(rf, g1, angle=angle, axis="z", system=system))

    # split_gradient: ramp up, flat top, ramp down in three blocks
    up, flat, down = pp.split_gradient(g1, system=system)
    up.delay, flat.delay, down.delay = 0, 0, 0
    seq.add_block(up)
    seq.add_block(flat)
    seq.add_block(down)

    # split_gradient_at: a trapezoid cut at t_split, the parts in consecutive blocks
    first, second = pp.split_gradient_at(g3, t_split, system=system)
    second.delay = 0
    seq.add_block(first)
    seq.add_block(second)

    # align: a readout trapezoid right-aligned with a centred ADC and a left y trapezoid
    gx = pp.make_trapezoid("x", amplitude=amp, flat_time=1e-3, rise_time=1e-4, system=system)
    adc = pp.make_adc(32, duration=8e-4, system=system)
    gy = pp.make_trapezoid("y", area=20.0, duration=6e-4, system=system)
    seq.add_block(*pp.align(right=gx, center=[adc], left=gy))
    return seq


# Both sets keep the traced structure (the guards hold): ``amp`` above max_slew * raster
# (63.9 kHz/m), so pypulseq's block-connection check takes the same branch, and the cut
# inside the flat top of g3.
ARGS = dict(amp=8e4, scale=0.8, angle=0.4, t_split=3.5e-4)
NEW = dict(amp=9e4, scale=-0.5, angle=0.7, t_split=4.5e-4)


@pytest.fixture(scope="module")
def graph():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pulseqzero.trace(helpers).trace(**ARGS)


def test_helper_results_are_replayed_calls(graph):
    calls = {e.origin.call.name for b in graph.blocks for e in b.events if e.origin is not None}
    assert {"add_gradients", "scale_grad", "rotate", "split_gradient", "split_gradient_at",
            "align"} <= calls
    kinds = [e.kind for e in graph.blocks[1].events + graph.blocks[2].events]
    assert kinds == ["grad", "grad"]  # the extended-trapezoid and arbitrary sums
    assert graph.blocks[0].events[0].kind == "trap"
    assert {p.name for p in graph.params} == set(ARGS)


def test_same_bytes_as_pypulseq(graph, tmp_path):
    expected = write_with_pypulseq(helpers, tmp_path / "ref.seq", **ARGS)
    graph.write(tmp_path / "traced.seq")
    assert (tmp_path / "traced.seq").read_bytes() == expected


def test_same_bytes_at_new_values(graph, tmp_path):
    expected = write_with_pypulseq(helpers, tmp_path / "ref.seq", **NEW)
    graph.write(tmp_path / "new.seq", **NEW)
    assert (tmp_path / "new.seq").read_bytes() == expected


def test_to_mr0_builds(graph):
    seq = graph.to_mr0()
    assert len(seq) > 0
    seq = graph.to_mr0(**NEW)
    assert len(seq) > 0


@pytest.mark.parametrize("helper", sorted(GRE_CASES))
def test_differentiable_gre_exports_like_pypulseq(helper, tmp_path):
    """The sequences of tests/api/test_differentiable_helpers.py, written."""
    p0, _ = GRE_CASES[helper]
    expected = write_with_pypulseq(helper_gre, tmp_path / "ref.seq", p=p0, helper=helper)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        graph = pulseqzero.trace(helper_gre, static_argnames=("helper", "lines")).trace(
            p0, helper=helper)
    graph.write(tmp_path / "traced.seq")
    assert (tmp_path / "traced.seq").read_bytes() == expected
    p1 = p0 * 1.1
    expected = write_with_pypulseq(helper_gre, tmp_path / "ref1.seq", p=p1, helper=helper)
    graph.write(tmp_path / "traced1.seq", p=p1)
    assert (tmp_path / "traced1.seq").read_bytes() == expected
