"""``@pulseqzero.trace``: run a sequence function once on tracers, re-execute after.

Arguments that are floats, float numpy arrays or float tensors become graph
parameters; everything else (ints, bools, strings, None, objects) is static
and part of the cache key, as are the shapes of the parameters. Calling the
decorated function traces once per static structure and afterwards only
checks the guards (one vectorised numpy pass) and re-executes the graph's
compiled plan; a guard that fails re-traces, with one log line naming the
guard and its script line, like torch.compile's recompilation message::

    pulseqzero: re-tracing gre: examples/gre.py:45: condition of %42 was True

A cached graph is only served for the same inputs of the trace:

* static arguments compare by value, objects such as an ``Opts`` by their
  attributes (edited in place, they re-trace);
* the module-level values the function and the functions of the script it
  calls read (``FOV = 0.22`` at the top of the script, ``config.FOV`` of a
  module of the user's), and the variables of its closure, compare by value
  too: one that changed re-traces (``module value FOV changed``).

What cannot be compared by value (an object holding a lock, a file, ...) is
compared by identity, with a :class:`TracingWarning` once saying so: changes
inside such an object are not seen.
"""
from __future__ import annotations

import functools
import inspect
import logging
import sys
import types
import warnings

import numpy as np

from . import tracer as _tr
from .graph import Graph, GuardError, check_precision, check_value

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


class _ByIdentity(Exception):
    """A value that cannot be compared by value (see :func:`_static_key`)."""


#: how deep objects are compared attribute by attribute
_MAX_DEPTH = 4


def _static_key(value, depth: int = 0):
    """A hashable key that is equal exactly when the value is: arrays and tensors by
    content, containers element by element, plain objects (``Opts``, a
    ``SimpleNamespace``) attribute by attribute, functions, classes and modules by
    identity. Raises :class:`_ByIdentity` for what has no such key."""
    if value is None or isinstance(value, (bool, int, float, complex, str, bytes)):
        return value
    if isinstance(value, np.ndarray):
        return ("array", value.dtype.str, value.shape, value.tobytes())
    if torch is not None and isinstance(value, torch.Tensor):  # by value, not identity
        value = value.detach().cpu().numpy()
        return ("tensor", value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, (types.FunctionType, types.BuiltinFunctionType, types.MethodType,
                          types.ModuleType, type, TracedFunction)):
        return ("id", id(value))
    if depth >= _MAX_DEPTH:
        raise _ByIdentity(value)
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(_static_key(v, depth + 1) for v in value))
    if isinstance(value, dict):
        return ("dict", tuple(sorted(((k, _static_key(v, depth + 1)) for k, v in value.items()),
                                     key=repr)))
    attributes = getattr(value, "__dict__", None)
    if attributes is not None and type(value).__hash__ in (None, object.__hash__):
        # a mutable plain object: what it holds, not which one it is
        return ("object", type(value), tuple(sorted(
            (k, _static_key(v, depth + 1)) for k, v in attributes.items())))
    try:
        hash(value)
    except TypeError:
        raise _ByIdentity(value) from None
    if type(value).__hash__ is object.__hash__:  # hashed by identity, holds no __dict__
        raise _ByIdentity(value)
    return value


def _key_or_identity(value, on_identity):
    """``_static_key(value)``, or the value's identity after calling ``on_identity()``."""
    try:
        return _static_key(value)
    except _ByIdentity:
        on_identity()
        return ("id", id(value))


# -- what a traced function reads besides its arguments --------------------------------

_LIBRARY_ROOTS = tuple({sys.prefix, sys.base_prefix, sys.exec_prefix})
_MISSING = object()


def _is_user_code(filename: str) -> bool:
    """Code of the user's scripts, not of Python, installed packages or pulseqzero."""
    from pathlib import Path
    if filename.startswith("<"):
        return filename.startswith("<ipython") or filename == "<stdin>"
    path = str(Path(filename).resolve()) if filename else ""
    ours = str(Path(__file__).resolve().parent)
    return not (path.startswith(_LIBRARY_ROOTS) or path.startswith(ours)
                or "site-packages" in path)


def global_reads(fn) -> list:
    """The module-level names (and closure cells) ``fn`` and the user functions it calls
    can read: ``[(label, namespace or cell, name)]``, found in their code objects. A user
    module it reads is followed into the attributes it names (``config.FOV``)."""
    reads: dict = {}
    seen: set = set()
    # (a work list, not nested recursive functions: those would be a reference cycle)
    work = [("function", fn, None)]
    while work:
        what, item, context = work.pop()
        if what == "function":
            item = item.fn if isinstance(item, TracedFunction) else item
            code = getattr(item, "__code__", None)
            if code is None or code in seen or not _is_user_code(code.co_filename):
                continue
            for cell, name in zip(item.__closure__ or (), code.co_freevars):
                reads[(id(cell), name)] = (name, cell, None)
                value = _read(cell, None)
                if value is not _MISSING:
                    work.append(("value", value, code))
            work.append(("code", code, item.__globals__))
        elif what == "code":
            code, namespace = item, context
            if code in seen:
                continue
            seen.add(code)
            for name in code.co_names:
                if name in namespace:
                    reads[(id(namespace), name)] = (name, namespace, name)
                    work.append(("value", namespace[name], code))
            work.extend(("code", const, namespace) for const in code.co_consts
                        if isinstance(const, types.CodeType))  # nested functions, lambdas
        elif isinstance(item, (types.FunctionType, TracedFunction)):
            work.append(("function", item, None))
        elif isinstance(item, types.ModuleType) and (id(item), context) not in seen \
                and _is_user_code(getattr(item, "__file__", "") or ""):
            seen.add((id(item), context))
            namespace = vars(item)
            for attribute in context.co_names:  # the names the reading code uses
                if attribute in namespace:
                    reads[(id(namespace), attribute)] = (f"{item.__name__}.{attribute}",
                                                         namespace, attribute)
                    work.append(("value", namespace[attribute], context))
    return list(reads.values())


def _read(container, name):
    if name is None:  # a closure cell
        try:
            return container.cell_contents
        except ValueError:
            return _MISSING
    return container.get(name, _MISSING)


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


class _Entry:
    """A cached trace: its graph and the module-level values it was traced with."""

    __slots__ = ("graph", "reads", "seen")

    def __init__(self, graph, reads, seen):
        self.graph = graph
        self.reads = reads  # [(label, namespace or cell, name)]
        self.seen = seen  # their keys at trace time

    def changed_read(self, key_of) -> str | None:
        """The label of a module-level value that changed since the trace, else None."""
        for (label, container, name), seen in zip(self.reads, self.seen):
            if key_of(label, _read(container, name)) != seen:
                return label
        return None


class TracedFunction:
    """A sequence function that is traced once per structure and re-executed after."""

    def __init__(self, fn, static_argnames=()):
        functools.update_wrapper(self, fn)
        self.fn = fn
        self.signature = inspect.signature(fn)
        self.static_argnames = frozenset(static_argnames)
        self._cache: dict = {}
        self._warned: set = set()
        self.trace_count = 0

    def _bind(self, args, kwargs):
        bound = self.signature.bind(*args, **kwargs)
        bound.apply_defaults()
        return bound

    def _is_param(self, name, value) -> bool:
        return name not in self.static_argnames and is_param_value(value)

    def trace(self, *args, **kwargs) -> Graph:
        """Run the function once on tracers and return its graph (also cached for calls)."""
        reads = global_reads(self.fn)
        seen = [self._read_key(label, _read(c, n)) for label, c, n in reads]
        graph = self._trace(args, kwargs)
        entries = self._cache.setdefault(self._key(self._bind(args, kwargs)), [])
        entries.append(_Entry(graph, reads, seen))
        del entries[:-CACHE_SIZE]
        return graph

    def _by_identity(self, what: str) -> None:
        if what not in self._warned:
            self._warned.add(what)
            warnings.warn(f"{self.fn.__name__}: {what} cannot be compared by value, so a cached "
                          "trace is reused while it is the same object: changes made inside it "
                          f"are not seen (call {self.fn.__name__}.trace(...) after changing it)",
                          _tr.TracingWarning, stacklevel=4)

    def _read_key(self, label, value):
        if value is _MISSING:
            return ("missing",)
        return _key_or_identity(value, lambda: self._by_identity(f"module value {label}"))

    def _key(self, bound) -> tuple:
        return tuple((n, ("param", _shape(v)) if self._is_param(n, v) else
                      _key_or_identity(v, lambda n=n: self._by_identity(f"argument {n}")))
                     for n, v in bound.arguments.items())

    def _trace(self, args, kwargs) -> Graph:
        bound = self._bind(args, kwargs)
        with _tr.TraceContext(self.fn.__name__, mode="trace") as ctx:
            for name, value in list(bound.arguments.items()):
                if self._is_param(name, value):
                    check_precision(name, value)
                    # a tensor is kept: parameters not given later read it (gradients included)
                    tensor = value if torch is not None and isinstance(value, torch.Tensor) else None
                    bound.arguments[name] = ctx.new_param(name, value, tensor=tensor)
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
        for entry in reversed(entries):  # the newest first
            changed = entry.changed_read(self._read_key)
            if changed is not None:
                failed.append(f"module value {changed} changed")
                continue
            try:
                inputs = entry.graph.inputs(params)
            except GuardError as e:  # a guard no longer holds
                failed.append(e.failed[0][1].describe() if e.failed else str(e))
                continue
            return BoundSequence(entry.graph, params, inputs)
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
