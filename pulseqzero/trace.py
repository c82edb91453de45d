"""``@pulseqzero.trace``: run a sequence function once on tracers, re-execute after.

Arguments that are floats, float numpy arrays or float tensors become graph
parameters; everything else (ints, bools, strings, None, objects) is static
and part of the cache key, as are the shapes of the parameters. Calling the
decorated function traces once per static structure and afterwards only
checks the guards (one vectorised numpy pass) and re-executes the graph's
compiled plan; a guard that fails re-traces, with one log line naming the
guard and its script line, like torch.compile's recompilation message::

    pulseqzero: re-tracing gre: examples/gre.py:45: condition of %42 was True
"""
from __future__ import annotations

import functools
import inspect
import logging

import numpy as np

from . import tracer as _tr
from .graph import Graph, GuardError, check_value

try:
    import torch
except ImportError:  # pragma: no cover
    torch = None

log = logging.getLogger("pulseqzero")

#: traced graphs kept per static structure (oldest dropped first)
CACHE_SIZE = 8


def is_param_value(value) -> bool:
    """Floats and float arrays / tensors are parameters; the rest is static."""
    if isinstance(value, bool):
        return False
    if isinstance(value, (float, np.floating)):
        return True
    if isinstance(value, np.ndarray):
        return np.issubdtype(value.dtype, np.floating)
    if torch is not None and isinstance(value, torch.Tensor):
        return value.is_floating_point()
    return False


def _static_key(value):
    if isinstance(value, np.ndarray):
        return ("array", value.dtype.str, value.shape, value.tobytes())
    if torch is not None and isinstance(value, torch.Tensor):  # by value, not identity
        value = value.detach().cpu().numpy()
        return ("tensor", value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(_static_key(v) for v in value))
    if isinstance(value, dict):
        return ("dict", tuple(sorted((k, _static_key(v)) for k, v in value.items())))
    try:
        hash(value)
        return value
    except TypeError:
        return ("id", id(value))


def find_sequence(result, ctx, name: str):
    """The recording Sequence a traced run produced."""
    from .pp.sequence import Sequence
    if isinstance(result, Sequence):
        return result
    if isinstance(result, (tuple, list)):
        found = [r for r in result if isinstance(r, Sequence)]
        if len(found) == 1:
            return found[0]
    if len(ctx.sequences) == 1:
        return ctx.sequences[0]
    if not ctx.sequences:
        raise ValueError(f"{name} built no pp.Sequence while traced (is it written against "
                         "pulseqzero.pp_impl?)")
    raise ValueError(f"{name} built {len(ctx.sequences)} sequences and returned none of them; "
                     "return the one to trace")


class BoundSequence:
    """A graph with parameter values whose guards hold: what calling a traced function
    returns. Its methods re-execute the graph; the guards are checked again only where a
    parameter changed in place since (``TE.fill_(...)``, ``flips[3] = ...``), and a
    failed one raises :class:`GuardError` instead of giving the old structure."""

    def __init__(self, graph: Graph, params: dict, inputs: dict | None = None):
        self.graph = graph
        self.params = params
        self._inputs = inputs if inputs is not None else graph.inputs(params)
        self._snapshot = _snapshot(self._inputs)

    def _check_unchanged(self) -> None:
        """Re-check the guards if a parameter changed in place since they were checked."""
        if _changed(self._inputs, self._snapshot):
            for p in self.graph.ir.params:
                if p.name in self.params:
                    check_value(p.name, self._inputs[p.node])
            self.graph.check_guards(self._inputs)
            self._snapshot = _snapshot(self._inputs)

    def to_mr0(self, rf_subpulses: int = 1, rf_centre: str = "middle"):
        """The MRzeroCore sequence (see :meth:`Graph.to_mr0`)."""
        self._check_unchanged()
        return self.graph.mr0_from_inputs(self._inputs, rf_subpulses, rf_centre)

    def to_pypulseq(self):
        return self.graph.to_pypulseq(**self.params)

    def write(self, path, create_signature: bool = True, remove_duplicates: bool = True):
        return self.graph.write(path, create_signature, remove_duplicates, **self.params)

    def __repr__(self):
        return f"<BoundSequence of {self.graph!r}>"


def _snapshot(inputs: dict) -> dict:
    """What can change in place: a tensor's version counter, an array's copy."""
    snap = {}
    for node, value in inputs.items():
        if torch is not None and isinstance(value, torch.Tensor):
            snap[node] = value._version
        elif isinstance(value, np.ndarray):
            snap[node] = value.copy()
    return snap


def _changed(inputs: dict, snapshot: dict) -> bool:
    for node, seen in snapshot.items():
        value = inputs[node]
        if isinstance(seen, np.ndarray):
            if not np.array_equal(value, seen, equal_nan=True):
                return True
        elif value._version != seen:
            return True
    return False


class TracedFunction:
    """A sequence function that is traced once per structure and re-executed after."""

    def __init__(self, fn, static_argnames=()):
        functools.update_wrapper(self, fn)
        self.fn = fn
        self.signature = inspect.signature(fn)
        self.static_argnames = frozenset(static_argnames)
        self._cache: dict = {}
        self.trace_count = 0

    def _bind(self, args, kwargs):
        bound = self.signature.bind(*args, **kwargs)
        bound.apply_defaults()
        return bound

    def _is_param(self, name, value) -> bool:
        return name not in self.static_argnames and is_param_value(value)

    def trace(self, *args, **kwargs) -> Graph:
        """Run the function once on tracers and return its graph (also cached for calls)."""
        graph = self._trace(args, kwargs)
        entries = self._cache.setdefault(self._key(self._bind(args, kwargs)), [])
        entries.append(graph)
        del entries[:-CACHE_SIZE]
        return graph

    def _key(self, bound) -> tuple:
        return tuple((n, ("param", _shape(v)) if self._is_param(n, v) else _static_key(v))
                     for n, v in bound.arguments.items())

    def _trace(self, args, kwargs) -> Graph:
        bound = self._bind(args, kwargs)
        with _tr.TraceContext(self.fn.__name__, mode="trace") as ctx:
            for name, value in list(bound.arguments.items()):
                if self._is_param(name, value):
                    bound.arguments[name] = ctx.new_param(name, value)
            result = self.fn(*bound.args, **bound.kwargs)
            seq = find_sequence(result, ctx, self.fn.__name__)
            graph = Graph(seq.to_graph(self.fn.__name__))
        self.trace_count += 1
        return graph

    def __call__(self, *args, **kwargs) -> BoundSequence:
        bound = self._bind(args, kwargs)
        params = {n: v for n, v in bound.arguments.items() if self._is_param(n, v)}
        entries = self._cache.setdefault(self._key(bound), [])
        failed = []
        for graph in reversed(entries):  # the newest first
            try:
                inputs = graph.inputs(params)
            except GuardError as e:  # a guard no longer holds
                failed.append(e.failed[0][1].describe() if e.failed else str(e))
                continue
            return BoundSequence(graph, params, inputs)
        if failed:
            log.warning("pulseqzero: re-tracing %s: %s", self.fn.__name__, failed[0])
        return BoundSequence(self.trace(*args, **kwargs), params)


def _shape(value) -> tuple:
    if torch is not None and isinstance(value, torch.Tensor):
        return tuple(value.shape)  # (no copy from the device)
    return tuple(np.shape(value))


def trace(fn=None, *, static_argnames=()):
    """Decorator: ``@trace`` or ``@trace(static_argnames=("n",))``."""
    if fn is None:
        return lambda f: TracedFunction(f, static_argnames)
    return TracedFunction(fn, static_argnames)
