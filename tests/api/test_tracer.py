"""Tracer values: operators, numpy / torch protocols, and guarded concretisation."""
import math
import warnings

import numpy as np
import pytest
import torch

from pulseqzero.tracer import TraceContext, Tracer, TracingWarning, value_of


@pytest.fixture
def ctx():
    with TraceContext("test") as c:
        yield c


def test_operators_record_ops_and_compute_like_python(ctx):
    te = ctx.new_param("TE", 5e-3)
    plain = 5e-3
    for f in [lambda x: x + 1, lambda x: 2 - x, lambda x: x * 3, lambda x: 1 / x, lambda x: x / 7,
              lambda x: x ** 2, lambda x: 2 ** x, lambda x: -x, lambda x: abs(-x), lambda x: x // 1e-3,
              lambda x: x % 1e-3, lambda x: divmod(x, 1e-3)[1]]:
        got = f(te)
        assert isinstance(got, Tracer)
        assert value_of(got) == f(plain)


def test_math_protocols_give_integer_tracers(ctx):
    te = ctx.new_param("TE", 5.5)
    for f in (math.ceil, math.floor, math.trunc, round):
        got = f(te)
        assert isinstance(got, Tracer) and got.kind == "i" and value_of(got) == f(5.5)
    assert value_of(round(te, 1)) == round(5.5, 1)
    assert len(range(math.ceil(te))) == 6  # __index__ of an integer tracer: guarded
    assert ctx.guards[-1].kind == "int"
    with pytest.raises(TypeError, match="cannot be interpreted as an integer"):
        range(te)
    with pytest.raises(OverflowError):
        math.ceil(te * float("inf"))


def test_numpy_and_torch_calls_are_traced(ctx):
    te = ctx.new_param("TE", 0.5)
    for f in (np.sin, np.sqrt, np.ceil, np.exp, np.abs):
        assert value_of(f(te)) == f(0.5)
    assert value_of(np.maximum(te, 0.7)) == 0.7
    assert value_of(np.round(te * 3.3, 2)) == np.round(0.5 * 3.3, 2)
    got = torch.sin(te)
    assert isinstance(got, Tracer) and value_of(got) == np.sin(0.5)
    # a tensor meeting a tracer is captured as an input
    t = torch.tensor(2.0, requires_grad=True)
    mixed = t * te
    assert isinstance(mixed, Tracer) and value_of(mixed) == 1.0
    assert any(p[0].startswith("captured") for p in ctx.params)


def test_vectors_index_and_iterate(ctx):
    flips = ctx.new_param("flips", np.array([1.0, 2.0, 3.0]))
    assert len(flips) == 3
    assert [value_of(f) for f in flips] == [1.0, 2.0, 3.0]
    assert value_of(flips[-1]) == 3.0 and flips[-1].node == flips[2].node
    assert list(value_of(flips[1:])) == [2.0, 3.0]
    assert value_of(np.sum(flips * 2)) == 12.0
    with pytest.raises(IndexError):
        flips[3]


def test_every_concretisation_is_guarded(ctx):
    te = ctx.new_param("TE", 5e-3)
    if te > 4e-3:  # bool
        pass
    n = int(te * 1000)  # int
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        x = float(te)  # float: a warning that names the parameter
    assert any(issubclass(w.category, TracingWarning) and "TE" in str(w.message) for w in caught)
    text = f"{te * 1e3:.1f} ms"  # format
    kinds = [g.kind for g in ctx.guards]
    assert kinds == ["bool", "int", "float", "format"]
    assert all("test_tracer.py:" in g.line for g in ctx.guards)
    assert (n, x, text) == (5, 5e-3, "5.0 ms")
    assert ctx.guards[3].holds(5.04) and not ctx.guards[3].holds(5.06)  # the node is TE·1e3


def test_python_errors_are_pythons(ctx):
    te = ctx.new_param("TE", 0.0)
    with pytest.raises(ZeroDivisionError):
        1 / te
    with pytest.raises(TypeError):
        None / te
    assert np.isinf(value_of(np.divide(1.0, te)))  # numpy semantics through numpy


def test_untraced_numpy_functions_pin_their_inputs(ctx):
    te = ctx.new_param("TE", 0.25)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        y = np.interp(te, [0, 1], [0, 2])
    assert y == 0.5
    assert any("not traced" in str(w.message) for w in caught)
    assert ctx.guards[-1].kind == "float"
