"""Re-execution never returns a result a fresh trace would not.

Property: for random parameter values, re-executing a graph either gives
exactly what a fresh trace at those values gives (every event field, bit for
bit in numpy; the same mr0 sequence in torch), or its guards refuse (the
explicit graph raises GuardError, the traced call re-traces).
"""
import math
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import pulseqzero
from pulseqzero import GuardError
from pulseqzero.ir import events as ev
from tests.conftest import load_example

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))
from tse import tse  # noqa: E402

pp = pulseqzero.pp_impl
GRE = load_example("gre").gre


def trace(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pulseqzero.trace(fn).trace(*args, **kwargs)


def event_values(graph, env):
    """Every number the sequence consists of, in block order: (where, value)."""
    out = []
    for k, block in enumerate(graph.blocks):
        out.append((k, "duration", env[block.duration]))
        for e in block.events:
            fields = list(ev.VALUE_FIELDS[e.kind])
            nodes = [getattr(e, f) for f in fields]
            if e.kind == "rf":
                fields += [f"shape{j}" for j in range(len(ev.shape_nodes(e.shape)))]
                nodes += ev.shape_nodes(e.shape)
            out.extend((k, f"{e.kind}.{f}", env[n]) for f, n in zip(fields, nodes))
    for key, arg in graph.ir.definitions:
        out.append(("def", key, _arg_value(arg, env)))
    return out


def _arg_value(arg, env):
    if isinstance(arg, ev.ArgValue):
        return env[arg.node]
    if isinstance(arg, ev.ArgList):
        return [_arg_value(a, env) for a in arg.items]
    return getattr(arg, "value", None)


def same_bits(a, b) -> bool:
    if isinstance(a, list) or isinstance(b, list):
        return isinstance(a, list) and isinstance(b, list) and len(a) == len(b) and \
            all(same_bits(x, y) for x, y in zip(a, b))
    if isinstance(a, str) or isinstance(b, str) or a is None or b is None:
        return a == b
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and bool(np.all(((a == b) & (np.signbit(a) == np.signbit(b)))
                                              | (np.isnan(a) & np.isnan(b))))


def assert_same_sequence(graph, params, fresh):
    """graph re-executed at params == the fresh trace, in numpy and in mr0."""
    ours, theirs = event_values(graph, graph.evaluate(**params)), event_values(fresh, fresh.evaluate())
    assert len(ours) == len(theirs)
    for (k, name, a), (k2, name2, b) in zip(ours, theirs):
        assert (k, name) == (k2, name2)
        assert same_bits(a, b), f"block {k} {name}: re-executed {a!r}, fresh trace {b!r}"
    tensors = {n: torch.as_tensor(np.asarray(v, dtype=np.float64)) for n, v in params.items()}
    for x, y in zip(graph.to_mr0(**tensors), fresh.to_mr0()):
        for name in ("event_time", "gradm", "adc_phase", "adc_usage"):
            assert torch.equal(getattr(x, name), getattr(y, name)), name
        assert torch.equal(x.pulse.angle, y.pulse.angle) and torch.equal(x.pulse.phase, y.pulse.phase)


def check(fn, graph, params, static):
    """Re-execution equals a fresh trace, or the guards refuse (and the trace differs)."""
    try:
        graph.inputs(params)
        holds = True
    except GuardError:
        holds = False
    try:
        fresh = trace(fn, **params, **static)
    except (AssertionError, ValueError, ZeroDivisionError, OverflowError):
        assert not holds, "the guards hold where a fresh trace raises"
        return "refused"
    if holds:
        assert_same_sequence(graph, params, fresh)
        return "same"
    return "refused"


SEEN: dict = {}


@settings(max_examples=40, deadline=None)
@given(TR=st.floats(4e-3, 40e-3), TE=st.floats(1e-3, 20e-3),
       flips=st.lists(st.floats(0.0, 90.0), min_size=4, max_size=4))
def test_gre_reexecution_equals_a_fresh_trace_or_refuses(gre_small, TR, TE, flips):
    params = dict(TR=TR, TE=TE, flips=np.array(flips))
    SEEN.setdefault("gre", set()).add(check(GRE, gre_small, params, dict(Nx=8, Ny=4)))


@pytest.fixture(scope="module")
def gre_small():
    return trace(GRE, 12e-3, 5e-3, np.array([10.0, 20.0, 30.0, 40.0]), Nx=8, Ny=4)


@pytest.fixture(scope="module")
def tse_small():
    return trace(tse, 15e-3, 0.5, np.array([150.0, 160.0, 170.0, 180.0]), Nx=8, Ny=8, n_echo=4)


@settings(max_examples=30, deadline=None)
@given(TE=st.floats(5e-3, 40e-3), TR=st.floats(0.05, 1.0),
       refoc=st.lists(st.floats(90.0, 180.0), min_size=4, max_size=4))
def test_tse_reexecution_equals_a_fresh_trace_or_refuses(tse_small, TE, TR, refoc):
    params = dict(TE=TE, TR=TR, refoc_flips=np.array(refoc))
    SEEN.setdefault("tse", set()).add(check(tse, tse_small, params, dict(Nx=8, Ny=8, n_echo=4)))


def branchy(T, a):
    """A script that concretises its parameters in many ways: branches, counts, formats."""
    seq = pp.Sequence()
    seq.add_block(pp.make_block_pulse(flip_angle=a, duration=1e-3))
    n = int(T * 1e3)  # a count
    for _ in range(min(n, 6)):
        seq.add_block(pp.make_delay(T / max(n, 1)))
    if a > 1.0:  # a branch
        seq.add_block(pp.make_delay(1e-3))
    steps = math.ceil(T / 1e-4)  # traced integer
    seq.add_block(pp.make_delay(steps * 1e-4 - T + 1e-4))
    seq.add_block(pp.make_adc(4, dwell=1e-5))
    seq.set_definition("Name", f"T={T * 1e3:.1f}ms")  # a format
    seq.set_definition("TE", round(T, 4))
    return seq


@settings(max_examples=60, deadline=None)
@given(T=st.one_of(st.floats(2.95e-3, 3.15e-3), st.floats(1e-4, 8e-3)), a=st.floats(0.1, 2.0))
def test_a_branchy_script_reexecutes_exactly_or_refuses(branchy_graph, T, a):
    SEEN.setdefault("branchy", set()).add(check(branchy, branchy_graph, dict(T=T, a=a), {}))


@pytest.fixture(scope="module")
def branchy_graph():
    return trace(branchy, 3.05e-3, 0.5)


def test_both_outcomes_were_exercised():
    # (runs after the property tests in this module: both branches of `check` were taken)
    for name in ("gre", "tse", "branchy"):
        if name in SEEN:
            assert SEEN[name] == {"same", "refused"}, (name, SEEN[name])


def test_the_call_path_reexecutes_without_tracing_and_checks_guards_once(gre_module, monkeypatch):
    f = pulseqzero.trace(gre_module.gre)
    flips = np.linspace(5.0, 15.0, 4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f(12e-3, 5e-3, flips, Nx=8, Ny=4).to_mr0()
    graph = f._cache[next(iter(f._cache))][0].graph
    checks = []
    original = type(graph).check_guards
    monkeypatch.setattr(type(graph), "check_guards",
                        lambda self, *a, **k: (checks.append(self is graph), original(self, *a, **k))[1])
    for te in (5.1e-3, 5.2e-3, 5.3e-3):
        bound = f(12e-3, torch.tensor(te, dtype=torch.float64, requires_grad=True), flips, Nx=8, Ny=4)
        seq = bound.to_mr0()
        fresh = trace(gre_module.gre, 12e-3, te, flips, Nx=8, Ny=4).to_mr0()
        for x, y in zip(seq, fresh):
            assert torch.equal(x.event_time, y.event_time)
    assert f.trace_count == 1
    assert checks.count(True) == 3  # once per call, not again in to_mr0


def test_parameter_values_must_be_finite_numbers(gre_graph):
    """NaN, inf, strings and None are refused by name before anything is evaluated
    (issue 18 #8: they went on into the lowering, or gave a misleading GuardError)."""
    import torch
    for bad, error, text in [(float("nan"), ValueError, "TE is not finite"),
                             (torch.tensor(float("inf"), dtype=torch.float64), ValueError,
                              "TE is not finite"),
                             ("5e-3", TypeError, "parameter TE: a number"),
                             (None, TypeError, "parameter TE: a number")]:
        with pytest.raises(error, match=text):
            gre_graph.to_mr0(TE=bad)
    flips = np.full(16, 10.0)  # the gre_graph fixture: 16 lines
    flips[3] = np.inf
    with pytest.raises(ValueError, match="flips is not finite"):
        gre_graph.to_pypulseq(flips=flips)


def test_a_kept_call_result_checks_its_guards_after_an_in_place_change(gre_module):
    """issue 18 #3: ``b = gre(TR, TE, flips)``, then ``TE.fill_(1e-3)``: ``b.to_mr0()``
    gave the old timing silently; the script itself refuses a TE of 1 ms."""
    fn = pulseqzero.trace(gre_module.gre)
    TR = torch.tensor(12e-3, dtype=torch.float64)
    TE = torch.tensor(5e-3, dtype=torch.float64)
    flips = torch.full((8,), 10.0, dtype=torch.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kept = fn(TR, TE, flips, Nx=8, Ny=8)
    kept.to_mr0()
    with torch.no_grad():
        TE.fill_(5.5e-3)  # still a valid TE: the guards hold, the new value is used
    seq = kept.to_mr0()
    fresh = fn.trace(12e-3, 5.5e-3, np.full(8, 10.0), Nx=8, Ny=8).to_mr0()
    assert torch.equal(seq[1].event_time, fresh[1].event_time)
    with torch.no_grad():
        TE.fill_(1e-3)
    with pytest.raises(pulseqzero.GuardError):
        kept.to_mr0()
    with torch.no_grad():
        TE.fill_(float("nan"))
    with pytest.raises(ValueError, match="TE is not finite"):
        kept.to_mr0()
