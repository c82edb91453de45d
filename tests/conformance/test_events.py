"""Conformance: every event function against pypulseq 1.4.2, field by field, errors included.

Each call runs with plain numbers and again with its numeric arguments as
traced parameters: the traced run must compute the same numbers (its concrete
values) and raise the same errors.
"""
from __future__ import annotations

import numpy as np
import pypulseq
import pytest
from hypothesis import given, settings, strategies as st

import pulseqzero.pp as zpp
from pulseqzero.tracer import TraceContext

from . import strategies as S
from .helpers import NUMERIC, assert_conforms, assert_same_event, concrete

CASES = settings(max_examples=300, deadline=None)


def _traced_names(draw_flags, kwargs):
    numeric = [k for k, v in kwargs.items() if isinstance(v, NUMERIC) and not isinstance(v, bool)]
    return [k for k, flag in zip(numeric, draw_flags) if flag]


@CASES
@given(S.trapezoid_kwargs(), st.lists(st.booleans(), min_size=12, max_size=12))
def test_make_trapezoid(kwargs, flags):
    assert_conforms("make_trapezoid", kwargs)
    assert_conforms("make_trapezoid", kwargs, _traced_names(flags, kwargs))


@CASES
@given(S.sinc_kwargs(), st.lists(st.booleans(), min_size=14, max_size=14))
def test_make_sinc_pulse(kwargs, flags):
    assert_conforms("make_sinc_pulse", kwargs)
    assert_conforms("make_sinc_pulse", kwargs, _traced_names(flags, kwargs))


@CASES
@given(S.block_kwargs(), st.lists(st.booleans(), min_size=10, max_size=10))
def test_make_block_pulse(kwargs, flags):
    assert_conforms("make_block_pulse", kwargs)
    assert_conforms("make_block_pulse", kwargs, _traced_names(flags, kwargs))


@CASES
@given(S.adc_kwargs(), st.lists(st.booleans(), min_size=7, max_size=7))
def test_make_adc(kwargs, flags):
    assert_conforms("make_adc", kwargs)
    assert_conforms("make_adc", kwargs, [k for k in _traced_names(flags, kwargs) if k != "num_samples"])


@CASES
@given(S.delays, st.booleans())
def test_make_delay(d, traced):
    assert_conforms("make_delay", {"d": d}, ["d"] if traced else [])


@CASES
@given(S.trapezoid_kwargs(), S.sinc_kwargs(), S.adc_kwargs(), st.booleans())
def test_calc_duration(trap, sinc, adc, with_number):
    events = []
    for name, kw in (("make_trapezoid", trap), ("make_sinc_pulse", sinc), ("make_adc", adc)):
        try:
            with np.errstate(all="ignore"):
                ref = getattr(pypulseq, name)(**kw)
        except Exception:
            continue
        events.append((name, kw, ref if not isinstance(ref, tuple) else ref[0]))
    with TraceContext("calc_duration") as ctx:
        ours = [getattr(zpp, n)(**kw) for n, kw, _ in events]
        ours = [e if not isinstance(e, tuple) else e[0] for e in ours]
        refs = [r for _, _, r in events]
        extra = [2e-3] if with_number else []
        try:
            expected = pypulseq.calc_duration(*refs, *extra)
        except AssertionError:
            with pytest.raises(AssertionError):
                zpp.calc_duration(*ours, *extra)
            return
        assert concrete(zpp.calc_duration(*ours, *extra)) == expected
        del ctx


@pytest.mark.parametrize("kwargs", [
    {}, dict(max_grad=28, grad_unit="mT/m", max_slew=150, slew_unit="T/m/s"),
    dict(max_grad=32, grad_unit="mT/m", rise_time=100e-6), dict(grad_unit="rad/ms/mm", max_grad=0.1),
    dict(max_slew=100, slew_unit="mT/m/ms"), dict(slew_unit="rad/ms/mm/ms", max_slew=5),
    dict(rf_ringdown_time=30e-6, rf_dead_time=100e-6, adc_dead_time=20e-6, B0=2.89, gamma=-42.58e6),
    dict(grad_unit="T/m"), dict(slew_unit="Hz/m"),
])
def test_opts(kwargs):
    try:
        ref = pypulseq.Opts(**kwargs)
    except ValueError as e:
        with pytest.raises(ValueError, match=str(e)[:30]):
            zpp.Opts(**kwargs)
        return
    ours = zpp.Opts(**kwargs)
    assert vars(ours) == vars(ref)
    assert str(ours) == str(ref)


def test_opts_default_is_our_own():
    before = vars(pypulseq.Opts.default).copy()
    mine = zpp.Opts(max_grad=20, grad_unit="mT/m")
    mine.set_as_default()
    try:
        assert zpp.Opts().max_grad == mine.max_grad
        assert vars(pypulseq.Opts.default) == before
    finally:
        zpp.Opts.reset_default()
    assert vars(zpp.Opts.default) == vars(pypulseq.Opts.default)


def test_event_attributes_and_copy():
    ref = pypulseq.make_trapezoid("x", area=10.0)
    with TraceContext("copy"):
        ours = zpp.make_trapezoid("x", area=10.0)
        import copy
        other = copy.deepcopy(ours)
        other.amplitude = 3.0
        assert ours.amplitude == ref.amplitude
        assert_same_event(ours, ref)
        assert "amplitude=" in repr(ours)
