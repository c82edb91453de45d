"""@trace: parameters vs static arguments, caching, guards, re-tracing."""
import logging
import warnings

import numpy as np
import pytest
import torch

import pulseqzero
from pulseqzero import GuardError

pp = pulseqzero.pp_impl


@pulseqzero.trace
def fid(TE, flip, n_samples: int = 8, extra_delay=None):
    seq = pp.Sequence()
    seq.add_block(pp.make_block_pulse(flip_angle=flip, duration=1e-3))
    if TE > 6e-3:  # a traced condition: a guard
        seq.add_block(pp.make_delay(1e-3))
    seq.add_block(pp.make_delay(TE))
    seq.add_block(pp.make_adc(n_samples, dwell=1e-5))
    return seq


def test_floats_are_params_and_the_rest_is_static():
    graph = fid.trace(5e-3, 0.5)
    assert graph.ir.param_names == ("TE", "flip")
    assert len(graph.blocks) == 3
    assert [p.traced_value for p in graph.params] == [5e-3, 0.5]
    assert len(fid.trace(5e-3, 0.5, n_samples=16).blocks[2].events) == 1


def test_calls_trace_once_per_structure_and_reexecute():
    f = pulseqzero.trace(fid.fn)
    a = f(5e-3, 0.5).to_mr0()
    b = f(5.5e-3, 0.3).to_mr0()
    assert f.trace_count == 1
    assert abs(float(b[0].event_time.sum() - a[0].event_time.sum()) - 0.5e-3) < 1e-9
    f(5e-3, 0.5, n_samples=4)  # another static value: another trace
    assert f.trace_count == 2


def test_crossing_a_guard_retraces_on_call(caplog):
    f = pulseqzero.trace(fid.fn)
    f(5e-3, 0.5)
    with caplog.at_level(logging.WARNING, logger="pulseqzero"):
        seq = f(7e-3, 0.5).to_mr0()
    assert f.trace_count == 2
    assert "re-tracing fid" in caplog.text and "test_trace.py:" in caplog.text
    # half the pulse, the extra block, TE, up to the last sample (7.5 dwell times)
    assert float(seq[0].event_time.sum()) == pytest.approx(0.5e-3 + 1e-3 + 7e-3 + 7.5e-5, abs=1e-8)


def test_crossing_a_guard_raises_on_the_graph_path():
    graph = fid.trace(5e-3, 0.5)
    graph.to_mr0(TE=5.9e-3)  # the same side: fine
    with pytest.raises(GuardError, match=r"test_trace.py:\d+"):
        graph.to_mr0(TE=torch.tensor(7e-3))
    with pytest.raises(GuardError):
        graph.write("never.seq", TE=7e-3)


def test_unknown_and_misshaped_params_are_refused():
    graph = fid.trace(5e-3, 0.5)
    with pytest.raises(TypeError, match="no parameter"):
        graph.to_mr0(TR=1.0)
    with pytest.raises(ValueError, match="shape"):
        graph.to_mr0(TE=np.ones(2))


def test_errors_point_at_the_script_line():
    @pulseqzero.trace
    def bad(area):
        seq = pp.Sequence()
        seq.add_block(pp.make_trapezoid("x", area=area, duration=1e-5))  # too short
        return seq

    with pytest.raises(AssertionError, match=r"too large.*test_trace.py:\d+"):
        bad.trace(1000.0)


# -- the cache never serves a trace whose inputs changed (issue 18 #2, #4) ---------------

DWELL = 1e-5  # a module-level value the traced function below reads


def _adc_dwell():
    return DWELL  # read one call deeper: a helper of the script


@pulseqzero.trace
def fid_reading_a_global(TE, n_samples: int = 8):
    seq = pp.Sequence()
    seq.add_block(pp.make_block_pulse(flip_angle=0.5, duration=1e-3))
    seq.add_block(pp.make_delay(TE))
    seq.add_block(pp.make_adc(n_samples, dwell=_adc_dwell()))
    return seq


def _dwell_of(bound):
    return float(bound.to_pypulseq().get_block(3).adc.dwell)


def test_a_changed_module_value_retraces(caplog):
    global DWELL
    assert _dwell_of(fid_reading_a_global(5e-3)) == 1e-5
    try:
        DWELL = 2e-5
        with caplog.at_level(logging.WARNING, logger="pulseqzero"):
            assert _dwell_of(fid_reading_a_global(5e-3)) == 2e-5
        assert "module value DWELL changed" in caplog.text
        count = fid_reading_a_global.trace_count
        DWELL = 1e-5  # back: the first trace is served again
        assert _dwell_of(fid_reading_a_global(5e-3)) == 1e-5
        assert fid_reading_a_global.trace_count == count
    finally:
        DWELL = 1e-5


def test_a_closure_variable_is_compared_by_value():
    dwell = 1e-5

    @pulseqzero.trace
    def f(TE):
        seq = pp.Sequence()
        seq.add_block(pp.make_delay(TE))
        seq.add_block(pp.make_adc(4, dwell=dwell))
        return seq

    assert float(f(5e-3).to_pypulseq().get_block(2).adc.dwell) == 1e-5
    dwell = 3e-5  # noqa: F841 - read by f through its closure
    assert float(f(5e-3).to_pypulseq().get_block(2).adc.dwell) == 3e-5


@pulseqzero.trace
def fid_on(TE, system):
    seq = pp.Sequence(system)
    seq.add_block(pp.make_trapezoid("x", area=1000, system=system))
    seq.add_block(pp.make_delay(TE))
    return seq


def test_an_opts_edited_in_place_retraces():
    system = pp.Opts(max_grad=30, grad_unit="mT/m", max_slew=100, slew_unit="T/m/s")
    first = fid_on(5e-3, system).to_pypulseq().get_block(1).gx.rise_time
    system.max_slew = system.max_slew / 2  # the same object, slower gradients
    second = fid_on(5e-3, system).to_pypulseq().get_block(1).gx.rise_time
    assert second > first
    assert fid_on.trace_count == 2


def test_an_object_that_has_no_value_key_is_compared_by_identity_with_a_warning():
    import threading

    @pulseqzero.trace
    def f(TE, lock):
        seq = pp.Sequence()
        seq.add_block(pp.make_delay(TE))
        return seq

    lock = threading.Lock()
    with pytest.warns(pulseqzero.TracingWarning, match="argument lock cannot be compared by value"):
        f(5e-3, lock)
    f(6e-3, lock)
    assert f.trace_count == 1


def test_a_graph_traced_from_tensors_keeps_them():
    TE = torch.tensor(5e-3, dtype=torch.float64, requires_grad=True)
    flip = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
    graph = pulseqzero.trace(fid.fn).trace(TE, flip)
    seq = graph.to_mr0()  # no parameters given: the traced tensors
    (seq[-1].event_time.sum() + seq[0].pulse.angle).backward()
    assert TE.grad is not None and float(TE.grad) == pytest.approx(1.0)
    assert flip.grad is not None and float(flip.grad) == pytest.approx(1.0)


@pulseqzero.trace
def raster_delay(TE):
    seq = pp.Sequence()
    seq.add_block(pp.make_delay(pp.ceil(TE / 1e-5) * 1e-5))
    return seq


def test_a_float32_value_that_is_not_its_decimal_warns_once(monkeypatch):
    """(issue 18 #9) torch's default float32 moves a raster-rounded delay by one step."""
    monkeypatch.setattr(pulseqzero.graph, "_warned_precision", set())
    graph = raster_delay.trace(6e-3)
    with pytest.warns(pulseqzero.TracingWarning, match=r"test_trace.py:\d+: parameter TE is a "
                      r"float32 value: 0.006 is 0.00600000005"):
        shifted = graph.to_pypulseq(TE=torch.tensor(6e-3)).get_block(1).block_duration
    assert shifted > graph.to_pypulseq(TE=6e-3).get_block(1).block_duration  # why it warns
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        graph.to_pypulseq(TE=torch.tensor(6e-3))  # once
        graph.to_pypulseq(TE=torch.tensor(0.5))  # exact in float32: nothing to say
        graph.to_pypulseq(TE=torch.tensor(6e-3, dtype=torch.float64))


_config = None  # a module of the user's, imported by the test below


@pulseqzero.trace
def fid_reading_a_config_module(TE):
    seq = pp.Sequence()
    seq.add_block(pp.make_delay(TE))
    seq.add_block(pp.make_adc(4, dwell=_config.DWELL))
    return seq


def test_a_changed_attribute_of_a_user_module_retraces(tmp_path, monkeypatch):
    global _config
    (tmp_path / "user_config.py").write_text("DWELL = 1e-5\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import user_config
    monkeypatch.setattr(user_config, "DWELL", 1e-5)
    _config = user_config
    try:
        assert float(fid_reading_a_config_module(5e-3).to_pypulseq().get_block(2).adc.dwell) == 1e-5
        user_config.DWELL = 2e-5
        assert float(fid_reading_a_config_module(5e-3).to_pypulseq().get_block(2).adc.dwell) == 2e-5
    finally:
        _config = None
