"""Tracer values and the trace context.

A :class:`Tracer` wraps a node of the value graph together with its concrete
value (numpy float64, computed exactly as PyPulseq would compute it). It speaks
Python's operators, numpy's ``__array_ufunc__`` / ``__array_function__``,
torch's ``__torch_function__`` and ``math.ceil/floor/trunc/round``; each
operation records one op and computes the concrete value with the op's numpy
implementation.

Concretisation is never silent: ``bool()``, ``int()``, ``float()``,
``__index__`` and ``format()`` of a tracer record a :class:`~ir.graph.Guard`
with the user's source line and return the concrete value.
"""
from __future__ import annotations

import itertools
import os
import sys
import sysconfig
import threading
import warnings

import numpy as np

from .heap import growing_heap
from .ir import ops as _ops
from .ir.graph import Guard
from .ir.values import Builder, Param

try:
    import torch
except ImportError:  # pragma: no cover
    torch = None

# ------------------------------------------------------------------ source lines

_INTERNAL_DIRS = [os.path.dirname(os.path.abspath(__file__)),  # pulseqzero/, ir/, backends/
                  os.path.dirname(os.path.abspath(_ops.__file__))]


def register_internal(module_file: str) -> None:
    """Frames from this module's folder are ours, not the user's."""
    _INTERNAL_DIRS.append(os.path.dirname(os.path.abspath(module_file)))
    _INTERNAL_CACHE.clear()


def _extra_internal_dirs():
    dirs = [sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["platstdlib"],
            os.path.dirname(np.__file__)]
    if torch is not None:
        dirs.append(os.path.dirname(torch.__file__))
    return [os.path.abspath(d) for d in dirs]


_INTERNAL_CACHE: dict = {}


def _in_site_packages(path: str) -> bool:
    paths = sysconfig.get_paths()
    return any(path.startswith(os.path.abspath(paths[k]) + os.sep) for k in ("purelib", "platlib"))


def _is_internal(filename: str) -> bool:
    hit = _INTERNAL_CACHE.get(filename)
    if hit is None:
        if filename.startswith("<"):
            hit = filename.startswith(("<frozen", "<__array_function__"))
        else:
            path = os.path.abspath(filename)
            hit = any(path.startswith(d + os.sep) for d in _INTERNAL_DIRS + _extra_internal_dirs())
            if hit and _in_site_packages(path) and not any(
                    path.startswith(d + os.sep) for d in _INTERNAL_DIRS + _extra_internal_dirs()[2:]):
                hit = False  # a venv's platstdlib holds site-packages: installed scripts are user code
        _INTERNAL_CACHE[filename] = hit
    return hit


_SHORT_CACHE: dict = {}


def _short_path(path: str) -> str:
    hit = _SHORT_CACHE.get(path)
    if hit is None:
        try:
            rel = os.path.relpath(path)
        except ValueError:
            rel = ".."
        hit = _SHORT_CACHE[path] = path if rel.startswith("..") else rel
    return hit


def user_frame():
    """The innermost stack frame that belongs to the user's code."""
    frame = sys._getframe(1)
    while frame is not None and _is_internal(frame.f_code.co_filename):
        frame = frame.f_back
    return frame


def user_line() -> str:
    """``"file.py:42"`` of the innermost user frame (the script line being run)."""
    frame = user_frame()
    if frame is None:
        return "<unknown>"
    return f"{_short_path(frame.f_code.co_filename)}:{frame.f_lineno}"


# ------------------------------------------------------------------ contexts

_PLAIN_SCALARS = frozenset((float, int, bool, np.float64, np.int64))  # constants as they are

_local = threading.local()


def _stack() -> list:
    if not hasattr(_local, "stack"):
        _local.stack = []
    return _local.stack


def current():
    """The innermost active :class:`TraceContext`, or None."""
    stack = _stack()
    return stack[-1] if stack else None


_default_context = None


def context():
    """The active context; outside any, a process-wide implicit one."""
    global _default_context
    ctx = current()
    if ctx is not None:
        return ctx
    if _default_context is None:
        _default_context = TraceContext("default", mode="mr0")
    return _default_context


class TraceContext:
    """Records one run of a sequence script: values, guards, calls, sequences.

    ``mode="trace"``: parameters are the traced function's float arguments.
    ``mode="mr0"``: (``mr0_mode()``) torch tensors that reach the recording
    implementation become implicit parameters, captured by identity.
    """

    def __init__(self, name: str = "sequence", mode: str = "trace"):
        self.name = name
        self.mode = mode
        self.builder = Builder()
        self.guards: list = []
        self._guard_keys: set = set()
        self.params: list = []  # ParamInfo-like tuples (name, node, shape, value, tensor)
        self._captured: dict = {}
        self.sequences: list = []  # built while this context is open (see add_sequence)
        self._open = False
        self.depth = 0  # > 0 while inside a recorded PyPulseq call
        self._call_ids = itertools.count()
        self._said: set = set()

    def __enter__(self):
        _stack().append(self)
        self._open = True
        self._heap = growing_heap()  # the recording only grows: no full collections
        self._heap.__enter__()
        return self

    def __exit__(self, *exc):
        stack = _stack()
        assert stack and stack[-1] is self, "trace contexts must nest"
        stack.pop()
        # a Sequence refers to its context; without this back-reference the recording
        # is freed by reference counting when the last Sequence goes, not by a full
        # garbage collection (tens of thousands of objects per script run)
        self.sequences = []
        self._open = False
        self._heap.__exit__(None, None, None)
        return False

    def add_sequence(self, seq) -> None:
        """Keep a Sequence built while this context is open (a trace finds the one a
        script did not return here); the implicit context outside any keeps none:
        they would live as long as the process."""
        if self._open:
            self.sequences.append(seq)

    # -- values --------------------------------------------------------------

    def new_param(self, name: str, value, tensor=None) -> "Tracer":
        """A named graph input with its concrete (float64) value."""
        arr = np.asarray(_to_numpy(value), dtype=np.float64)
        node = self.builder.param(name, arr.shape)
        concrete = arr[()] if arr.ndim == 0 else _readonly(arr)
        self.params.append((name, node, arr.shape, concrete, tensor))
        return Tracer(self, node, concrete, "f")

    def lift(self, x):
        """Tensors become tracers (captured inputs); everything else is returned."""
        if torch is not None and isinstance(x, torch.Tensor) and not isinstance(x, Tracer):
            if not (x.is_floating_point() or x.is_complex()):
                value = x.detach().cpu().numpy()
                return value[()] if value.ndim == 0 else value
            key = id(x)
            hit = self._captured.get(key)
            if hit is not None and hit[0] is x:
                return Tracer(self, hit[1], hit[2], "f")
            tracer = self.new_param(f"captured{len(self._captured)}", x, tensor=x)
            # (the node, not the tracer: a tracer refers back to this context)
            self._captured[key] = (x, tracer.node, tracer.value)
            if self.mode == "trace":
                line = user_line()
                self.say_once(("captured", line), f"{line}: a tensor that is not an argument of the "
                              f"traced function was captured ({tracer.ctx.params[-1][0]}): "
                              "re-executions read that tensor object (in-place changes count, a "
                              "new tensor bound to the same name does not); pass it as an argument")
            return tracer
        return x

    def node(self, x) -> int:
        """The node of a tracer, or a constant node for a number / array."""
        if isinstance(x, Tracer):
            if x.ctx is not self:
                raise ValueError("a traced value from another trace was used here; "
                                 "values cannot cross traces")
            return x.node
        if type(x) in _PLAIN_SCALARS:
            return self.builder.const(x)
        x = self.lift(x)
        if isinstance(x, Tracer):
            return x.node
        if isinstance(x, (list, tuple)):
            raise TypeError("expected a number, got a sequence")
        return self.builder.const(x)

    def next_call_id(self) -> int:
        return next(self._call_ids)

    # -- guards --------------------------------------------------------------

    def add_guard(self, tracer: "Tracer", kind: str, observed, spec: str = ""):
        key = (tracer.node, kind, observed, spec)
        if key in self._guard_keys:
            return
        self._guard_keys.add(key)
        self.guards.append(Guard(tracer.node, kind, observed, user_line(), spec))

    def say_once(self, key, message: str):
        if key not in self._said:
            self._said.add(key)
            warnings.warn(message, TracingWarning, stacklevel=2)

    def params_of(self, node: int) -> list:
        """Names of the parameters a node depends on."""
        nodes = self.builder.nodes
        seen, stack, names = set(), [node], []
        while stack:
            i = stack.pop()
            if i in seen:
                continue
            seen.add(i)
            n = nodes[i]
            if isinstance(n, Param):
                names.append(n.name)
            elif hasattr(n, "inputs"):
                stack.extend(n.inputs)
        return sorted(names)


class TracingWarning(UserWarning):
    """A traced value left the trace (its influence on the result is cut)."""


def _readonly(arr):
    # complex stays complex (a complex constant RF shape times a traced flip angle)
    arr = np.array(arr, dtype=np.complex128 if np.iscomplexobj(arr) else np.float64, copy=True)
    arr.flags.writeable = False
    return arr


def _to_numpy(value):
    if torch is not None and isinstance(value, torch.Tensor):
        return value.detach().cpu().to(torch.float64).numpy()
    return value


def is_tracer(x) -> bool:
    return isinstance(x, Tracer)


def value_of(x):
    """Concrete value of a tracer; other values are returned unchanged."""
    return x.value if isinstance(x, Tracer) else x


# ------------------------------------------------------------------ the tracer

def _kind_of(x) -> str:
    if isinstance(x, Tracer):
        return x.kind
    if isinstance(x, (bool, np.bool_)):
        return "b"
    if isinstance(x, (int, np.integer)):
        return "i"
    return "f"


_INT_PRESERVING = {"add", "sub", "mul", "floordiv", "mod", "neg", "abs", "minimum", "maximum"}


def _result_kind(op: str, args) -> str:
    if _ops.OPS[op].boolean:
        return "b"
    if op in _INT_PRESERVING and all(_kind_of(a) in "ib" for a in args):
        return "i"
    if op == "pow" and all(_kind_of(a) in "ib" for a in args) and np.all(value_of(args[1]) >= 0):
        return "i"
    return "f"


def _ctx_of(args):
    for a in args:
        if isinstance(a, Tracer):
            return a.ctx
    return context()


def apply(op: str, *args, attrs: tuple = (), kind: str | None = None):
    """Record ``op(*args)``; plain numbers give plain results (constant folding)."""
    ctx = _ctx_of(args)
    args = tuple(ctx.lift(a) for a in args)
    values = [value_of(a) for a in args]
    result = _ops.eval_numpy(op, values, attrs)
    if not any(isinstance(a, Tracer) for a in args):
        return result
    node = ctx.builder.op(op, [ctx.node(a) for a in args], attrs)
    if isinstance(result, np.ndarray):
        result = _readonly(result) if result.dtype != bool else result
    return Tracer(ctx, node, result, kind or _result_kind(op, args))


def _operand(x) -> bool:
    """Can x meet a tracer in arithmetic? (numbers, arrays, tensors, tracers)"""
    return isinstance(x, (Tracer, int, float, complex, np.generic, np.ndarray)) or (
        torch is not None and isinstance(x, torch.Tensor))


def _python_div_check(op, divisor, numerator=0.0):
    # Python raises for a scalar divided by zero; a traced *array* divided by zero follows
    # numpy (inf / nan, no exception), like the numpy array it stands for
    v = value_of(divisor)
    if np.ndim(v) == 0 and v == 0 and np.ndim(value_of(numerator)) == 0:
        name = {"div": "division", "floordiv": "integer division or modulo", "mod": "modulo"}[op]
        raise ZeroDivisionError(f"float {name} by zero")
    if isinstance(divisor, Tracer) and np.ndim(v) == 0 and np.ndim(value_of(numerator)) == 0:
        # Python raises where the divisor is 0: a re-execution must not divide by a traced 0
        divisor.ctx.add_guard(apply("ne", divisor, 0), "bool", True)


class Tracer:
    """A traced number or array: a graph node plus its concrete value."""

    __slots__ = ("ctx", "node", "value", "kind")
    __array_priority__ = 1000

    def __init__(self, ctx: TraceContext, node: int, value, kind: str = "f"):
        self.ctx = ctx
        self.node = node
        self.value = value
        self.kind = kind

    # -- arithmetic ------------------------------------------------------------
    # (an operand that is not a number gives NotImplemented: Python then raises
    # the TypeError it raises for plain floats)
    def __add__(self, o): return apply("add", self, o) if _operand(o) else NotImplemented
    def __radd__(self, o): return apply("add", o, self) if _operand(o) else NotImplemented
    def __sub__(self, o): return apply("sub", self, o) if _operand(o) else NotImplemented
    def __rsub__(self, o): return apply("sub", o, self) if _operand(o) else NotImplemented
    def __mul__(self, o): return apply("mul", self, o) if _operand(o) else NotImplemented
    def __rmul__(self, o): return apply("mul", o, self) if _operand(o) else NotImplemented

    def __truediv__(self, o):
        if not _operand(o):
            return NotImplemented
        _python_div_check("div", o, self)
        return apply("div", self, o)

    def __rtruediv__(self, o):
        if not _operand(o):
            return NotImplemented
        _python_div_check("div", self)
        return apply("div", o, self)

    def __floordiv__(self, o):
        if not _operand(o):
            return NotImplemented
        _python_div_check("floordiv", o, self)
        return apply("floordiv", self, o)

    def __rfloordiv__(self, o):
        if not _operand(o):
            return NotImplemented
        _python_div_check("floordiv", self)
        return apply("floordiv", o, self)

    def __mod__(self, o):
        if not _operand(o):
            return NotImplemented
        _python_div_check("mod", o, self)
        return apply("mod", self, o)

    def __rmod__(self, o):
        if not _operand(o):
            return NotImplemented
        _python_div_check("mod", self)
        return apply("mod", o, self)

    def __divmod__(self, o): return (self // o, self % o)
    def __rdivmod__(self, o): return (o // self, o % self)
    def __pow__(self, o): return apply("pow", self, o) if _operand(o) else NotImplemented
    def __rpow__(self, o): return apply("pow", o, self) if _operand(o) else NotImplemented
    def __neg__(self): return apply("neg", self)
    def __pos__(self): return self
    def __abs__(self): return apply("abs", self)

    # -- comparisons: traced truth values --------------------------------------
    def __lt__(self, o): return apply("lt", self, o) if _operand(o) else NotImplemented
    def __le__(self, o): return apply("le", self, o) if _operand(o) else NotImplemented
    def __gt__(self, o): return apply("gt", self, o) if _operand(o) else NotImplemented
    def __ge__(self, o): return apply("ge", self, o) if _operand(o) else NotImplemented
    # (None, strings, ...: Python falls back to identity, as for a float)
    def __eq__(self, o): return apply("eq", self, o) if _operand(o) else NotImplemented
    def __ne__(self, o): return apply("ne", self, o) if _operand(o) else NotImplemented

    def __hash__(self):
        # dict / set lookups compare values: hash the value like a float does (pinned)
        return hash(self._pin("hash()"))

    def __invert__(self):
        if self.kind == "b":
            return apply("not", self)
        raise TypeError("bad operand type for unary ~: a traced float")

    def __and__(self, o): return apply("and", self, o)
    __rand__ = __and__
    def __or__(self, o): return apply("or", self, o)
    __ror__ = __or__

    # -- Python's rounding protocol: integers, like Python's own round/ceil ----
    def _to_integer(self, op):
        value = self.value
        if np.ndim(value) == 0 and not np.isfinite(value):
            # what Python raises for math.ceil(inf), round(nan), ...
            if np.isnan(value):
                raise ValueError("cannot convert float NaN to integer")
            raise OverflowError("cannot convert float infinity to integer")
        if np.ndim(value) == 0:  # Python raises for nan / inf: a re-execution must not pass one
            self.ctx.add_guard(apply("isfinite", self), "bool", True)
        return apply(op, self, kind="i")

    def __round__(self, ndigits=None):
        if ndigits is None:
            return self._to_integer("round")
        return apply("round_digits", self, attrs=(int(ndigits),), kind="f")

    def __ceil__(self): return self._to_integer("ceil")
    def __floor__(self): return self._to_integer("floor")
    def __trunc__(self): return self._to_integer("trunc")

    # -- concretisation: always guarded ----------------------------------------
    def _scalar_value(self, what: str):
        if np.ndim(self.value) != 0:
            raise TypeError(f"{what} of a traced array of shape {np.shape(self.value)}")
        return self.value

    def __bool__(self):
        observed = bool(self._scalar_value("truth value"))
        self.ctx.add_guard(self, "bool", observed)
        return observed

    def __int__(self):
        observed = int(self._scalar_value("int()"))
        self.ctx.add_guard(self, "int", observed)
        return observed

    def __index__(self):
        if self.kind == "f":
            raise TypeError("'float' object cannot be interpreted as an integer "
                            "(a traced float was used as an index or count)")
        return self.__int__()

    def __float__(self):
        observed = float(self._scalar_value("float()"))
        self.ctx.add_guard(self, "float", observed)
        line = user_line()
        params = ", ".join(self.ctx.params_of(self.node)) or "no parameter"
        self.ctx.say_once(("float", line),
                          f"{line}: float() of a traced value cuts the influence of "
                          f"{params} (no gradient; a different value re-traces). Use "
                          "numpy / torch / pulseqzero.pp_impl functions to stay traced.")
        return observed

    def __complex__(self):
        return complex(self.__float__())

    def __format__(self, spec):
        if np.ndim(self.value) and not spec:  # f"{v}" of a traced array: numpy's str, pinned
            return format(np.asarray(self), spec)
        value = self._scalar_value("format()")
        python = {"b": bool, "i": int, "f": float}[self.kind](value)
        observed = format(python, spec)
        self.ctx.add_guard(self, "format", observed, spec=f"{self.kind}:{spec}")
        return observed

    def item(self):
        return self.__float__() if self.kind == "f" else self.__int__()

    def __str__(self):
        # str(x) is format(x, ""): the string of the value (guarded, like format)
        if np.ndim(self.value):
            return str(np.asarray(self))
        return self.__format__("")

    def _pin(self, what: str):
        """The concrete Python value (bool / int / float by kind), guarded: ``what`` left
        the trace."""
        value = self._scalar_value(what)
        if self.kind == "b":
            observed, kind = bool(value), "bool"
        elif self.kind == "i":
            observed, kind = int(value), "int"
        else:
            observed, kind = float(value), "float"
        self.ctx.add_guard(self, kind, observed)
        line = user_line()
        self.ctx.say_once((what, line), f"{line}: {what} of a traced value uses its concrete value "
                          f"(pinned: a different value of {', '.join(self.ctx.params_of(self.node)) or 'it'}"
                          " re-traces)")
        return observed

    def __copy__(self):
        return self  # immutable

    def __deepcopy__(self, memo):
        return self  # immutable; never copy the trace context

    def __reduce__(self):
        # pickling leaves the trace: the concrete value, pinned
        if np.ndim(self.value):
            return (np.array, (np.asarray(self).tolist(),))
        value = self._pin("pickling")
        return (type(value), (value,))

    def is_integer(self):
        """``float.is_integer``, traced: finite and equal to its truncation."""
        return apply("and", apply("isfinite", self), apply("eq", apply("trunc", self), self))

    def tolist(self):
        """Like numpy's ``tolist``, with traced elements (a scalar is itself)."""
        return list(self) if np.ndim(self.value) else self

    def conjugate(self):
        return self

    def __repr__(self):  # the debugging form: does not concretise
        return f"Tracer(%{self.node}={self.value!r})"

    # -- arrays ----------------------------------------------------------------
    @property
    def shape(self):
        return np.shape(self.value)

    @property
    def ndim(self):
        return np.ndim(self.value)

    @property
    def size(self):
        return int(np.size(self.value))

    @property
    def dtype(self):
        return np.result_type(self.value)

    def __len__(self):
        if np.ndim(self.value) == 0:
            raise TypeError("len() of a traced scalar")
        return np.shape(self.value)[0]

    def __iter__(self):
        if np.ndim(self.value) == 0:
            raise TypeError("iteration over a traced scalar")
        return (self[i] for i in range(len(self)))

    def __getitem__(self, index):
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            return apply("slice", self, attrs=(start, stop, step), kind=self.kind)
        if isinstance(index, tuple) or isinstance(index, (list, np.ndarray)):
            index = np.arange(len(self))[index] if not isinstance(index, tuple) else index
            if isinstance(index, np.ndarray):
                return stack([self[int(i)] for i in index])
            raise IndexError("only 1-D indexing of traced arrays is supported")
        i = int(index.__index__())
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"index {i} is out of bounds for a traced array of size {n}")
        return apply("getitem", self, attrs=(i % n,), kind=self.kind)

    def __array__(self, dtype=None, copy=None):
        # numpy wants the data (np.array([...]) of tracers, ...): exact value, guarded
        if np.ndim(self.value) == 0:
            return np.asarray(self.__float__() if self.kind == "f" else self.__int__(), dtype=dtype)
        line = user_line()
        self.ctx.say_once(("array", line), f"{line}: a traced array was converted to a numpy "
                          "array; its values are pinned (a different value re-traces)")
        for i in range(len(self)):
            self.ctx.add_guard(self[i], "float", float(self.value[i]))
        return np.asarray(self.value, dtype=dtype)

    # -- numpy protocol --------------------------------------------------------
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        op = _UFUNC_OPS.get(ufunc)
        if method == "__call__" and not kwargs and op is not None:
            if op == "square":
                return apply("mul", inputs[0], inputs[0])
            if op == "positive":
                return inputs[0]
            if op in _UFUNC_COMPOSITE:
                return _UFUNC_COMPOSITE[op](*inputs)
            kind = "f" if not _ops.OPS[op].boolean else "b"
            return apply(op, *inputs, kind=kind)
        return _leave_trace(ufunc, inputs, kwargs, method=method)

    def __array_function__(self, func, types, args, kwargs):
        handler = _ARRAY_FUNCTIONS.get(func)
        if handler is not None:
            return handler(*args, **kwargs)
        return _leave_trace(func, args, kwargs)

    # -- torch protocol --------------------------------------------------------
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "")
        handler = _TORCH_FUNCTIONS.get(name)
        if handler is not None:
            try:
                return handler(*args, **kwargs)
            except TypeError:
                pass
        return _leave_trace(func, args, kwargs)


# ------------------------------------------------------------------ helpers

def stack(items):
    """A traced vector of traced or plain scalars."""
    items = list(items)
    if not any(isinstance(x, Tracer) for x in items):
        return np.array(items, dtype=np.float64)
    return apply("stack", *items)


def _leave_trace(func, args, kwargs, method="__call__"):
    """A numpy / torch call we do not trace: its tracer inputs are pinned (guarded)."""
    tracers = [a for a in _flatten(list(args) + list(kwargs.values())) if isinstance(a, Tracer)]
    if tracers:
        ctx = tracers[0].ctx
        line = user_line()
        name = getattr(func, "__name__", repr(func))
        ctx.say_once(("leave", name, line), f"{line}: {name}() is not traced; the values it "
                     "gets are pinned (no gradient, a different value re-traces)")

    def concrete(a):
        if isinstance(a, Tracer):
            return np.asarray(a) if np.ndim(a.value) else (float(a) if a.kind == "f" else int(a))
        if isinstance(a, (list, tuple)):
            return type(a)(concrete(x) for x in a)
        return a

    args = [concrete(a) for a in args]
    kwargs = {k: concrete(v) for k, v in kwargs.items()}
    if method != "__call__":
        return getattr(func, method)(*args, **kwargs)
    return func(*args, **kwargs)


def _flatten(items):
    for x in items:
        if isinstance(x, (list, tuple)):
            yield from _flatten(x)
        else:
            yield x


_UFUNC_OPS = {
    np.add: "add", np.subtract: "sub", np.multiply: "mul", np.true_divide: "div",
    np.floor_divide: "floordiv", np.remainder: "mod", np.power: "pow",
    np.negative: "neg", np.positive: "positive", np.absolute: "abs", np.fabs: "abs",
    np.sign: "sign", np.sqrt: "sqrt", np.square: "square", np.exp: "exp", np.log: "log",
    np.log10: "log10", np.sin: "sin", np.cos: "cos", np.tan: "tan", np.arcsin: "arcsin",
    np.arccos: "arccos", np.arctan: "arctan", np.arctan2: "arctan2", np.sinh: "sinh",
    np.cosh: "cosh", np.tanh: "tanh", np.minimum: "minimum", np.maximum: "maximum",
    np.floor: "floor", np.ceil: "ceil", np.rint: "round", np.trunc: "trunc",
    np.less: "lt", np.less_equal: "le", np.greater: "gt", np.greater_equal: "ge",
    np.equal: "eq", np.not_equal: "ne", np.isfinite: "isfinite",
    np.logical_not: "not", np.logical_and: "and", np.logical_or: "or",
    np.deg2rad: "deg2rad", np.radians: "deg2rad", np.rad2deg: "rad2deg", np.degrees: "rad2deg",
    np.isnan: "isnan", np.isinf: "isinf",
}

#: ufuncs numpy computes as exactly these ops (bit for bit; see tests/api/test_guards.py)
_UFUNC_COMPOSITE = {
    "deg2rad": lambda x: apply("mul", x, np.pi / 180.0, kind="f"),
    "rad2deg": lambda x: apply("mul", x, 180.0 / np.pi, kind="f"),
    "isnan": lambda x: apply("ne", x, x),
    "isinf": lambda x: apply("eq", apply("abs", x), np.inf),
}


def _reduce(op):
    def reduce(a, axis=None, **kwargs):
        if axis not in (None, 0) or kwargs.get("out") is not None:
            return _leave_trace(getattr(np, {"sum": "sum", "prod": "prod", "max_reduce": "max",
                                               "min_reduce": "min"}[op]), (a,), dict(kwargs, axis=axis))
        if isinstance(a, (list, tuple)):
            a = stack(a)
        if np.ndim(value_of(a)) == 0:
            return a
        return apply(op, a, kind="f")
    return reduce


def _np_round(a, decimals=0, out=None):
    if out is not None:
        return _leave_trace(np.round, (a,), {"decimals": decimals, "out": out})
    if decimals == 0:
        return apply("round", a, kind="f")
    return apply("round_np", a, attrs=(int(decimals),), kind="f")


def _np_where(cond, x, y):
    return apply("where", cond, x, y, kind="f")


def _np_clip(a, a_min, a_max, **kwargs):
    if kwargs:
        return _leave_trace(np.clip, (a, a_min, a_max), kwargs)
    if a_min is not None:
        a = apply("maximum", a, a_min)
    if a_max is not None:
        a = apply("minimum", a, a_max)
    return a


def _np_stack(arrays, axis=0, **kwargs):
    if axis != 0 or kwargs:
        return _leave_trace(np.stack, (arrays,), dict(kwargs, axis=axis))
    return stack(arrays)


def _np_mean(a, axis=None, **kwargs):
    if axis not in (None, 0) or kwargs:
        return _leave_trace(np.mean, (a,), dict(kwargs, axis=axis))
    n = np.size(value_of(a))
    return apply("div", apply("sum", a), n)


def _np_concatenate(arrays, axis=0, **kwargs):
    if axis != 0 or kwargs:
        return _leave_trace(np.concatenate, (arrays,), dict(kwargs, axis=axis))
    arrays = [stack(a) if isinstance(a, (list, tuple)) else a for a in arrays]
    arrays = [a if np.ndim(value_of(a)) else stack([a]) for a in arrays]
    if not any(isinstance(a, Tracer) for a in arrays):
        return np.concatenate(arrays)
    return apply("concat", *arrays)


def _np_diff(a, n=1, axis=-1, **kwargs):
    if axis not in (-1, 0) or kwargs or np.ndim(value_of(a)) != 1:
        return _leave_trace(np.diff, (a,), dict(kwargs, n=n, axis=axis))
    for _ in range(n):
        a = a[1:] - a[:-1]
    return a


def _np_cumsum(a, axis=None, **kwargs):
    if axis not in (None, 0) or kwargs:
        return _leave_trace(np.cumsum, (a,), dict(kwargs, axis=axis))
    return apply("cumsum", a)


def _np_sinc(x):
    return apply("sinc", x, kind="f")


def _np_shape(a):
    return np.shape(value_of(a))


def _np_ndim(a):
    return np.ndim(value_of(a))


def _np_size(a, axis=None):
    return np.size(value_of(a), axis)


def _np_squeeze(a, axis=None):
    if axis is not None or np.ndim(value_of(a)) <= 1:
        return a if axis is None else _leave_trace(np.squeeze, (a,), {"axis": axis})
    return _leave_trace(np.squeeze, (a,), {})


def _np_abs(a, **kw):
    return apply("abs", a) if not kw else _leave_trace(np.abs, (a,), kw)


def _np_all(a, axis=None, **kwargs):
    if axis is not None or kwargs:
        return _leave_trace(np.all, (a,), dict(kwargs, axis=axis))
    if np.ndim(value_of(a)) == 0:
        return apply("ne", a, 0) if _kind_of(a) != "b" else a
    return apply("min_reduce", apply("ne", a, 0), kind="b")


def _np_any(a, axis=None, **kwargs):
    if axis is not None or kwargs:
        return _leave_trace(np.any, (a,), dict(kwargs, axis=axis))
    if np.ndim(value_of(a)) == 0:
        return apply("ne", a, 0) if _kind_of(a) != "b" else a
    return apply("max_reduce", apply("ne", a, 0), kind="b")


def _np_norm(x, ord=None, axis=None, keepdims=False):
    # numpy: sqrt(x.dot(x)) for a real vector; the dot of a few elements sums in order
    if ord is not None or axis is not None or keepdims or np.ndim(value_of(x)) != 1:
        return _leave_trace(np.linalg.norm, (x,), dict(ord=ord, axis=axis, keepdims=keepdims))
    return apply("sqrt", apply("sum", apply("mul", x, x)))


_ARRAY_FUNCTIONS = {
    np.all: _np_all, np.any: _np_any,
    np.sum: _reduce("sum"), np.prod: _reduce("prod"), np.max: _reduce("max_reduce"),
    np.amax: _reduce("max_reduce"), np.min: _reduce("min_reduce"), np.amin: _reduce("min_reduce"),
    np.round: _np_round, np.around: _np_round, np.where: _np_where, np.clip: _np_clip,
    np.stack: _np_stack, np.concatenate: _np_concatenate, np.diff: _np_diff, np.mean: _np_mean, np.cumsum: _np_cumsum, np.sinc: _np_sinc,
    np.shape: _np_shape, np.ndim: _np_ndim, np.size: _np_size, np.squeeze: _np_squeeze,
    np.linalg.norm: _np_norm,
}


def _torch_binary(op, reverse=False):
    def f(a, b, *, alpha=None, rounding_mode=None):
        if alpha is not None:
            b = apply("mul", b, alpha)
        if rounding_mode == "floor":
            return apply("floordiv", b, a) if reverse else apply("floordiv", a, b)
        if rounding_mode is not None:
            raise TypeError("unsupported rounding_mode")
        return apply(op, b, a) if reverse else apply(op, a, b)
    return f


def _torch_unary(op, kind="f"):
    def f(a):
        return apply(op, a, kind=kind)
    return f


def _torch_clamp(a, min=None, max=None):
    return _np_clip(a, min, max)


def _torch_sum(a, dim=None):
    if dim is not None:
        raise TypeError
    return _reduce("sum")(a)


def _torch_round(a, decimals=0):
    return _np_round(a, decimals)


_TORCH_FUNCTIONS = {
    "add": _torch_binary("add"), "__add__": _torch_binary("add"),
    "__radd__": _torch_binary("add", True), "sub": _torch_binary("sub"),
    "subtract": _torch_binary("sub"), "__sub__": _torch_binary("sub"),
    "__rsub__": _torch_binary("sub", True), "mul": _torch_binary("mul"),
    "multiply": _torch_binary("mul"), "__mul__": _torch_binary("mul"),
    "__rmul__": _torch_binary("mul", True), "div": _torch_binary("div"),
    "true_divide": _torch_binary("div"), "__truediv__": _torch_binary("div"),
    "__rtruediv__": _torch_binary("div", True), "__floordiv__": _torch_binary("floordiv"),
    "pow": _torch_binary("pow"), "__pow__": _torch_binary("pow"),
    "__rpow__": _torch_binary("pow", True), "maximum": _torch_binary("maximum"),
    "minimum": _torch_binary("minimum"), "atan2": _torch_binary("arctan2"),
    "remainder": _torch_binary("mod"), "__mod__": _torch_binary("mod"),
    "neg": _torch_unary("neg"), "__neg__": _torch_unary("neg"), "abs": _torch_unary("abs"),
    "__abs__": _torch_unary("abs"), "sqrt": _torch_unary("sqrt"), "exp": _torch_unary("exp"),
    "log": _torch_unary("log"), "sin": _torch_unary("sin"), "cos": _torch_unary("cos"),
    "tan": _torch_unary("tan"), "asin": _torch_unary("arcsin"), "acos": _torch_unary("arccos"),
    "atan": _torch_unary("arctan"), "sinc": _torch_unary("sinc"), "sign": _torch_unary("sign"),
    "floor": _torch_unary("floor"), "ceil": _torch_unary("ceil"), "trunc": _torch_unary("trunc"),
    "round": _torch_round, "clamp": _torch_clamp, "clip": _torch_clamp, "sum": _torch_sum,
    "stack": lambda tensors, dim=0: _np_stack(tensors, dim),
    "lt": _torch_binary("lt"), "le": _torch_binary("le"), "gt": _torch_binary("gt"),
    "ge": _torch_binary("ge"), "eq": _torch_binary("eq"), "ne": _torch_binary("ne"),
    "__lt__": _torch_binary("lt"), "__le__": _torch_binary("le"), "__gt__": _torch_binary("gt"),
    "__ge__": _torch_binary("ge"), "__eq__": _torch_binary("eq"), "__ne__": _torch_binary("ne"),
}
