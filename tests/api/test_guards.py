"""Guards, complete: every way Python concretises a traced value is traced or guarded.

For each path a small sequence script concretises the parameter ``x`` on a
line marked ``# <-``: the graph records a guard naming that line; a value that
keeps the guard re-executes to what a fresh trace gives; a value that breaks
it raises GuardError (explicit graph) or re-traces with one log line (call).
"""
import copy
import inspect
import logging
import math
import pickle
import warnings

import numpy as np
import pytest
import torch

import pulseqzero
from pulseqzero import GuardError
from pulseqzero.ir.evaluate import Plan, guard_failures
from pulseqzero.ir.graph import Guard
from pulseqzero.tracer import TraceContext, Tracer, value_of

pp = pulseqzero.pp_impl


def seq_of(*delays):
    """A sequence whose blocks show a concrete outcome: one delay block per value."""
    seq = pp.Sequence()
    seq.add_block(pp.make_block_pulse(flip_angle=0.5, duration=1e-3))
    for d in delays:
        seq.add_block(pp.make_delay(d))
    seq.add_block(pp.make_adc(4, dwell=1e-5))
    return seq


# -- one script per concretisation path; the marked line concretises x --------------

def cond_if(x):
    if x > 2.0:  # <-
        return seq_of(1e-3, x * 1e-3)
    return seq_of(x * 1e-3)


def cond_while(x):
    delays, t = [], 0.0
    while t < x:  # <-
        t = t + 1.0
        delays.append(1e-3)
    return seq_of(*delays)


def cond_chained(x):
    return seq_of(2e-3 if 1.0 < x < 3.0 else 1e-3)  # <-


def cond_assert(x):
    assert x > 0.5, "x too small"  # <-
    return seq_of(x * 1e-3)


def cond_builtin_max(x):
    return seq_of(max(x, 2.0) * 1e-3)  # <-


def cond_any(x):
    return seq_of(3e-3 if any([x > 4.0, x < 0.0]) else 1e-3)  # <-


def as_int(x):
    return seq_of(*[1e-3] * int(x))  # <-


def as_index(x):
    n = math.ceil(x)  # a traced integer
    return seq_of(*[1e-3] * len(range(n)))  # <-


def list_index(x):
    table = [1e-3, 2e-3, 3e-3, 4e-3, 5e-3]
    return seq_of(table[math.floor(x)])  # <-


def as_float(x):
    return seq_of(math.sqrt(x) * 1e-3)  # <-


def as_format(x):
    seq = seq_of(x * 1e-3)
    seq.set_definition("Name", f"x={x:.1f}")  # <-
    return seq


def as_str(x):
    seq = seq_of(x * 1e-3)
    seq.set_definition("Name", "x=" + str(x))  # <-
    return seq


def as_percent(x):
    seq = seq_of(x * 1e-3)
    seq.set_definition("Name", "x=%d" % x)  # <-
    return seq


def vector_format(x):
    seq = seq_of(x * 1e-3)
    seq.set_definition("Name", f"v={np.stack([x, 2 * x])}")  # <-
    return seq


def dict_key(x):
    return seq_of({1.5: 1e-3, 2.5: 2e-3}.get(x, 3e-3))  # <-


def set_membership(x):
    return seq_of(2e-3 if x in {1.5, 2.5} else 1e-3)  # <-


def list_membership(x):
    return seq_of(2e-3 if x in [1.5, 2.5] else 1e-3)  # <-


def array_membership(x):
    return seq_of(2e-3 if x in np.array([1.5, 2.5]) else 1e-3)  # <-


def numpy_scalar(x):
    return seq_of(np.float64(x) * 1e-3)  # <-


def numpy_untraced(x):
    return seq_of(np.interp(x, [0.0, 10.0], [1e-3, 2e-3]))  # <-


def torch_untraced(x):
    return seq_of(float(torch.special.expit(torch.as_tensor(float(x)))) * 1e-3)  # <-


def ufunc_method(x):
    return seq_of(np.add.reduce([x, x]) * 1e-3)  # <-


def array_pinned(x):
    v = np.stack([x, 2 * x])
    return seq_of(float(np.asarray(v)[1]) * 1e-3)  # <-


def pickled(x):
    return seq_of(pickle.loads(pickle.dumps(x)) * 1e-3)  # <-


def ceil_to_int(x):  # math.ceil raises for nan / inf in Python: guarded finite
    # (an infinite parameter is refused before any guard; an infinity computed from a
    # finite one is what this guard is for: 1e308 * 2.0 overflows)
    n = math.ceil(1e308 * x)  # <-
    return seq_of(x * 1e-3 + 0 * n)


def divide(x):  # Python raises for a division by zero: guarded non-zero
    return seq_of(1e-3 / (x - 1.0))  # <-


# (script, traced at, a value that keeps the guard, a value that breaks it)
PATHS = {
    "if": (cond_if, 1.5, 1.7, 2.5), "while": (cond_while, 1.5, 1.8, 2.5),
    "chained comparison": (cond_chained, 1.5, 2.0, 3.5), "assert": (cond_assert, 1.5, 1.0, 0.2),
    "builtin max": (cond_builtin_max, 1.5, 1.2, 2.5), "any()": (cond_any, 1.5, 2.0, 5.0),
    "int()": (as_int, 2.5, 2.7, 3.5), "__index__ (range/len)": (as_index, 1.5, 1.9, 2.5),
    "list index": (list_index, 1.5, 1.9, 2.5), "float() via math.sqrt": (as_float, 1.5, None, 1.6),
    "format": (as_format, 1.5, 1.54, 1.56), "str()": (as_str, 1.5, None, 1.6),
    "%-format": (as_percent, 2.5, 2.9, 3.1), "f-string of a vector": (vector_format, 1.5, None, 1.6), "dict key (hash)": (dict_key, 1.5, None, 2.5),
    "set membership (hash)": (set_membership, 1.5, None, 1.7),
    "list membership (in)": (list_membership, 1.5, None, 2.5),
    "array membership (in)": (array_membership, 1.5, None, 2.5),
    "np.float64()": (numpy_scalar, 1.5, None, 1.6), "untraced numpy": (numpy_untraced, 1.5, None, 1.6),
    "untraced torch": (torch_untraced, 1.5, None, 1.6), "ufunc method": (ufunc_method, 1.5, None, 1.6),
    "__array__ of a vector": (array_pinned, 1.5, None, 1.6), "pickle": (pickled, 1.5, None, 1.6),
    "math.ceil (finite)": (ceil_to_int, 1.5, 1.6, 2.0),
    "division (non-zero)": (divide, 1.5, 2.0, 1.0),
}


def marked_line(fn) -> str:
    lines, start = inspect.getsourcelines(fn)
    k = next(i for i, text in enumerate(lines) if text.rstrip().endswith("# <-"))
    return f"test_guards.py:{start + k}"


def trace(fn, x):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pulseqzero.trace(fn).trace(x)


def numbers(graph, **params):
    env = graph.evaluate(**params)
    return [float(env[b.duration]) for b in graph.blocks], \
        [d for d in graph.ir.definitions if d[0] == "Name"]


def literal_names(graph):
    return [a.value for k, a in graph.ir.definitions if k == "Name"]


@pytest.mark.parametrize("path", sorted(PATHS))
def test_every_concretisation_is_guarded_with_the_script_line(path, caplog):
    fn, x0, keep, brk = PATHS[path]
    line = marked_line(fn)
    graph = trace(fn, x0)
    assert any(g.line.endswith(line) for g in graph.guards), \
        f"no guard at {line}: {[g.describe() for g in graph.guards]}"
    # a value that keeps every guard re-executes to exactly what a fresh trace gives
    if keep is not None:
        fresh = trace(fn, keep)
        assert numbers(graph, x=keep)[0] == numbers(fresh)[0]
        assert literal_names(graph) == literal_names(fresh)
    # a value that breaks it: GuardError on the graph path, naming the line ...
    with pytest.raises(GuardError, match=line) as info:
        graph.to_mr0(x=brk)
    assert any(g.line.endswith(line) for _, g in info.value.failed)
    # ... and one log line + a new trace on the call path (which raises where Python raises)
    try:
        trace(fn, brk)
        error = None
    except Exception as e:  # noqa: BLE001 - whatever the script raises at that value
        error = type(e)
    f = pulseqzero.trace(fn)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f(x0)
        with caplog.at_level(logging.WARNING, logger="pulseqzero"):
            if error is None:
                f(brk)
                assert f.trace_count == 2
            else:
                with pytest.raises(error):
                    f(brk)
    records = [r for r in caplog.records if "re-tracing" in r.getMessage()]
    assert len(records) == 1 and fn.__name__ in records[0].getMessage()
    assert "test_guards.py:" in records[0].getMessage()


# ---------------------------------------------------------------- traced, not guarded

def test_len_and_shapes_are_static_not_guarded():
    with TraceContext("t") as ctx:
        v = ctx.new_param("v", np.array([1.0, 2.0, 3.0]))
        assert len(v) == 3 and v.shape == (3,) and np.shape(v) == (3,) and np.size(v) == 3
        assert ctx.guards == []

    @pulseqzero.trace
    def by_length(v):
        return seq_of(*[1e-3 * v[k] for k in range(len(v))])

    graph = by_length.trace(np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match="shape"):
        graph.to_mr0(v=np.ones(3))  # a shape is structure: another graph
    by_length(np.array([1.0, 2.0]))
    by_length(np.ones(3))
    assert by_length.trace_count == 2


def test_numpy_ufuncs_that_are_compositions_stay_traced_and_exact():
    rng = np.random.default_rng(1)
    samples = np.concatenate([rng.standard_normal(200) * 400, [0.0, -0.0, np.inf, -np.inf, np.nan]])
    for ufunc in (np.deg2rad, np.radians, np.rad2deg, np.degrees, np.isnan, np.isinf):
        for value in samples:
            with TraceContext("t") as ctx:
                x = ctx.new_param("x", value)
                with np.errstate(all="ignore"):
                    got = ufunc(x)
                    expected = ufunc(np.float64(value))
                assert isinstance(got, Tracer) and ctx.guards == []
                assert np.array_equal(value_of(got), expected, equal_nan=True)
                assert np.signbit(value_of(got)) == np.signbit(expected)


def test_float_methods_and_copies_stay_traced():
    with TraceContext("t") as ctx:
        x = ctx.new_param("x", 2.0)
        v = ctx.new_param("v", np.array([1.0, 2.5]))
        assert isinstance(x.is_integer(), Tracer) and bool(value_of(x.is_integer()))
        assert all(isinstance(e, Tracer) for e in v.tolist()) and x.tolist() is x
        assert copy.copy(x) is x and copy.deepcopy([x])[0] is x
        assert (x == None) is False and (x != "a") is True  # noqa: E711
        assert x not in ["a", None]
        assert ctx.guards == []


def test_torch_tensor_of_a_traced_value_is_refused_not_silent():
    with TraceContext("t") as ctx:
        x = ctx.new_param("x", 2.0)
        with pytest.raises((TypeError, RuntimeError)):
            torch.tensor(x)
        y = torch.sin(x)  # torch functions on traced values are traced
        assert isinstance(y, Tracer) and ctx.guards == []


def test_repr_shows_the_tracer_without_concretising():
    with TraceContext("t") as ctx:
        x = ctx.new_param("x", 2.0)
        assert "Tracer" in repr(x) and ctx.guards == []


# ---------------------------------------------------------------- the vectorised check

def guard_graph(observed_value, kind, observed, spec=""):
    with TraceContext("t") as ctx:
        x = ctx.new_param("x", observed_value)
        node = (x * 1.0).node  # (x + 0.0 would turn -0.0 into 0.0)
        values = ctx.builder.freeze()
    return values, x.node, Guard(node, kind, observed, "here:1", spec)


@pytest.mark.parametrize("kind, traced_at, observed, holds, breaks", [
    ("bool", 1.0, True, [2.0, -1.0, float("nan")], [0.0, -0.0]),
    ("int", 2.7, 2, [2.0, 2.999, 2.5], [3.0, 1.999, float("inf"), float("nan"), -2.5]),
    ("float", 0.0, 0.0, [0.0], [-0.0, 1e-300, float("nan")]),
    ("float", float("nan"), float("nan"), [float("nan")], [0.0, float("inf")]),
    ("format", 1.25, "1.2", [1.2, 1.249], [1.26, float("nan")]),
])
def test_guards_are_checked_in_one_vectorised_pass(kind, traced_at, observed, holds, breaks,
                                                   monkeypatch):
    values, x, guard = guard_graph(traced_at, kind, observed, "f:.1f" if kind == "format" else "")
    plan = Plan(values, [guard.node])
    batch = np.array(holds + breaks)
    if kind != "format":  # no Python-level check per guard: one numpy pass
        monkeypatch.setattr(Guard, "holds", lambda *a: pytest.fail("per-guard Python check"))
    fails = guard_failures([guard], plan.run({x: batch}, "numpy", batch=len(batch)))
    assert fails.shape == (len(batch), 1)
    assert list(fails[:, 0]) == [False] * len(holds) + [True] * len(breaks)


@pytest.mark.filterwarnings("ignore::pulseqzero.TracingWarning")
def test_a_float_guard_is_bit_exact_the_script_continues_with_the_number():
    @pulseqzero.trace
    def signed(x):
        return seq_of(1e-3 + 1e-3 * (math.copysign(1.0, float(x)) > 0))

    graph = signed.trace(0.0)
    with pytest.raises(GuardError):
        graph.to_mr0(x=-0.0)  # a fresh trace takes the other branch
    signed(0.0)
    signed(-0.0)
    assert signed.trace_count == 2


def test_guard_errors_on_the_graph_path_name_every_failing_guard(gre_graph):
    with pytest.raises(GuardError) as info:
        gre_graph.to_mr0(TE=1e-4, TR=1e-4)
    message = str(info.value)
    assert "TE is too short" not in message  # the message names lines, the assert text is the script's
    assert message.count("gre.py:") == len(info.value.failed) >= 2
