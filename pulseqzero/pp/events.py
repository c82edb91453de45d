"""PyPulseq events as the script sees them, and their snapshot into the IR.

An :class:`Event` is a ``SimpleNamespace``, as PyPulseq's events are (same
attributes, ``vars()``, ``copy``, ``isinstance(event, SimpleNamespace)``), and
remembers where it came from: the recorded call and every attribute assignment
the script made afterwards.
``add_block`` turns it into an immutable IR event (:func:`to_ir`).
"""
from __future__ import annotations

import functools
import inspect
from types import SimpleNamespace

import numpy as np

from .. import tracer as _tr
from ..ir import events as ir
from ..ir import shapes
from ..tracer import user_line
from .opts import Opts, as_opts, to_system

__all__: list = []


class Event(SimpleNamespace):
    """A PyPulseq event: public attributes in ``__dict__`` (a ``SimpleNamespace``'s),
    provenance in slots."""

    __slots__ = ("_call", "_output", "_assigns", "_hidden", "_snap")

    def __init__(self, **fields):
        for slot, value in (("_call", None), ("_output", None), ("_assigns", ()),
                            ("_hidden", {}), ("_snap", None)):
            object.__setattr__(self, slot, value)
        self.__dict__.update(fields)

    def __setattr__(self, name, value):
        if self._call is not None:
            ctx = _tr.context()
            assign = ir.Assign(name, to_arg(ctx, value), user_line())
            # the event holds the last value of an attribute: a new assignment replaces an
            # earlier one of the same attribute in its place, so that assignments in a loop
            # (rf.phase_offset = ... per TR) keep the origin short
            assigns = self._assigns
            for i, a in enumerate(assigns):
                if a.attr == name:
                    assigns = assigns[:i] + (assign,) + assigns[i + 1:]
                    break
            else:
                assigns = assigns + (assign,)
            object.__setattr__(self, "_assigns", assigns)
        else:
            object.__setattr__(self, "_snap", None)  # no origin to tell the change
        self.__dict__[name] = _tr.context().lift(value)

    def __getattr__(self, name):
        compute = _LAZY.get((self.__dict__.get("type"), name))
        if compute is None:
            # PyPulseq's message (a SimpleNamespace's), then which event this is
            raise AttributeError(f"'types.SimpleNamespace' object has no attribute {name!r} "
                                 f"(a {self.__dict__.get('type', 'untyped')!r} event)")
        value = compute(self)
        self.__dict__[name] = value
        return value

    def __repr__(self):
        items = ", ".join(f"{k}={v!r}" for k, v in self.__dict__.items())
        return f"namespace({items})"

    def __eq__(self, other):
        if isinstance(other, (Event, SimpleNamespace)):
            return self is other or vars(self) == vars(other)
        return NotImplemented

    __hash__ = None  # like SimpleNamespace

    def __copy__(self):
        new = Event.__new__(Event)
        for slot in Event.__slots__:
            object.__setattr__(new, slot, getattr(self, slot))
        object.__setattr__(new, "_hidden", dict(self._hidden))
        new.__dict__.update(self.__dict__)
        return new

    def __deepcopy__(self, memo):
        new = self.__copy__()
        for k, v in self.__dict__.items():
            if isinstance(v, np.ndarray):
                new.__dict__[k] = v.copy()
        return new


def hidden(event, key, default=None):
    return event._hidden.get(key, default) if isinstance(event, Event) else default


def set_hidden(event: Event, **items):
    event._hidden.update(items)


# ----------------------------------------------------------------- lazy attributes

def _rf_waveform(event):
    shape = event._hidden.get("shape")
    if shape is None:
        raise AttributeError("this RF event has no waveform")
    signal, t = shapes.waveform(shape[0], event._hidden["flip_angle"], *shape[1:], xp=np,
                                **event._hidden.get("shape_static", {}))
    if isinstance(signal, np.ndarray) and signal.dtype.kind == "f":
        signal = np.where(signal == 0, 0.0, signal)  # PyPulseq turns -0.0 into 0.0
    return signal, t


_LAZY = {
    ("rf", "signal"): lambda e: _rf_waveform(e)[0],
    ("rf", "t"): lambda e: _rf_waveform(e)[1],
}


# ----------------------------------------------------------------- arguments

def to_arg(ctx, value):
    """An IR argument for any value a script passes to a PyPulseq call."""
    if isinstance(value, (str, bool, type(None), np.bool_)):
        return ir.ArgLiteral(value if not isinstance(value, np.bool_) else bool(value))
    if isinstance(value, (Event, SimpleNamespace)):
        return ir.ArgEvent(to_ir(ctx, value))
    if isinstance(value, Opts) or _is_pypulseq_opts(value):
        return ir.ArgSystem(to_system(as_opts(value)))
    if isinstance(value, (list, tuple)):
        return ir.ArgList(tuple(to_arg(ctx, v) for v in value), isinstance(value, tuple))
    if isinstance(value, dict):
        raise TypeError("dict arguments are not supported by the recording implementation")
    value = ctx.lift(value)
    return ir.ArgValue(ctx.node(value), _tr._kind_of(value) == "i" and np.ndim(_tr.value_of(value)) == 0)


def _is_pypulseq_opts(value) -> bool:
    return type(value).__name__ == "Opts" and hasattr(value, "grad_raster_time")


def recorded(name: str | None = None):
    """Decorator: record a PyPulseq call and attach it as origin of the events it returns.

    Nested calls (our implementation calling another recorded function) are
    not recorded: the events they return belong to the outer call. Errors are
    re-raised with the user's script line.
    """
    def decorate(fn):
        signature = inspect.signature(fn)
        call_name = name or fn.__name__
        fits = _binds_plainly(signature)

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            ctx = _tr.context()
            if ctx.depth > 0:
                return fn(*args, **kwargs)
            line = user_line()
            args = tuple(ctx.lift(a) for a in args)
            kwargs = {k: ctx.lift(v) for k, v in kwargs.items()}
            if not fits(args, kwargs):
                try:
                    signature.bind(*args, **kwargs)
                except TypeError as e:
                    raise TypeError(f"{call_name}() {e} [{line}]") from None
            ctx.depth += 1
            try:
                result = fn(*args, **kwargs)
            except (ValueError, AssertionError, TypeError, ZeroDivisionError, IndexError,
                    OverflowError) as e:
                raise with_line(e, line) from None
            finally:
                ctx.depth -= 1
            call = ir.Call(call_name, tuple(to_arg(ctx, a) for a in args),
                           tuple((k, to_arg(ctx, v)) for k, v in kwargs.items()), line,
                           ctx.next_call_id())
            # an event passed through unchanged (rotate's bypassed events) keeps its origin
            inputs = {id(a) for a in _flat_args(args, kwargs) if isinstance(a, Event)}
            if isinstance(result, (tuple, list)):
                for i, ev in enumerate(result):
                    if id(ev) not in inputs:
                        _attach(ev, call, i)
            elif id(result) not in inputs:
                _attach(result, call, None)
            return result
        wrapper.__signature__ = signature
        return wrapper
    return decorate


def _binds_plainly(signature):
    """A quick test that ``signature.bind(*args, **kwargs)`` succeeds (binding costs more
    than most recorded calls); False sends the call through ``bind`` for its error."""
    P = inspect.Parameter
    params = list(signature.parameters.values())
    positional = tuple(p.name for p in params if p.kind in (P.POSITIONAL_ONLY,
                                                           P.POSITIONAL_OR_KEYWORD))
    keywords = frozenset(p.name for p in params if p.kind in (P.POSITIONAL_OR_KEYWORD,
                                                              P.KEYWORD_ONLY))
    required = tuple((i, p.name) for i, p in enumerate(params) if p.default is P.empty
                     and p.kind not in (P.VAR_POSITIONAL, P.VAR_KEYWORD))
    var_positional = any(p.kind == P.VAR_POSITIONAL for p in params)
    var_keyword = any(p.kind == P.VAR_KEYWORD for p in params)
    if var_positional and any(p.kind == P.KEYWORD_ONLY for p in params if p.default is P.empty):
        return lambda args, kwargs: False

    def fits(args, kwargs) -> bool:
        n = len(args)
        if n > len(positional) and not var_positional:
            return False
        for k in kwargs:
            if (k not in keywords and not var_keyword) or k in positional[:n]:
                return False
        for i, k in required:
            if i >= n and k not in kwargs:
                return False
        return True
    return fits


def with_line(error: Exception, line: str) -> Exception:
    """The same kind of error, its message ending with the user's script line."""
    message = str(error.args[0]) if error.args else type(error).__name__
    if line not in message:
        message = f"{message} [{line}]"
    new = type(error)(message, *error.args[1:])
    return new


def _attach(event, call, output):
    if isinstance(event, Event):
        object.__setattr__(event, "_call", call)
        object.__setattr__(event, "_output", output)
        object.__setattr__(event, "_assigns", ())
        object.__setattr__(event, "_snap", None)  # a copy may carry its source's snapshot


def _flat_args(args, kwargs):
    for a in list(args) + list(kwargs.values()):
        if isinstance(a, (list, tuple)):
            yield from _flat_args(a, {})
        else:
            yield a


# ----------------------------------------------------------------- snapshot

def to_ir(ctx, event):
    """The IR event for an event as it is now (cached until it is assigned to)."""
    if isinstance(event, Event):
        snap = event._snap
        if snap is not None and snap[0] is event._assigns and snap[1] is ctx:
            return snap[2]
    origin = None
    if isinstance(event, Event) and event._call is not None:
        origin = ir.Origin(event._call, event._output, event._assigns)
    get = event.__dict__
    node = ctx.node
    kind = get.get("type")
    if kind == "trap":
        result = ir.Trap(get["channel"], node(get["amplitude"]), node(get["rise_time"]),
                         node(get["flat_time"]), node(get["fall_time"]), node(get["delay"]), origin)
    elif kind == "rf":
        result = ir.RF(_rf_shape(ctx, event), node(_rf_flip(event)), node(get["shape_dur"]),
                       node(get["delay"]), node(get["freq_offset"]), node(get["phase_offset"]),
                       node(get["dead_time"]), node(get["ringdown_time"]), get.get("use", ""),
                       origin, **_optional_nodes(ctx, get, "rf"))
    elif kind == "adc":
        optional = _optional_nodes(ctx, get, "adc")
        if optional.get("phase_modulation") is not None:
            optional["has_phase_modulation"] = True
        result = ir.ADC(int(get["num_samples"]), node(get["dwell"]), node(get["delay"]),
                        node(get["freq_offset"]), node(get["phase_offset"]),
                        node(get["dead_time"]), origin, **optional)
    elif kind == "soft_delay":
        num_id = get["numID"]
        result = ir.SoftDelay(get["hint"], None if num_id is None else int(num_id),
                              node(get["offset"]), node(get["factor"]),
                              node(get["default_duration"]), origin)
    elif kind == "grad":
        result = ir.Grad(get["channel"], node(get["waveform"]), node(get["tt"]), node(get["delay"]),
                         node(get["shape_dur"]), node(get["first"]), node(get["last"]), origin)
    elif kind in ("labelset", "labelinc"):
        result = ir.Label(kind, get["label"], node(get["value"]), origin)
    elif kind in ("trigger", "output"):
        result = ir.Trigger(kind, get["channel"], node(get["delay"]), node(get["duration"]), origin)
    elif kind == "delay":
        result = ir.Delay(node(get["delay"]), origin)
    else:
        raise TypeError(f"the recording implementation cannot add an event of type {kind!r} "
                        f"[{user_line()}]")
    if isinstance(event, Event):
        object.__setattr__(event, "_snap", (event._assigns, ctx, result))  # valid until assigned
    return result


def _optional_nodes(ctx, fields, kind) -> dict:
    """The 1.5 API's fields an event has (a 1.4 event has none), as nodes."""
    out = {}
    for name in ir.OPTIONAL_FIELDS[kind]:
        value = fields.get(name)
        if value is not None:
            if isinstance(value, (list, tuple)):  # a phase modulation given as a list
                from .points_to_waveform import as_array
                value = as_array(value)
            out[name] = ctx.node(value)
    return out


def _waveform_assigned(event) -> bool:
    return isinstance(event, Event) and any(a.attr in ("signal", "t") for a in event._assigns)


def _rf_flip(event):
    if _waveform_assigned(event) or hidden(event, "shape") is None:
        return 0.0  # the waveform itself is the truth; flip_angle is informative only
    return event._hidden["flip_angle"]


def _rf_shape(ctx, event):
    shape = hidden(event, "shape")
    if shape is None or _waveform_assigned(event):
        signal, t = event.signal, event.t
        if _tr.is_tracer(signal) or _tr.is_tracer(t):
            return ir.SampledShape(ctx.node(signal), ctx.node(t))
        return ir.SampledShape(ctx.node(np.asarray(signal)), ctx.node(np.asarray(t, dtype=float)))
    kind, *params = shape
    return shapes.SHAPE_RECORDS[kind](*[ctx.node(p) for p in params],
                                      **event._hidden.get("shape_static", {}))
