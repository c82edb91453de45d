"""Graph passes: plain functions ``SequenceGraph -> SequenceGraph``.

Every pass preserves every result exactly: the optimised graph evaluates
(numpy, bit for bit), exports (the same ``.seq``) and lowers (the same mr0
sequence) like the original, at any parameter values. Each event, block,
guard, definition and recorded call argument is renumbered with the values.

* :func:`fold_constants` -- an op whose inputs are all constants becomes a
  constant (the tracer folds at trace time; this folds what other passes,
  e.g. :func:`specialize`, leave), and guards on constants are checked once
  and dropped;
* :func:`eliminate_common_subexpressions` -- beyond the builder's
  hash-consing: equal constants merge, the inputs of commutative ops
  (``a + b``, ``a * b``, ``==``, ``!=``, ``and``, ``or``: IEEE-exact in
  either order) are put in a canonical order, and ``stack(...)[i]`` is the
  i-th input itself;
* :func:`eliminate_dead_code` -- drops the nodes no block, guard, definition,
  recorded call or parameter needs, and renumbers the rest;
* :func:`specialize` -- binds parameters to constant values (partial
  evaluation; fold and DCE then remove what they determined);
* :func:`optimize` -- fold, CSE, DCE.

Auto-batching is not a graph rewrite: :class:`ir.evaluate.Plan` compiles a
graph into groups of same-op nodes evaluated as one array op each.
"""
from __future__ import annotations

import attrs
import numpy as np

from . import events as ev
from . import ops as _ops
from .evaluate import needed
from .graph import SequenceGraph
from .values import Builder, Const, Op, Param, Values, freeze_array

#: ops whose result does not depend on the order of their two inputs, bit for bit
#: (min / max are not: np.minimum(0.0, -0.0) is 0.0, np.minimum(-0.0, 0.0) is -0.0)
COMMUTATIVE = frozenset({"add", "mul", "eq", "ne", "and", "or"})


# ====================================================================== walking a graph


def _map_arg(arg, f, memo):
    if isinstance(arg, ev.ArgValue):
        return attrs.evolve(arg, node=f(arg.node))
    if isinstance(arg, ev.ArgEvent):
        return ev.ArgEvent(_map_event(arg.event, f, memo))
    if isinstance(arg, ev.ArgList):
        return attrs.evolve(arg, items=tuple(_map_arg(a, f, memo) for a in arg.items))
    return arg  # ArgLiteral, ArgSystem: no nodes


def _map_call(call, f, memo):
    key = ("call", id(call))
    hit = memo.get(key)
    if hit is None:
        hit = memo[key] = (call, attrs.evolve(
            call, args=tuple(_map_arg(a, f, memo) for a in call.args),
            kwargs=tuple((k, _map_arg(a, f, memo)) for k, a in call.kwargs)))
    return hit[1]


def _map_origin(origin, f, memo):
    if origin is None:
        return None
    return attrs.evolve(origin, call=_map_call(origin.call, f, memo),
                        assigns=tuple(attrs.evolve(a, value=_map_arg(a.value, f, memo))
                                      for a in origin.assigns))


def _map_event(event, f, memo):
    key = ("event", id(event))
    hit = memo.get(key)
    if hit is not None:
        return hit[1]
    changes = {name: f(getattr(event, name)) for name in ev.value_fields(event)}
    if event.kind == "rf":
        shape = event.shape
        changes["shape"] = attrs.evolve(shape, **{
            a.name: f(getattr(shape, a.name)) for a in attrs.fields(type(shape)) if a.type != "bool"})
    changes["origin"] = _map_origin(event.origin, f, memo)
    new = attrs.evolve(event, **changes)
    memo[key] = (event, new)  # the original is kept alive: ids stay unique
    return new


def map_nodes(graph: SequenceGraph, values: Values, f) -> SequenceGraph:
    """The graph over ``values`` with every node reference ``i`` replaced by ``f(i)``."""
    memo: dict = {}
    changes = dict(
        values=values,
        params=tuple(attrs.evolve(p, node=f(p.node)) for p in graph.params),
        blocks=tuple(attrs.evolve(b, duration=f(b.duration),
                                  events=tuple(_map_event(e, f, memo) for e in b.events))
                     for b in graph.blocks),
        definitions=tuple((k, _map_arg(a, f, memo)) for k, a in graph.definitions),
        guards=tuple(attrs.evolve(g, node=f(g.node)) for g in graph.guards),
        registrations=tuple(attrs.evolve(r, event=_map_event(r.event, f, memo))
                            for r in graph.registrations),
    )
    if getattr(graph, "registrations", None):  # seq.register_*_event(...) events
        changes["registrations"] = tuple(attrs.evolve(r, event=_map_event(r.event, f, memo))
                                         for r in graph.registrations)
    return attrs.evolve(graph, **changes)


def referenced_nodes(graph: SequenceGraph) -> set:
    """Every node an event, block, guard, definition, recorded call or parameter refers to."""
    seen: set = set()

    def note(i):
        seen.add(int(i))
        return i

    map_nodes(graph, graph.values, note)
    seen.update(i for i, n in enumerate(graph.values.nodes) if isinstance(n, Param))
    return seen


# ====================================================================== passes


def fold_constants(graph: SequenceGraph) -> SequenceGraph:
    """Ops on constants become constants (same ids); guards on constants are checked and
    dropped. A guard that a constant breaks raises ValueError (the graph contradicts itself)."""
    nodes = list(graph.values.nodes)
    for i, node in enumerate(nodes):
        if isinstance(node, Op) and all(isinstance(nodes[j], Const) for j in node.inputs):
            value = _ops.eval_numpy(node.op, [nodes[j].value for j in node.inputs], node.attrs)
            nodes[i] = Const(freeze_array(value))
    values = Values(tuple(nodes), graph.values.shapes)
    guards = []
    for g in graph.guards:
        node = nodes[g.node]
        if isinstance(node, Const):
            if not g.holds(node.value):
                raise ValueError(f"a constant breaks a guard: {g.describe()}")
            continue
        guards.append(g)
    return attrs.evolve(graph, values=values, guards=tuple(guards))


def eliminate_common_subexpressions(graph: SequenceGraph) -> SequenceGraph:
    """Merge equal constants, commuted inputs and ``stack(...)[i]`` into one node each."""
    values = graph.values
    b = Builder()
    new = [0] * len(values.nodes)
    stacks: dict = {}  # new id of a stack node -> its new input ids
    for i, node in enumerate(values.nodes):
        if isinstance(node, Param):
            new[i] = b.param(node.name, node.shape)
        elif isinstance(node, Const):
            new[i] = b.const(node.value)
        else:
            inputs = [new[j] for j in node.inputs]
            if node.op in COMMUTATIVE:
                inputs.sort()
            if (node.op == "getitem" and inputs[0] in stacks and len(node.attrs) == 1
                    and isinstance(node.attrs[0], (int, np.integer))):
                parts = stacks[inputs[0]]
                new[i] = parts[int(node.attrs[0])]
                continue
            new[i] = b.op(node.op, inputs, node.attrs)
            if node.op == "stack" and all(b.shapes[j] == () for j in inputs):
                stacks[new[i]] = inputs
    return map_nodes(graph, b.freeze(), lambda i: new[i])


def eliminate_dead_code(graph: SequenceGraph) -> SequenceGraph:
    """Only the nodes something refers to (and their inputs), renumbered in order."""
    values = graph.values
    keep = needed(values, sorted(referenced_nodes(graph)))
    new_id = {old: k for k, old in enumerate(keep)}
    nodes = []
    for old in keep:
        node = values.nodes[old]
        if isinstance(node, Op):
            node = attrs.evolve(node, inputs=tuple(new_id[j] for j in node.inputs))
        nodes.append(node)
    shrunk = Values(tuple(nodes), tuple(values.shapes[old] for old in keep))
    return map_nodes(graph, shrunk, lambda i: new_id[i])


def specialize(graph: SequenceGraph, **constants) -> SequenceGraph:
    """The graph with these parameters bound to constants (then folded, and dead code removed).

    Results at the remaining parameters equal the original graph's at ``constants``."""
    nodes = list(graph.values.nodes)
    params = []
    for p in graph.params:
        if p.name in constants:
            value = np.asarray(constants.pop(p.name), dtype=np.float64)
            if value.shape != tuple(p.shape):
                raise ValueError(f"parameter {p.name} has shape {tuple(p.shape)}, got {value.shape}")
            nodes[p.node] = Const(freeze_array(value[()] if value.ndim == 0 else value))
        else:
            params.append(p)
    if constants:
        raise TypeError(f"{graph.name} has no parameter(s) {sorted(constants)}")
    bound = attrs.evolve(graph, values=Values(tuple(nodes), graph.values.shapes),
                         params=tuple(params))
    return eliminate_dead_code(fold_constants(bound))


def optimize(graph: SequenceGraph) -> SequenceGraph:
    """Constant folding, common subexpressions, dead code: the same results, fewer nodes."""
    return eliminate_dead_code(eliminate_common_subexpressions(fold_constants(graph)))
