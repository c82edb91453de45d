"""Conformance of the gradient, RF, label and trigger functions against pypulseq 1.4.2.

Each generated call runs in pypulseq and in pulseqzero, once with plain values
and once with a drawn subset of its arguments traced: numbers, float vectors
(``signal``, ``waveform``, ``times``, ``amplitudes``) and single items of list
arguments (a list holding traced values). Every attribute of every returned
event must be equal, and the same calls must raise the same error.

Equality is exact (``==`` element-wise, NaN equal to NaN, so ``-0.0 == 0.0``),
complex waveforms included. No tolerance was needed.
"""
from __future__ import annotations

import warnings

import numpy as np
import pypulseq
import pytest
from hypothesis import given, settings, strategies as st

import pulseqzero.pp as zpp
from pulseqzero.pp.version import API_15
from pulseqzero.tracer import TraceContext, Tracer, value_of

from . import strategies_more as M
from .helpers import concrete, run_reference

CASES = settings(max_examples=150, deadline=None)
FEW = settings(max_examples=40, deadline=None)


# ----------------------------------------------------------------- running and comparing

def _traceable(value) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return False
    if isinstance(value, (int, float, np.integer, np.floating)):
        return True
    if isinstance(value, np.ndarray):
        return value.dtype.kind == "f" and value.ndim >= 1
    return isinstance(value, list) and any(isinstance(v, float) for v in value)


def _trace(ctx, name, value):
    """A traced version of an argument: a param, or a list with every other float traced."""
    if isinstance(value, list):
        return [ctx.new_param(f"{name}{i}", v) if isinstance(v, float) and i % 2 == 0 else v
                for i, v in enumerate(value)]
    return ctx.new_param(name, value)


def traced_names(flags, kwargs) -> list:
    names = [k for k, v in kwargs.items() if _traceable(v)]
    return [k for k, flag in zip(names, flags) if flag]


def run_ours(name, kwargs, traced=()):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with TraceContext("conformance", mode="trace") as ctx:
            kw = {k: (_trace(ctx, k, v) if k in traced else v) for k, v in kwargs.items()}
            try:
                return "ok", getattr(zpp, name)(**kw)
            except Exception as e:  # compared with pypulseq's error below
                return "error", e


def same(a, b) -> bool:
    """Equal values: element-wise ``==`` (complex too), NaN equal to NaN."""
    a, b = concrete(a), concrete(b)
    if isinstance(a, Tracer) or isinstance(b, Tracer):
        return False
    if isinstance(a, (str, type(None))) or isinstance(b, (str, type(None))):
        return a == b
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return False
    if a.dtype.kind in "biufc" and b.dtype.kind in "biufc":
        return bool(np.all((a == b) | (np.isnan(a) & np.isnan(b))))
    return bool(np.all(a == b))


def assert_same_result(ours, ref, where):
    if isinstance(ref, tuple):
        assert isinstance(ours, tuple) and len(ours) == len(ref), where
        for i, (o, r) in enumerate(zip(ours, ref)):
            assert_same_result(o, r, f"{where}[{i}]")
    elif hasattr(ref, "__dict__") and not isinstance(ref, type):
        for key, value in vars(ref).items():
            assert hasattr(ours, key), f"{where}: missing attribute {key}"
            assert same(getattr(ours, key), value), (
                f"{where}: {key}: ours {concrete(getattr(ours, key))!r} != pypulseq {value!r}")
        extra = set(vars(ours)) - set(vars(ref))
        assert not extra, f"{where}: attributes pypulseq does not have: {extra}"
    else:
        assert same(ours, ref), f"{where}: {concrete(ours)!r} != {ref!r}"


def assert_conforms(name, kwargs, traced=()):
    """Same fields (exactly), or the same error type with pypulseq's message."""
    ref_status, ref = run_reference(name, kwargs)
    status, ours = run_ours(name, kwargs, traced)
    where = f"{name}({kwargs}) traced={tuple(traced)}"
    if ref_status == "error":
        assert status == "error", f"{where}: pypulseq raises {ref!r}, ours returns {ours!r}"
        assert type(ours) is type(ref), f"{where}: {ours!r} vs {ref!r}"
        message = str(ours).replace("'Tracer'", "'float'")
        assert str(ref) in message, f"{where}: message {str(ours)!r} lacks {str(ref)!r}"
        return
    assert status == "ok", f"{where}: pypulseq returns, ours raises {ours!r}"
    assert_same_result(ours, ref, where)


flags = st.lists(st.booleans(), min_size=20, max_size=20)


def check_both(name, kwargs, drawn_flags):
    assert_conforms(name, kwargs)
    assert_conforms(name, kwargs, traced_names(drawn_flags, kwargs))


# ----------------------------------------------------------------- events

@CASES
@given(M.gauss_kwargs(), flags)
def test_make_gauss_pulse(kwargs, drawn):
    check_both("make_gauss_pulse", kwargs, drawn)


@CASES
@given(M.arbitrary_rf_kwargs(), flags)
def test_make_arbitrary_rf(kwargs, drawn):
    check_both("make_arbitrary_rf", kwargs, drawn)


@CASES
@given(M.arbitrary_grad_kwargs(), flags)
def test_make_arbitrary_grad(kwargs, drawn):
    check_both("make_arbitrary_grad", kwargs, drawn)


@CASES
@given(M.extended_trapezoid_kwargs(), flags)
def test_make_extended_trapezoid(kwargs, drawn):
    check_both("make_extended_trapezoid", kwargs, drawn)


@settings(max_examples=60, deadline=None)
@given(M.extended_trapezoid_area_kwargs(), flags)
def test_make_extended_trapezoid_area(kwargs, drawn):
    check_both("make_extended_trapezoid_area", kwargs, drawn)


@CASES
@given(M.points_to_waveform_kwargs(), flags)
def test_points_to_waveform(kwargs, drawn):
    check_both("points_to_waveform", kwargs, drawn)


@CASES
@given(M.label_kwargs(), st.booleans())
def test_make_label(kwargs, traced):
    # a traced value stands for a Python number (numpy's int64 / bool_ are refused untraced)
    python_number = type(kwargs["value"]) in (int, float)
    check_both("make_label", kwargs, [traced and python_number])


@CASES
@given(M.trigger_kwargs(), flags)
def test_make_trigger(kwargs, drawn):
    check_both("make_trigger", kwargs, drawn)


@CASES
@given(M.output_kwargs(), flags)
def test_make_digital_output_pulse(kwargs, drawn):
    check_both("make_digital_output_pulse", kwargs, drawn)


def test_label_values_may_be_traced_truths_and_counts():
    """``make_label(..., gx.amplitude < 0)`` and an int-valued traced count are accepted."""
    with TraceContext("labels") as ctx:
        amplitude = ctx.new_param("amplitude", -3.0)
        twice = round(amplitude * 2)
        guards = len(ctx.guards)
        flag = zpp.make_label("REV", "SET", amplitude < 0)
        count = zpp.make_label("LIN", "INC", twice)
        # (1.5 stores int(value): of a traced bool or int that is itself, still traced)
        assert flag.value.kind == "b" and count.value.kind == "i"
        assert len(ctx.guards) == guards  # no guard: the label follows the parameter
        if API_15:  # a traced float is truncated, as int(-1.5) == -1
            truncated = zpp.make_label("LIN", "SET", amplitude * 0.5)
            assert truncated.value.kind == "i" and int(value_of(truncated.value)) == -1
            assert pypulseq.make_label("LIN", "SET", -1.5).value == -1
        assert_same_result(flag, pypulseq.make_label("REV", "SET", -3.0 < 0), "bool")
        assert_same_result(count, pypulseq.make_label("LIN", "INC", round(-6.0)), "int")
        with pytest.raises(ValueError, match="valid numerical or logical value"):
            zpp.make_label("LIN", "SET", ctx.new_param("vector", [1.0, 2.0]))


# ----------------------------------------------------------------- centre and bandwidth

def _pulse_pair(name, kwargs, traced):
    """pypulseq's pulse and ours (numeric arguments traced when asked), in a live trace."""
    ref = getattr(pypulseq, name)(**kwargs)
    ctx = TraceContext("rf")
    with ctx:
        kw = {k: (_trace(ctx, k, v) if traced and _traceable(v) and not np.iscomplexobj(v) else v)
              for k, v in kwargs.items()}
        ours = getattr(zpp, name)(**kw)
    return ref, ours, ctx


@CASES
@given(M.rf_pulse_calls(), st.booleans())
def test_calc_rf_center(call, traced):
    ref, ours, ctx = _pulse_pair(*call, traced)
    with ctx:
        expected = pypulseq.calc_rf_center(ref)
        assert_same_result(zpp.calc_rf_center(ours), expected, f"{call} traced={traced}")
        assert_same_result(zpp.calc_rf_center(ref), expected, "on pypulseq's own event")


@FEW
@given(M.rf_pulse_calls(), st.booleans(), st.sampled_from([0.5, 0.25]),
       st.sampled_from([(False, False), (True, False), (False, True)]))
def test_calc_rf_bandwidth(call, traced, cutoff, returns):
    ref, ours, ctx = _pulse_pair(*call, traced)
    options = dict(cutoff=cutoff, return_spectrum=returns[0], return_axis=returns[1])
    with ctx, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert_same_result(zpp.calc_rf_bandwidth(ours, **options),
                           pypulseq.calc_rf_bandwidth(ref, **options), f"{call} traced={traced}")
