"""Export and lowering of the gradient, RF, label and trigger events beyond the seed's.

One sequence uses every new event kind (Gauss and arbitrary RF, arbitrary and
extended-trapezoid gradients, the area-solved extended trapezoid, labels with a
traced truth value, trigger, digital output). Traced and exported, it must give
the bytes pypulseq writes for the same function, at the traced values and at new
ones; ``graph.to_mr0()`` must build and agree with MRzeroCore's importer.
"""
import warnings

import numpy as np
import pytest

import pulseqzero
from pulseqzero.graph import GuardError
from pulseqzero.pp.version import API_15
from tests.backends.test_mr0_lowering import assert_same_repetitions, imported
from tests.backends.test_pypulseq_export import write_with_pypulseq

pp = pulseqzero.pp_impl

SYSTEM = dict(max_grad=28, grad_unit="mT/m", max_slew=150, slew_unit="T/m/s",
              rf_ringdown_time=20e-6, rf_dead_time=100e-6, adc_dead_time=10e-6)
PULSE = np.hanning(202)[1:-1] * np.sinc(np.linspace(-3, 3, 200))


def more_events(fa, area, te_fill, pulse, grad_only_blocks: bool = False):
    """Every new event kind once; ``fa`` (rad), ``area`` (1/m), ``te_fill`` (s), ``pulse``."""
    system = pp.Opts(**SYSTEM)
    seq = pp.Sequence(system)

    rf, gz, gzr = pp.make_gauss_pulse(fa, duration=2e-3, slice_thickness=5e-3, apodization=0.3,
                                      return_gz=True, system=system)
    seq.add_block(rf, gz)
    seq.add_block(gzr)
    seq.add_block(pp.make_arbitrary_rf(pulse, fa / 2, system=system, use="refocusing"))
    seq.add_block(pp.make_trigger("physio1", duration=2e-3, system=system))
    seq.add_block(pp.make_digital_output_pulse("osc0", delay=1e-4, system=system))

    g_pre, _, _ = pp.make_extended_trapezoid_area(area, "x", 0, 0, system)
    gy = pp.make_extended_trapezoid("y", times=[0, 2e-4, 6e-4, 8e-4],
                                    amplitudes=[0, 3e5, 3e5, 0], system=system)
    gz_arb = pp.make_extended_trapezoid("z", times=[0, 2.05e-4, 6e-4, 8e-4],
                                        amplitudes=[0, 3e5, 3e5, 0], convert_to_arbitrary=True,
                                        system=system)
    gx = pp.make_arbitrary_grad("x", np.sin(np.linspace(0, np.pi, 50)) * 2e5, delay=1e-4,
                                system=system)
    adc = pp.make_adc(32, duration=1e-3, system=system)
    rev = pp.make_label("REV", "SET", area < 0)  # a traced truth value when traced
    if grad_only_blocks:
        seq.add_block(g_pre, gy, gz_arb)
        seq.add_block(gx)
    else:
        seq.add_block(g_pre, gy, gz_arb, pp.make_delay(te_fill))
        seq.add_block(gx, adc, pp.make_label("LIN", "SET", 3), rev)
    seq.add_block(pp.make_label("LIN", "INC", 1), pp.make_delay(1e-3))
    return seq


ARGS = dict(fa=0.5, area=-300.0, te_fill=2e-3, pulse=PULSE)


@pytest.fixture(scope="module")
def graph():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pulseqzero.trace(more_events, static_argnames=("grad_only_blocks",)).trace(**ARGS)


def test_every_new_event_kind_is_in_the_graph(graph):
    kinds = [(e.kind, getattr(e, "type", None) or getattr(getattr(e, "shape", None), "kind", None))
             for b in graph.blocks for e in b.events]
    for kind in [("rf", "gauss"), ("rf", "arbitrary"), ("trigger", "trigger"),
                 ("trigger", "output"), ("label", "labelset"), ("label", "labelinc")]:
        assert kind in kinds
    assert sum(k == "grad" for k, _ in kinds) == 4
    assert {p.name for p in graph.params} == {"fa", "area", "te_fill", "pulse"}


@pytest.mark.parametrize("grad_only_blocks", [False, True])
def test_seq_is_byte_identical(tmp_path, grad_only_blocks):
    args = dict(ARGS, grad_only_blocks=grad_only_blocks)
    expected = write_with_pypulseq(more_events, tmp_path / "ref.seq", **args)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = pulseqzero.trace(more_events, static_argnames=("grad_only_blocks",)).trace(**args)
    traced.write(tmp_path / "traced.seq")
    assert (tmp_path / "traced.seq").read_bytes() == expected


def test_export_at_new_values_equals_pypulseq_at_those_values(graph, tmp_path):
    # a new pulse shape with the same peak samples: 1.5 stores the pulse's centre (its peak,
    # calc_rf_center), a discrete choice the graph guards (next test)
    new = dict(fa=0.7, area=-301.0, te_fill=3e-3,
               pulse=PULSE * (2 - np.linspace(-1, 1, 200) ** 2))
    graph.write(tmp_path / "new.seq", **new)
    expected = write_with_pypulseq(more_events, tmp_path / "ref.seq", **new)
    assert (tmp_path / "new.seq").read_bytes() == expected


def test_a_pulse_whose_peak_moves_breaks_a_guard_under_1_5(graph, tmp_path):
    """1.5's make_arbitrary_rf stores the peak time as the pulse's centre: another peak is
    another file (pypulseq at those values writes another RF centre), so the graph refuses
    it; 1.4.2 stores no centre and re-executes."""
    new = dict(ARGS, pulse=PULSE * np.linspace(1, 2, 200))
    if API_15:
        import inspect
        lines, first = inspect.getsourcelines(more_events)
        line = first + next(i for i, text in enumerate(lines) if "make_arbitrary_rf" in text)
        with pytest.raises(GuardError, match=rf"test_export_more_events.py:{line}: condition"):
            graph.write(tmp_path / "new.seq", **new)
    else:
        graph.write(tmp_path / "new.seq", **new)
        assert (tmp_path / "new.seq").read_bytes() == write_with_pypulseq(
            more_events, tmp_path / "ref.seq", **new)


def test_to_mr0_builds(graph):
    seq = graph.to_mr0()
    assert len(seq) == 2  # repetitions start at the two pulses
    assert sum(int(r.adc_usage.gt(0).sum()) for r in seq) == 32
    assert float(seq[0].pulse.angle) == pytest.approx(0.5)
    assert float(seq[1].pulse.angle) == pytest.approx(0.25)


def test_same_repetitions_as_the_importer(graph, tmp_path):
    """Arbitrary gradients begin at the previous gradient's last amplitude and end at their
    extrapolated ``last`` (pulseq-rs' reading); only repetitions with samples carry labels."""
    assert_same_repetitions(graph.to_mr0(), imported(graph, tmp_path))


def test_block_durations_of_gradient_only_blocks():
    """pypulseq's set_block: a gradient lasts delay + ceil(tt[-1] / raster) * raster."""
    args = dict(ARGS, grad_only_blocks=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        graph = pulseqzero.trace(more_events, static_argnames=("grad_only_blocks",)).trace(**args)
        seq = more_events(**args)
    env = graph.evaluate("numpy")
    ours = [float(env[b.duration]) for b in graph.blocks]
    assert ours == [seq.block_durations[i + 1] for i in range(len(ours))]


def test_traced_label_value_follows_the_param(graph):
    """The REV label is `area < 0`: a traced truth value."""
    label = next(e for b in graph.blocks for e in b.events
                 if e.kind == "label" and e.label == "REV")
    assert bool(graph.evaluate("numpy")[label.value]) is True
    # the mirrored area has the same timing (no guard fails) and flips the label
    assert bool(graph.evaluate("numpy", area=300.0)[label.value]) is False


def complex_pulse(fa):
    """A constant complex pulse shape, its flip angle traced, and a label of a traced truth."""
    seq = pp.Sequence(pp.Opts(**SYSTEM))
    shape = np.hanning(40) * np.exp(1j * np.linspace(0, 2, 40))
    seq.add_block(pp.make_arbitrary_rf(shape, fa, system=seq.system))
    seq.add_block(pp.make_adc(10, duration=1e-3, system=seq.system),
                  pp.make_label("SLC", "SET", fa > 0.3))
    return seq


def test_complex_constant_pulse_exports_and_lowers(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        graph = pulseqzero.trace(complex_pulse).trace(0.5)
    graph.write(tmp_path / "traced.seq", fa=0.6)
    assert (tmp_path / "traced.seq").read_bytes() == write_with_pypulseq(
        complex_pulse, tmp_path / "ref.seq", fa=0.6)
    pulse = graph.to_mr0()[0].pulse
    # scaled to the flip angle; the shape's linear phase (0 .. 2 rad) gives its mean phase
    assert float(pulse.angle) == pytest.approx(0.5, rel=1e-6)
    assert float(pulse.phase) == pytest.approx(1.0, abs=1e-6)


def test_an_area_needing_another_timing_fails_a_guard_and_retraces(graph, tmp_path):
    """make_extended_trapezoid_area's timing search is guarded: a much larger area is refused
    by the traced graph (naming the script line) and re-traced by the traced function."""
    with pytest.raises(pulseqzero.graph.GuardError, match=r"test_export_more_events.py:\d+"):
        graph.write(tmp_path / "x.seq", area=-900.0)
    assert not (tmp_path / "x.seq").exists()
    traced = pulseqzero.trace(more_events, static_argnames=("grad_only_blocks",))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced(**dict(ARGS, area=-900.0)).write(tmp_path / "x.seq")
    expected = write_with_pypulseq(more_events, tmp_path / "ref.seq", **dict(ARGS, area=-900.0))
    assert (tmp_path / "x.seq").read_bytes() == expected
