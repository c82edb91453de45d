"""The recording Sequence against pypulseq's: durations, definitions, refused blocks."""
import numpy as np
import pypulseq
import pytest

import pulseqzero.pp as zpp
from pulseqzero.pp.version import API_15
from pulseqzero.tracer import TraceContext, value_of


def build(pp, te=5e-3):
    system = pp.Opts(max_grad=28, grad_unit="mT/m", max_slew=150, slew_unit="T/m/s",
                     rf_ringdown_time=20e-6, rf_dead_time=100e-6, adc_dead_time=10e-6)
    seq = pp.Sequence(system)
    rf, gz, gzr = pp.make_sinc_pulse(np.pi / 2, duration=2e-3, slice_thickness=3e-3,
                                     return_gz=True, system=system)
    seq.add_block(rf, gz)
    seq.add_block(gzr)
    seq.add_block(pp.make_delay(te))
    gx = pp.make_trapezoid("x", flat_area=64 / 0.2, flat_time=3e-3, system=system)
    seq.add_block(gx, pp.make_adc(64, duration=gx.flat_time, delay=gx.rise_time, system=system))
    # a block duration as a number: 1.5's add_block refuses it (test below), make_delay it is
    seq.add_block(gzr, pp.make_delay(7.3e-3) if API_15 else 7.3e-3)
    seq.set_definition("FOV", [0.2, 0.2, 3e-3])
    seq.set_definition("Name", "test")
    return seq


def test_duration_and_definitions_match_pypulseq():
    ref = build(pypulseq)
    with TraceContext("seq") as ctx:
        ours = build(zpp, ctx.new_param("TE", 5e-3))
        total, n_blocks, counts = ours.duration()
        ref_total, ref_blocks, ref_counts = ref.duration()
        assert value_of(total) == ref_total
        assert n_blocks == ref_blocks
        np.testing.assert_array_equal(counts, ref_counts)
        assert [value_of(d) for d in ours.block_durations.values()] == list(ref.block_durations.values())
        assert ours.get_definition("Name") == ref.get_definition("Name") == "test"
        assert ours.get_definition("Nope") == ref.get_definition("Nope") == ""


def test_a_raw_float_block_duration_is_what_pypulseq_makes_of_it():
    """1.4.2 takes a number in add_block as the block's duration; 1.5 refuses it (a traced
    value too), naming make_delay and the script line; ``set_block`` takes it in both."""
    ref = pypulseq.Sequence()
    with TraceContext("seq") as ctx:
        ours = zpp.Sequence()
        d = ctx.new_param("d", 2e-3)
        if API_15:
            with pytest.raises(ValueError, match=r"make_delay\(0.002\)"):
                ref.add_block(2e-3)
            for value in (2e-3, d):
                with pytest.raises(ValueError, match=r"Raw float.*make_delay\(0.002\) for "
                                                     r"delays.*test_sequence.py:\d+"):
                    ours.add_block(value)
            ref.add_block(pypulseq.make_delay(2e-3))
            ours.add_block(zpp.make_delay(d))
        else:
            ref.add_block(2e-3)
            ours.add_block(d)
        ref.set_block(2, 1e-3)
        ours.set_block(2, d / 2)
        assert [value_of(x) for x in ours.block_durations.values()] == \
            list(ref.block_durations.values()) == [2e-3, 1e-3]


def test_two_rf_events_in_a_block_are_refused_like_pypulseq():
    rf = pypulseq.make_block_pulse(1.0, duration=1e-3)
    with pytest.raises(ValueError, match="Multiple RF"):
        pypulseq.Sequence().add_block(rf, rf)
    with TraceContext("seq"):
        rf = zpp.make_block_pulse(1.0, duration=1e-3)
        with pytest.raises(ValueError, match=r"Multiple RF events.*test_sequence.py:\d+"):
            zpp.Sequence().add_block(rf, rf)


def test_write_inside_a_trace_writes_nothing(tmp_path):
    with TraceContext("seq"):
        seq = zpp.Sequence()
        seq.add_block(zpp.make_delay(1e-3))
        with pytest.warns(UserWarning, match="writes nothing"):
            assert seq.write(tmp_path / "x.seq") == ""
        assert seq.write(tmp_path / "x.seq", create_signature=False) is None
    assert not (tmp_path / "x.seq").exists()
