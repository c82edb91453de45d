"""The SSA value graph: parameters, constants and operations.

Every number a sequence depends on is a node. Nodes are stored in topological
order (an op's inputs always come before it) and are hash-consed: asking for
the same op on the same inputs twice returns the same node id. A node id is a
plain ``int`` index into :attr:`Values.nodes`.

Constants hold the Python object the user's script produced (``int``,
``float``, ``bool`` or a read-only ``numpy.ndarray``), so replaying a PyPulseq
call gets exactly the argument the script passed.
"""
from __future__ import annotations

from typing import Any, Union

import attrs
import numpy as np

from . import ops as _ops

Shape = tuple  # tuple[int, ...]; () is a scalar


@attrs.frozen(slots=True)
class Param:
    """A named input of the graph (a float64 scalar or array)."""

    name: str
    shape: Shape = ()
    dtype: str = "f64"


@attrs.frozen(slots=True, eq=False)
class Const:
    """A constant: a Python number or a read-only numpy array."""

    value: Any

    def __eq__(self, other):
        return isinstance(other, Const) and const_key(self.value) == const_key(other.value)

    def __hash__(self):
        return hash(const_key(self.value))


@attrs.frozen(slots=True)
class Op:
    """An operation from the closed op set (:mod:`ir.ops`) on earlier nodes."""

    op: str = attrs.field(validator=lambda _s, _a, v: _ops.check_op(v))
    inputs: tuple = ()
    attrs: tuple = ()


Node = Union[Param, Const, Op]


def const_key(value) -> tuple:
    """Hash-consing key of a constant: type, shape and exact bits."""
    if isinstance(value, np.ndarray):
        return ("a", value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, np.generic):
        return ("s", value.dtype.str, value.tobytes())
    if isinstance(value, float):
        # repr keeps -0.0 apart from 0.0 and is exact for doubles
        return ("f", repr(value))
    return (type(value).__name__, value)


def value_shape(value) -> Shape:
    return tuple(np.shape(value))


def freeze_array(value):
    """Arrays stored in the graph are read-only copies."""
    if isinstance(value, np.ndarray):
        value = np.array(value, copy=True)
        value.flags.writeable = False
    return value


@attrs.frozen(slots=True)
class Values:
    """An immutable value graph: the nodes and the shape of each node."""

    nodes: tuple = ()
    shapes: tuple = ()

    def __len__(self):
        return len(self.nodes)

    def params(self) -> dict:
        """Parameter name -> node id."""
        return {n.name: i for i, n in enumerate(self.nodes) if isinstance(n, Param)}

    def depends_on_params(self) -> list:
        """For each node: does its value depend on any parameter?"""
        dep = [False] * len(self.nodes)
        for i, n in enumerate(self.nodes):
            if isinstance(n, Param):
                dep[i] = True
            elif isinstance(n, Op):
                dep[i] = any(dep[j] for j in n.inputs)
        return dep


class Builder:
    """Builds a :class:`Values` graph; hash-conses every node it is given."""

    def __init__(self, base: Values | None = None):
        self.nodes: list = []
        self.shapes: list = []
        self._index: dict = {}
        # scalar constants by value, one table per type (1 == 1.0 == True as dict keys);
        # a shortcut to the same nodes ``_index`` holds (zeros and NaN take the long way:
        # -0.0 == 0.0 and NaN != NaN)
        self._scalars: dict = {float: {}, int: {}, np.float64: {}}
        if base is not None:
            for node, shape in zip(base.nodes, base.shapes):
                self._add(node, shape)

    def __len__(self):
        return len(self.nodes)

    def _key(self, node):
        if isinstance(node, Const):
            return ("const", const_key(node.value))
        return node

    def _add(self, node, shape) -> int:
        key = self._key(node)
        found = self._index.get(key)
        if found is not None:
            return found
        self.nodes.append(node)
        self.shapes.append(tuple(shape))
        self._index[key] = len(self.nodes) - 1
        return len(self.nodes) - 1

    def param(self, name: str, shape: Shape = ()) -> int:
        if any(isinstance(n, Param) and n.name == name for n in self.nodes):
            raise ValueError(f"parameter {name!r} is defined twice")
        return self._add(Param(name, tuple(shape)), shape)

    def const(self, value) -> int:
        table = self._scalars.get(type(value))
        if table is not None and value == value and value != 0:
            found = table.get(value)
            if found is None:
                found = table[value] = self._add(Const(value), ())
            return found
        if isinstance(value, np.ndarray):  # look up before copying
            found = self._index.get(("const", const_key(value)))
            if found is not None:
                return found
        value = freeze_array(value)
        return self._add(Const(value), value_shape(value))

    def op(self, name: str, inputs, attrs_: tuple = ()) -> int:
        inputs = tuple(int(i) for i in inputs)
        for i in inputs:
            if not 0 <= i < len(self.nodes):
                raise ValueError(f"op {name}: input %{i} does not exist")
        shape = _ops.OPS[name].shape([self.shapes[i] for i in inputs], attrs_)
        return self._add(Op(name, inputs, tuple(attrs_)), shape)

    def freeze(self) -> Values:
        return Values(tuple(self.nodes), tuple(self.shapes))
