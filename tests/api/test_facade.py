"""pp_impl dispatch, mr0_mode, and straight-through rounding."""
import gc
import weakref

import numpy as np
import pypulseq
import pytest
import torch

import pulseqzero
import pulseqzero.pp as zpp

pp = pulseqzero.pp_impl


def test_pp_impl_is_pypulseq_outside_and_recording_inside():
    assert pp.make_trapezoid is pypulseq.make_trapezoid
    assert not pulseqzero.is_mr0_mode()
    with pulseqzero.mr0_mode():
        assert pulseqzero.is_mr0_mode()
        assert pp.make_trapezoid is zpp.make_trapezoid
        assert pp.Sequence is zpp.Sequence
    assert pp.Sequence is pypulseq.Sequence


def test_straight_through_rounding():
    # the seed README's example
    my_param = torch.tensor(1.5, requires_grad=True)
    some_calc = pp.round(torch.sin(my_param))
    assert some_calc == 1
    some_calc.backward()
    assert my_param.grad == torch.cos(my_param)
    assert pp.ceil(1.2) == 2.0 and pp.floor(1.8) == 1.0 and pp.round(2.5) == 2.0
    assert isinstance(pp.ceil(1.2), float)
    np.testing.assert_array_equal(pp.round(np.array([0.4, 1.6])), [0.0, 2.0])


def test_mr0_mode_builds_a_differentiable_sequence():
    TE = torch.tensor(4e-3, requires_grad=True)
    with pulseqzero.mr0_mode():
        seq = pp.Sequence()
        rf = pp.make_block_pulse(flip_angle=np.pi / 2, duration=1e-3)
        seq.add_block(rf)
        seq.add_block(pp.make_delay(TE))
        adc = pp.make_adc(8, dwell=1e-5)
        seq.add_block(adc)
        mr0_seq = seq.to_mr0()
    assert len(mr0_seq) == 1 and int(mr0_seq[0].adc_usage.sum()) == 8
    mr0_seq[0].event_time.sum().backward()
    assert TE.grad == 1.0


def _script(TE, flip):
    seq = pp.Sequence()
    seq.add_block(pp.make_block_pulse(flip_angle=flip, duration=1e-3))
    seq.add_block(pp.make_delay(TE))
    seq.add_block(pp.make_delay(TE))  # the same tensor again: one captured parameter
    seq.add_block(pp.make_adc(8, dwell=1e-5))
    return seq


def test_a_recording_is_freed_by_reference_counting():
    """No reference cycles: a script run in mr0_mode (the original project's loop) or a
    trace frees its recording when the last reference goes, not at a full collection."""
    TE = torch.tensor(4e-3, requires_grad=True)
    gc.collect()
    gc.disable()
    try:
        with pulseqzero.mr0_mode() as ctx:
            seq = _script(TE, torch.tensor(np.pi / 2))
            mr0_seq = seq.to_mr0()
        assert len(ctx.params) == 2  # TE (once) and the flip angle
        seq.to_mr0()  # the sequence still works after the block
        alive = [weakref.ref(ctx), weakref.ref(seq)]
        del ctx, seq, mr0_seq
        assert [ref() for ref in alive] == [None, None]

        traced = pulseqzero.trace(lambda TE: _script(TE, np.pi / 2))
        traced(TE).to_mr0()
        assert gc.collect() == 0

        # outside any context (pulseqzero.pp used directly): not kept by the implicit one
        seq = zpp.Sequence()
        seq.add_block(zpp.make_delay(TE))
        alive = weakref.ref(seq)
        del seq
        assert alive() is None
    finally:
        gc.enable()


def test_unknown_recording_name_says_so():
    with pulseqzero.mr0_mode():
        with pytest.raises(AttributeError, match="api-support"):
            pp.make_something_else
