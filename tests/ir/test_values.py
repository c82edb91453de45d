"""The value graph: hash-consing, constants, the closed op set, shapes."""
import numpy as np
import pytest

from pulseqzero.ir.values import Builder, Const, Op, Param


def test_hash_consing_returns_the_same_node():
    b = Builder()
    te = b.param("TE")
    c = b.const(1e-3)
    assert b.op("sub", [te, c]) == b.op("sub", [te, c])
    assert b.const(1e-3) == c
    assert len(b) == 3


def test_constants_keep_type_and_sign():
    b = Builder()
    ids = {b.const(0.0), b.const(-0.0), b.const(0), b.const(np.float64(0.0))}
    assert len(ids) == 4  # 0.0, -0.0, int 0 and a numpy scalar stay apart
    arr = b.const(np.arange(3.0))
    assert b.const(np.arange(3.0)) == arr
    assert not b.nodes[arr].value.flags.writeable


def test_op_set_is_closed():
    with pytest.raises(ValueError, match="op set is closed"):
        Op("frobnicate", (0,))


def test_inputs_must_exist_and_shapes_are_inferred():
    b = Builder()
    flips = b.param("flips", (8,))
    first = b.op("getitem", [flips], (0,))
    assert b.shapes[first] == ()
    assert b.shapes[b.op("mul", [flips, b.const(2.0)])] == (8,)
    assert b.shapes[b.op("sum", [flips])] == ()
    assert b.shapes[b.op("stack", [first, first])] == (2,)
    with pytest.raises(ValueError, match="does not exist"):
        b.op("neg", [99])


def test_params_are_unique_and_frozen_graph_lists_them():
    b = Builder()
    b.param("TE")
    with pytest.raises(ValueError, match="defined twice"):
        b.param("TE")
    v = b.freeze()
    assert v.params() == {"TE": 0}
    assert isinstance(v.nodes[0], Param) and not isinstance(v.nodes[0], Const)
