"""Conformance: the gradient helpers against pypulseq 1.4.2, field by field, errors included.

Input events are built twice from the same recipe: with pypulseq for the
reference and with ``pulseqzero.pp`` inside a trace for ours. Each call runs
with plain numbers and again with numeric arguments (of the call and of the
input events) as traced parameters. Equality is exact: the traced run must
compute pypulseq's floats bit for bit and raise pypulseq's errors. The input
events are compared after the call too (``split_gradient`` rounds its
trapezoid in place, as pypulseq does).
"""
from __future__ import annotations

import random
import warnings

import numpy as np
import pypulseq
import pytest
from hypothesis import assume, given, settings, strategies as st

import pulseqzero.pp as zpp
from pulseqzero.pp.version import API_15
from pulseqzero.tracer import TraceContext, Tracer

from . import strategies_grad as G
from .helpers import assert_same_event, concrete, same_value

CASES = settings(max_examples=120, deadline=None)


def _plain(_name, value):
    return value


def _tracing(ctx, rnd: random.Random):
    """Numeric arguments become parameters, each with probability 1/2."""
    def P(name, value):
        if isinstance(value, bool) or name.endswith("num_samples") or value is None:
            return value
        numeric = isinstance(value, (float, np.floating)) or (
            isinstance(value, np.ndarray) and value.dtype.kind == "f" and value.ndim == 1)
        if numeric and rnd.random() < 0.5:
            return ctx.new_param(name, value)
        return value
    return P


def build(module, recipes, P):
    events = []
    for i, (maker, kw) in enumerate(recipes):
        kw = {k: P(f"e{i}_{k}", v) for k, v in kw.items()}
        events.append(getattr(module, maker)(**kw))
    return events


def _run(fn):
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            return "ok", fn()
        except Exception as e:  # the reference decides what raises
            return "error", e


def _same_output(ours, ref, where):
    if isinstance(ref, (list, tuple)):
        assert isinstance(ours, type(ref)) and len(ours) == len(ref), \
            f"{where}: {ours!r} vs {ref!r}"
        for i, (o, r) in enumerate(zip(ours, ref)):
            _same_output(o, r, f"{where}[{i}]")
    elif hasattr(ref, "__dict__") and not isinstance(ref, type):
        assert_same_event(ours, ref, where)
    else:
        assert same_value(ours, ref), f"{where}: {concrete(ours)!r} != {ref!r}"


def check(recipes, call, rnd_seed=0, modes=(False, True)):
    """``call(module, events, P)`` with pypulseq and with pulseqzero (plain and traced)."""
    status, ref_events = _run(lambda: build(pypulseq, recipes, _plain))
    if status != "ok":
        assume(False)
    ref_status, ref = _run(lambda: call(pypulseq, ref_events, _plain))
    for traced in modes:
        with TraceContext("conformance") as ctx:
            P = _tracing(ctx, random.Random(rnd_seed)) if traced else _plain
            status, ours_events = _run(lambda: build(zpp, recipes, P))
            assert status == "ok", f"building {recipes}: {ours_events!r}"
            status, ours = _run(lambda: call(zpp, ours_events, P))
            where = f"{recipes} traced={traced}"
            if ref_status == "error":
                assert status == "error", f"{where}: pypulseq raises {ref!r}, ours returns {ours!r}"
                assert type(ours) is type(ref), f"{where}: {ours!r} vs {ref!r}"
                message = str(ours).replace("'Tracer'", "'float'")
                assert str(ref) in message, f"{where}: {str(ours)!r} lacks {str(ref)!r}"
            else:
                assert status == "ok", f"{where}: pypulseq returns, ours raises {ours!r}"
                _same_output(ours, ref, where)
                _same_identity(ours, ours_events, ref, ref_events, where)
                _snapshot(ctx, ours)
            for i, (o, r) in enumerate(zip(ours_events, ref_events)):  # in-place changes
                assert_same_event(o, r, f"{where}: input {i} after the call")
    return ref_status, ref


def _same_identity(ours, ours_events, ref, ref_events, where):
    """An input returned unchanged (rotate's bypass) is the same object, as in pypulseq."""
    if isinstance(ref, (list, tuple)):
        for o, r in zip(ours, ref):
            for oe, re_ in zip(ours_events, ref_events):
                assert (o is oe) == (r is re_), f"{where}: identity differs"


def _snapshot(ctx, result):
    """Every event we return can be added to a block (snapshotted into the IR)."""
    from pulseqzero.pp.events import Event, to_ir
    for ev in result if isinstance(result, (list, tuple)) else [result]:
        if isinstance(ev, Event):
            to_ir(ctx, ev)


# ------------------------------------------------------------------ event helpers

@CASES
@given(G.gradient(), st.one_of(st.floats(-3, 3), st.sampled_from([0.0, 1.0, -1.0])),
       st.integers(0, 99))
def test_scale_grad(recipe, scale, seed):
    check([recipe], lambda m, e, P: m.scale_grad(e[0], P("scale", scale)), seed)


@CASES
@given(G.gradient_group(), st.integers(0, 99), st.booleans())
def test_add_gradients(recipes, seed, with_system):
    system = pypulseq.Opts(max_grad=80, grad_unit="mT/m", max_slew=300, slew_unit="T/m/s")

    def call(m, e, P):
        if with_system:
            return m.add_gradients(e, system=system)
        return m.add_gradients(grads=e)
    check(recipes, call, seed)


_TRAP = "make_trapezoid"


@pytest.mark.parametrize("recipes", [
    # 1e-4 + 2e-4 != 3e-4: corner times closer than eps are merged (pypulseq's index shift)
    [(_TRAP, dict(channel="x", amplitude=1e5, rise_time=1e-4, flat_time=2e-4)),
     (_TRAP, dict(channel="x", amplitude=2e5, rise_time=3e-4, flat_time=1e-4))],
    [(_TRAP, dict(channel="y", amplitude=-1e5, rise_time=1e-4, flat_time=2e-4, delay=1e-4)),
     (_TRAP, dict(channel="y", amplitude=2e5, rise_time=4e-4, flat_time=1e-4)),
     # (3e4 Hz/m in 10 us: within the default slew, which pypulseq 1.5 checks on the ramps)
     (_TRAP, dict(channel="y", amplitude=3e4, rise_time=1e-5, flat_time=2e-5, delay=3e-4))],
    [(_TRAP, dict(channel="z", amplitude=1e5, rise_time=1e-4, flat_time=2e-4)),
     ("make_extended_trapezoid", dict(channel="z", times=np.array([0, 1e-4, 3e-4, 5e-4]),
                                      amplitudes=np.array([0, 2e5, 1e5, 0])))],
])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_add_gradients_merges_close_times(recipes, seed):
    check(recipes, lambda m, e, P: m.add_gradients(e), seed)


@CASES
@given(G.gradient(), st.integers(0, 99))
def test_add_gradients_of_one(recipe, seed):
    check([recipe], lambda m, e, P: m.add_gradients([e[0]]), seed)


def test_add_gradients_of_none():
    check([], lambda m, e, P: m.add_gradients([]))


@CASES
@given(st.lists(st.one_of(G.gradient(), G.other_event()), min_size=0, max_size=4),
       st.one_of(st.floats(-7, 7), st.sampled_from([0.0, np.pi / 2, np.pi, 1e-9])),
       st.sampled_from(["x", "y", "z", "z", "q"]), st.integers(0, 99))
def test_rotate(recipes, angle, axis, seed):
    check(recipes, lambda m, e, P: m.rotate(*e, angle=P("angle", angle), axis=axis), seed)


@CASES
@given(st.lists(st.one_of(G.gradient(), G.other_event()), min_size=1, max_size=4),
       st.lists(st.sampled_from(["left", "center", "right", "right", "middle"]), min_size=1,
                max_size=4), st.booleans(), st.integers(0, 99))
def test_align(recipes, specs, as_single, seed):
    def call(m, e, P):
        groups = {}
        for ev, spec in zip(e, specs * len(e)):
            groups.setdefault(spec, []).append(ev)
        kwargs = {k: (v[0] if as_single and len(v) == 1 else v) for k, v in groups.items()}
        return m.align(**kwargs)
    check(recipes, call, seed)


@CASES
@given(st.one_of(G.gradient(), G.other_event()), st.integers(0, 99))
def test_split_gradient(recipe, seed):
    check([recipe], lambda m, e, P: m.split_gradient(e[0]), seed)


@CASES
@given(st.one_of(G.gradient(), G.gradient(), G.other_event()),
       st.one_of(st.integers(-2, 120).map(lambda n: n * G.RASTER), st.floats(-1e-4, 1.5e-3)),
       st.booleans(), st.integers(0, 99))
def test_split_gradient_at(recipe, time_point, with_system, seed):
    system = pypulseq.Opts(max_grad=80, grad_unit="mT/m", max_slew=300, slew_unit="T/m/s")

    def call(m, e, P):
        if with_system:
            return m.split_gradient_at(e[0], P("time_point", time_point), system=system)
        return m.split_gradient_at(grad=e[0], time_point=P("time_point", time_point))
    check([recipe], call, seed)


def test_split_gradient_at_arbitrary_gradient_of_one_sample():
    """The one branch where pypulseq treats a gradient as arbitrary: a single sample."""
    recipe = ("make_arbitrary_grad", dict(channel="x", waveform=np.array([1e4])))
    with pytest.raises(Exception):  # pypulseq's own make_arbitrary_grad needs two samples
        pypulseq.make_arbitrary_grad(**recipe[1])
    for t in (0.0, 1e-5, 3e-5, -2e-5):
        grad = pypulseq.make_extended_trapezoid("x", times=np.array([0, 1e-5]),
                                                amplitudes=np.array([0, 1e4]))
        grad.tt = np.array([0.5e-5])
        grad.waveform = np.array([2e4])
        ref_status, ref = _run(lambda: pypulseq.split_gradient_at(grad, t))
        with TraceContext("one sample"):
            ours_grad = zpp.make_extended_trapezoid("x", times=np.array([0, 1e-5]),
                                                    amplitudes=np.array([0, 1e4]))
            ours_grad.tt = np.array([0.5e-5])
            ours_grad.waveform = np.array([2e4])
            status, ours = _run(lambda: zpp.split_gradient_at(ours_grad, t))
        assert status == ref_status, (t, ref, ours)
        if status == "ok":
            _same_output(ours, ref, f"t={t}")
        else:
            assert type(ours) is type(ref) and str(ref) in str(ours)


@pytest.mark.parametrize("n", [1, 2, 4])
@pytest.mark.parametrize("time_point", [1e-5, -1e-5, -2e-5])
def test_split_gradient_at_arbitrary_gradient_with_t(n, time_point):
    """Given a ``t`` (which pypulseq's gradients lack), the arbitrary branch runs through
    (for a negative time index: a one-sample ``tt`` leaves no index inside)."""
    def make(m):
        grad = m.make_extended_trapezoid("x", times=np.array([0, 1e-5]),
                                         amplitudes=np.array([0, 1e4]))
        grad.tt = np.array([0.5e-5])
        grad.waveform = np.linspace(1e4, 2e4, n)
        grad.t = np.arange(n) * 1e-5
        return grad
    ref_status, ref = _run(lambda: pypulseq.split_gradient_at(make(pypulseq), time_point))
    with TraceContext("with t"):
        status, ours = _run(lambda: zpp.split_gradient_at(make(zpp), time_point))
    assert status == ref_status, (ref, ours)
    if status == "ok":
        _same_output(ours, ref, f"n={n}")
        if isinstance(ref, tuple):
            assert (ours[0] is ours[1]) == (ref[0] is ref[1])
    else:
        assert type(ours) is type(ref) and str(ref) in str(ours)


# ------------------------------------------------------------------ arrays

@CASES
@given(st.one_of(
    st.lists(st.floats(-1e3, 1e3), min_size=0, max_size=12).map(np.array),
    st.tuples(st.integers(1, 3), st.integers(0, 10)).flatmap(
        lambda s: st.lists(st.floats(-1e3, 1e3), min_size=s[0] * s[1], max_size=s[0] * s[1]).map(
            lambda v: np.array(v).reshape(s)))),
    st.one_of(st.none(), st.sampled_from([1e-5, 4e-6]), st.floats(1e-6, 1e-4)),
    st.booleans(), st.booleans())
def test_traj_to_grad(k, raster_time, trace_k, trace_raster):
    ref_status, ref = _run(lambda: pypulseq.traj_to_grad(k, raster_time))
    for traced in (False, True):
        with TraceContext("traj") as ctx:
            kk = ctx.new_param("k", k) if traced and trace_k and k.size else k
            rt = (ctx.new_param("raster", raster_time)
                  if traced and trace_raster and raster_time is not None else raster_time)
            status, ours = _run(lambda: zpp.traj_to_grad(kk, rt))
        if ref_status == "error":
            assert status == "error" and type(ours) is type(ref), (ours, ref)
            assert str(ref) in str(ours), (ours, ref)
            continue
        assert status == "ok", ours
        for o, r in zip(ours, ref):
            o = concrete(o)
            o = o.value if isinstance(o, Tracer) else o
            assert np.shape(o) == r.shape and np.array_equal(o, r, equal_nan=True), (o, r)


@CASES
@given(G.k_pair(), G.limits, G.limits, st.one_of(st.just(500), st.integers(-1, 3)),
       st.booleans(), st.booleans())
def test_calc_ramp(ks, max_grad, max_slew, max_points, with_system, traced_k):
    k0, k_end = ks
    kw = {"max_points": max_points}
    if max_grad is not None:
        kw["max_grad"] = max_grad
    if max_slew is not None:
        kw["max_slew"] = max_slew
    if with_system:
        kw["system"] = pypulseq.Opts(max_grad=30, grad_unit="mT/m", max_slew=120,
                                     slew_unit="T/m/s")
    ref_status, ref = _run(lambda: pypulseq.calc_ramp(k0, k_end, **kw))
    for traced in (False, True):
        with TraceContext("ramp") as ctx:
            a = ctx.new_param("k0", k0) if traced and traced_k else k0
            b = ctx.new_param("k_end", k_end) if traced else k_end
            status, ours = _run(lambda: zpp.calc_ramp(a, b, **kw))
        if ref_status == "error":
            assert status == "error" and type(ours) is type(ref), (ours, ref)
            assert str(ref) in str(ours), (ours, ref)
            continue
        assert status == "ok", ours
        k_out, success = ours
        assert np.array_equal(concrete(k_out), ref[0]) and k_out.shape == ref[0].shape
        assert bool(concrete(success)) == bool(ref[1])


def test_calc_ramp_in_one_dimension():
    """One k-space axis: pypulseq 1.4.2 recurses with a float point count until Python's
    recursion limit (the message depends on where the limit is hit: the type is compared),
    or connects directly."""
    cases = [([[0, 10]], [[300, 303]]), ([[0, 1.0]], [[1.5, 2.5]])]
    for k0, k_end in cases:
        k0, k_end = np.array(k0, float), np.array(k_end, float)
        ref_status, ref = _run(lambda: pypulseq.calc_ramp(k0, k_end))
        with TraceContext("ramp 1d") as ctx:
            status, ours = _run(lambda: zpp.calc_ramp(ctx.new_param("k0", k0), k_end))
        assert status == ref_status and type(ours) is type(ref), (ours, ref)
        if status == "ok":
            assert np.array_equal(ours[0], ref[0]) and bool(ours[1]) == bool(ref[1])


# ------------------------------------------------------------------ calc_SAR

def test_calc_sar_is_disabled_while_recording(tmp_path):
    """The seed's table: ``(True, [])``, saying so once; a missing file raises pypulseq's
    error. PyPulseq 1.5 removed calc_SAR: ours raises its error, traced or not."""
    if API_15:
        with pytest.raises(RuntimeError) as ref:
            pypulseq.calc_SAR(str(tmp_path / "nothing.seq"))
        with TraceContext("sar"):
            with pytest.raises(RuntimeError) as ours:
                zpp.calc_SAR(zpp.Sequence())
        assert str(ours.value) == str(ref.value) and "PySar4seq" in str(ours.value)
        return
    with TraceContext("sar"):
        seq = zpp.Sequence()
        seq.add_block(zpp.make_block_pulse(0.5, duration=1e-3))
        with pytest.warns(UserWarning, match="calc_SAR is not evaluated"):
            assert zpp.calc_SAR(seq) == (True, [])
        missing = tmp_path / "nothing.seq"
        with pytest.raises(ValueError) as ours:
            zpp.calc_SAR(str(missing))
    with pytest.raises(ValueError) as ref:
        pypulseq.calc_SAR(str(missing))
    assert str(ours.value) == str(ref.value)
