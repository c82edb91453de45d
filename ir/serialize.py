"""A sequence graph as versioned JSON, and back -- data only, validated.

``to_dict(graph)`` gives plain JSON-able data; ``from_dict(data)`` rebuilds an
equal graph; ``save(graph, path)`` / ``load(path)`` write and read files
(atomically written, UTF-8 JSON). Nothing is pickled and nothing in a file is
executed or looked up by name outside fixed tables: op names must be in the
closed op set, event and RF shape kinds in the IR's, and recorded call names
in ``call_names`` when the caller gives them (``pulseqzero.load`` gives the
PyPulseq functions pulseqzero implements). Every node reference must point to
an earlier node (no forward references, no cycles), every field has its type,
and sizes are bounded. Anything else raises :class:`GraphFileError` with the
JSON path of the offending item.

Numbers are exact: floats are written as ``float.hex`` strings (``-0.0``,
``inf`` and ``nan`` included), arrays as little-endian bytes in base64, and
the Python / numpy type of every constant is kept (a replayed call gets the
very ``int``, ``float`` or array the script passed).

Integrity: version 2 files carry ``"sha256"``, the SHA-256 of the rest of the
data as canonical JSON (sorted keys, no spaces). It is checked on load, after
the structure: a file edited by hand or damaged -- an op swapped for another
valid op, a guard deleted -- is refused instead of exporting a different
sequence. (It detects changes, it does not authenticate: whoever can edit a
file can recompute it.) Version 1 files, which have none, load with a warning.

Format (version 2)::

    {"format": "pulseqzero.graph", "version": 2, "sha256": ..., "name": ...,
     "nodes": [["param", name, shape] | ["const", value] | ["op", name, [inputs], [attrs]]],
     "params": [{"name", "node", "shape", "traced"}], "system": {...},
     "calls": [{"name", "args", "kwargs", "line", "id"}],
     "events": [{"kind", ...fields, "origin": {"call", "output", "assigns"}}],
     "blocks": [{"events": [event index], "duration": node, "line"}],
     "definitions": [[key, arg]], "guards": [{"node", "kind", "observed", "line", "spec"}],
     "registrations": [{"before": block index, "event": event index, "line"}]}

Captured tensors (``mr0_mode``) are saved as their traced values.
"""
from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import warnings
from pathlib import Path

import attrs
import numpy as np

from . import events as ev
from . import ops as _ops
from . import graph as _graph
from .files import atomic_write
from .graph import GUARD_KINDS, Block, Guard, ParamInfo, SequenceGraph

#: ``seq.register_*_event`` records (where the IR has them)
_Registration = getattr(_graph, "Registration", None)
from .shapes import SHAPE_RECORDS
from .values import Const, Op, Param, Values, freeze_array

FORMAT = "pulseqzero.graph"
VERSION = 2
#: versions this module reads (1: without the content hash)
READS = (1, 2)

# -- limits: a file beyond these is refused before anything big is built
MAX_FILE_BYTES = 1 << 28
MAX_NODES = 10_000_000
MAX_BLOCKS = 10_000_000
MAX_EVENTS = 10_000_000
MAX_ARRAY_ELEMENTS = 1 << 26  # one constant or parameter
MAX_TOTAL_ELEMENTS = 1 << 28  # all of them
MAX_NDIM = 8
MAX_STRING = 1 << 16
MAX_DEPTH = 64  # nesting of call arguments (lists, events in lists)
MAX_ATTRS = 8
MAX_SAMPLES = 1 << 24  # of one ADC event (a sample is 8 bytes in every array made of it)
MAX_TOTAL_SAMPLES = 1 << 28  # of all ADC events of all blocks together

#: numpy dtypes a constant may have
DTYPES = {"bool": np.bool_, "i1": np.int8, "i2": np.int16, "i4": np.int32, "i8": np.int64,
          "u1": np.uint8, "u2": np.uint16, "u4": np.uint32, "u8": np.uint64,
          "f4": np.float32, "f8": np.float64, "c8": np.complex64, "c16": np.complex128}
_DTYPE_NAMES = {np.dtype(t): name for name, t in DTYPES.items()}

_EVENT_TYPES = {"trap": ev.Trap, "grad": ev.Grad, "rf": ev.RF, "adc": ev.ADC, "label": ev.Label,
                "soft_delay": ev.SoftDelay,
                "trigger": ev.Trigger, "delay": ev.Delay}
#: static (non-node) fields of each event kind and their types
_STATIC = {"trap": {"channel": str}, "grad": {"channel": str}, "rf": {"use": str},
           "adc": {"num_samples": int}, "label": {"type": str, "label": str},
           "trigger": {"type": str, "channel": str}, "delay": {}, "soft_delay": {"hint": str}}
#: static fields that only events traced with the 1.5 API have (absent: the default)
_STATIC_OPTIONAL = {"adc": {"has_phase_modulation": bool}, "soft_delay": {"num_id": int}}


def _n_attrs(op: str) -> int:
    """How many static attributes an op has (its printing template names them)."""
    return len(set(re.findall(r"\{a(\d+)\}", _ops.OPS[op].fmt)))


class GraphFileError(ValueError):
    """A graph file (or dict) that is not a valid pulseqzero graph."""


# ====================================================================== numbers


def _number_out(x):
    """A scalar constant with its Python / numpy type."""
    if isinstance(x, np.generic):  # first: np.float64 is a float subclass
        if x.dtype not in _DTYPE_NAMES:
            raise TypeError(f"cannot save a constant of dtype {x.dtype}")
        return {"scalar": _DTYPE_NAMES[x.dtype], "data": _b64(np.asarray(x))}
    if isinstance(x, bool):
        return {"bool": x}
    if isinstance(x, int):
        return {"int": str(x)}
    if isinstance(x, float):
        return {"float": x.hex()}
    if isinstance(x, np.ndarray):
        if x.dtype not in _DTYPE_NAMES:
            raise TypeError(f"cannot save an array of dtype {x.dtype}")
        return {"array": _DTYPE_NAMES[x.dtype], "shape": list(x.shape), "data": _b64(x)}
    if x is None:
        return {"none": True}
    raise TypeError(f"cannot save a constant of type {type(x).__name__}")


def _b64(a: np.ndarray) -> str:
    a = np.ascontiguousarray(a)
    return base64.b64encode(a.astype(a.dtype.newbyteorder("<")).tobytes()).decode("ascii")


# ====================================================================== to_dict


def to_dict(graph: SequenceGraph) -> dict:
    """Plain JSON-able data for a graph (see the module docstring for the format)."""
    nodes = []
    for node in graph.values.nodes:
        if isinstance(node, Param):
            nodes.append(["param", node.name, list(node.shape)])
        elif isinstance(node, Const):
            nodes.append(["const", _number_out(node.value)])
        else:
            nodes.append(["op", node.op, list(node.inputs), [_attr_out(a) for a in node.attrs]])
    calls, events = [], []
    call_index, event_index = {}, {}

    def call_ref(call):
        key = id(call)
        if key not in call_index:
            args = [arg_out(a) for a in call.args]
            kwargs = [[k, arg_out(a)] for k, a in call.kwargs]
            call_index[key] = (call, len(calls))
            calls.append({"name": call.name, "args": args, "kwargs": kwargs, "line": call.line,
                          "id": call.id})
        return call_index[key][1]

    def event_ref(event):
        key = id(event)
        if key not in event_index:
            data = {"kind": event.kind}
            for name in _STATIC[event.kind]:
                data[name] = getattr(event, name)
            for name in _STATIC_OPTIONAL.get(event.kind, ()):
                if getattr(event, name) is not None and getattr(event, name) is not False:
                    data[name] = getattr(event, name)
            for name in ev.value_fields(event):
                data[name] = getattr(event, name)
            if event.kind == "rf":
                shape = event.shape
                data["shape"] = {"kind": shape.kind, **{
                    a.name: getattr(shape, a.name) for a in attrs.fields(type(shape))}}
            origin = event.origin
            if origin is not None:  # the origin's nested events come first
                data["origin"] = {
                    "call": call_ref(origin.call), "output": origin.output,
                    "assigns": [{"attr": a.attr, "value": arg_out(a.value), "line": a.line}
                                for a in origin.assigns]}
            event_index[key] = (event, len(events))
            events.append(data)
        return event_index[key][1]

    def arg_out(arg):
        if isinstance(arg, ev.ArgValue):
            return {"value": arg.node, "integral": arg.integral}
        if isinstance(arg, ev.ArgLiteral):
            return {"literal": arg.value}
        if isinstance(arg, ev.ArgSystem):
            return {"system": _system_out(arg.system)}
        if isinstance(arg, ev.ArgEvent):
            return {"event": event_ref(arg.event)}
        if isinstance(arg, ev.ArgList):
            return {"list": [arg_out(a) for a in arg.items], "tuple": arg.is_tuple}
        raise TypeError(f"cannot save argument {arg!r}")

    blocks = [{"events": [event_ref(e) for e in b.events], "duration": b.duration, "line": b.line}
              for b in graph.blocks]
    registrations = [{"before": r.before, "event": event_ref(r.event), "line": r.line}
                     for r in getattr(graph, "registrations", ())]
    data = {
        "format": FORMAT, "version": VERSION, "name": graph.name,
        "nodes": nodes,
        "params": [{"name": p.name, "node": p.node, "shape": list(p.shape),
                    "traced": _number_out(np.asarray(p.traced_value, dtype=np.float64))}
                   for p in graph.params],
        "system": _system_out(graph.system),
        "calls": calls,
        "events": events,
        "blocks": blocks,
        "definitions": [[k, arg_out(a)] for k, a in graph.definitions],
        # the API version only when it is not 1.4 (1.4 graphs keep their bytes and hashes)
        **({"api": graph.api} if getattr(graph, "api", "1.4") != "1.4" else {}),
        "guards": [{"node": g.node, "kind": g.kind, "observed": _observed_out(g.observed),
                    "line": g.line, "spec": g.spec} for g in graph.guards],
        "registrations": registrations,
    }
    data["sha256"] = content_hash(data)
    return data


def content_hash(data: dict) -> str:
    """SHA-256 (hex) of the data without its ``"sha256"``, as canonical JSON."""
    rest = {k: v for k, v in data.items() if k != "sha256"}
    text = json.dumps(rest, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _attr_out(a):
    if isinstance(a, (bool, np.bool_)):
        raise TypeError("boolean op attributes are not part of the format")
    if isinstance(a, (int, np.integer)):
        return int(a)
    if a is None:
        return None
    raise TypeError(f"cannot save op attribute {a!r}")


def _system_out(system) -> dict:
    return {name: _number_out(value) for name, value in system.as_dict().items()}


def _observed_out(x):
    if isinstance(x, str):
        return {"str": x}
    return _number_out(x)


# ====================================================================== from_dict


class _Reader:
    """Validating reader: every accessor names the JSON path of what it checks."""

    def __init__(self, call_names):
        self.call_names = call_names
        self.total_elements = 0

    def fail(self, path, message):
        raise GraphFileError(f"{path}: {message}")

    def get(self, obj, key, kind, path):
        if not isinstance(obj, dict):
            self.fail(path, f"expected an object, got {type(obj).__name__}")
        if key not in obj:
            self.fail(path, f"missing {key!r}")
        return self.check(obj[key], kind, f"{path}.{key}")

    def check(self, value, kind, path):
        if kind is int:
            if not isinstance(value, int) or isinstance(value, bool):
                self.fail(path, f"expected an integer, got {type(value).__name__}")
        elif kind is str:
            if not isinstance(value, str):
                self.fail(path, f"expected a string, got {type(value).__name__}")
            if len(value) > MAX_STRING:
                self.fail(path, f"string of {len(value)} characters (limit {MAX_STRING})")
        elif kind is bool:
            if not isinstance(value, bool):
                self.fail(path, f"expected true / false, got {type(value).__name__}")
        elif kind is list:
            if not isinstance(value, list):
                self.fail(path, f"expected a list, got {type(value).__name__}")
        elif kind is dict:
            if not isinstance(value, dict):
                self.fail(path, f"expected an object, got {type(value).__name__}")
        return value

    def count(self, value, limit, path):
        if len(value) > limit:
            self.fail(path, f"{len(value)} entries (limit {limit})")
        return value

    def shape(self, value, path):
        self.check(value, list, path)
        if len(value) > MAX_NDIM:
            self.fail(path, f"{len(value)} dimensions (limit {MAX_NDIM})")
        for k, d in enumerate(value):
            self.check(d, int, f"{path}[{k}]")
            if not 0 <= d <= MAX_ARRAY_ELEMENTS:
                self.fail(path, f"dimension {d} out of range")
        size = math.prod(value)
        if size > MAX_ARRAY_ELEMENTS:
            self.fail(path, f"{size} elements (limit {MAX_ARRAY_ELEMENTS})")
        return tuple(value)

    def float_in(self, text, path):
        self.check(text, str, path)
        try:
            return float.fromhex(text) if text not in ("nan", "-nan") else float("nan")
        except (ValueError, OverflowError):
            self.fail(path, f"not a hexadecimal float: {text[:40]!r}")

    def number(self, data, path, allow_none=False):
        self.check(data, dict, path)
        if len(data) not in (1, 2, 3):
            self.fail(path, "malformed number")
        if "bool" in data and len(data) == 1:
            return self.check(data["bool"], bool, f"{path}.bool")
        if "int" in data and len(data) == 1:
            text = self.check(data["int"], str, f"{path}.int")
            if len(text) > 64 or not text.lstrip("-").isdigit():
                self.fail(path, f"not an integer: {text[:40]!r}")
            return int(text)
        if "float" in data and len(data) == 1:
            return self.float_in(data["float"], f"{path}.float")
        if "none" in data and len(data) == 1 and allow_none:
            return None
        if "scalar" in data and len(data) == 2:
            a = self.array_data(data["scalar"], [], data.get("data"), path)
            return a[()]
        if "array" in data and len(data) == 3:
            shape = self.shape(data.get("shape"), f"{path}.shape")
            return freeze_array(self.array_data(data["array"], list(shape), data.get("data"), path))
        self.fail(path, "malformed number")

    def array_data(self, dtype_name, shape, text, path):
        if not isinstance(dtype_name, str) or dtype_name not in DTYPES:
            self.fail(path, f"unknown dtype {str(dtype_name)[:20]!r}")
        dtype = np.dtype(DTYPES[dtype_name]).newbyteorder("<")
        size = math.prod(shape)
        self.total_elements += size
        if self.total_elements > MAX_TOTAL_ELEMENTS:
            self.fail(path, f"more than {MAX_TOTAL_ELEMENTS} array elements in all")
        if not isinstance(text, str) or len(text) > 4 * (size * dtype.itemsize + 2) // 3 + 4:
            self.fail(path, "array data missing or too long")
        try:
            raw = base64.b64decode(text.encode("ascii"), validate=True)
        except (ValueError, UnicodeEncodeError):
            self.fail(path, "array data is not base64")
        if len(raw) != size * dtype.itemsize:
            self.fail(path, f"array data of {len(raw)} bytes for shape {shape} of {dtype_name}")
        return np.frombuffer(raw, dtype=dtype).astype(dtype.newbyteorder("=")).reshape(shape)

    def node_ref(self, value, n_nodes, path):
        self.check(value, int, path)
        if not 0 <= value < n_nodes:
            self.fail(path, f"node %{value} does not exist (the graph has {n_nodes} nodes)")
        return value


def from_dict(data, call_names=None) -> SequenceGraph:
    """The graph in ``data`` (from :func:`to_dict` or a JSON file), validated.

    ``call_names``: the recorded PyPulseq call names to accept (None: any identifier)."""
    r = _Reader(call_names)
    r.check(data, dict, "$")
    fmt = data.get("format")
    if fmt != FORMAT:
        r.fail("$.format", f"not a pulseqzero graph (format {str(fmt)[:40]!r})")
    version = r.get(data, "version", int, "$")
    if version not in READS:
        r.fail("$.version", f"version {version} is not supported (this pulseqzero reads "
                            f"{', '.join(map(str, READS))})")
    stored_hash = r.get(data, "sha256", str, "$") if version >= 2 else None
    name = r.get(data, "name", str, "$")

    # -- values: every input an earlier node (no forward references, hence no cycles)
    raw_nodes = r.count(r.get(data, "nodes", list, "$"), MAX_NODES, "$.nodes")
    nodes, shapes = [], []
    param_names = set()
    for i, item in enumerate(raw_nodes):
        path = f"$.nodes[{i}]"
        r.check(item, list, path)
        if not item or not isinstance(item[0], str):
            r.fail(path, "expected [kind, ...]")
        kind = item[0]
        if kind == "param" and len(item) == 3:
            pname = r.check(item[1], str, f"{path}[1]")
            if pname in param_names:
                r.fail(path, f"parameter {pname!r} is defined twice")
            param_names.add(pname)
            shape = r.shape(item[2], f"{path}[2]")
            nodes.append(Param(pname, shape))
            shapes.append(shape)
        elif kind == "const" and len(item) == 2:
            value = r.number(item[1], f"{path}[1]", allow_none=True)
            nodes.append(Const(value))
            shapes.append(tuple(np.shape(value)))
        elif kind == "op" and len(item) == 4:
            op = r.check(item[1], str, f"{path}[1]")
            if op not in _ops.OPS:
                r.fail(f"{path}[1]", f"unknown op {op[:40]!r} (the op set is closed)")
            inputs = tuple(r.node_ref(j, i, f"{path}[2][{k}]")
                           for k, j in enumerate(r.check(item[2], list, f"{path}[2]")))
            arity = _ops.OPS[op].arity
            if (arity >= 0 and len(inputs) != arity) or (arity < 0 and not inputs):
                r.fail(path, f"op {op} takes {arity if arity >= 0 else 'one or more'} inputs, "
                             f"got {len(inputs)}")
            raw_attrs = r.count(r.check(item[3], list, f"{path}[3]"), MAX_ATTRS, f"{path}[3]")
            if len(raw_attrs) != _n_attrs(op):
                r.fail(f"{path}[3]", f"op {op} takes {_n_attrs(op)} attributes, got {len(raw_attrs)}")
            for k, a in enumerate(raw_attrs):
                if a is not None and (not isinstance(a, int) or isinstance(a, bool)):
                    r.fail(f"{path}[3][{k}]", "op attributes are integers or null")
            attrs_ = tuple(raw_attrs)
            try:
                shape = tuple(_ops.OPS[op].shape([shapes[j] for j in inputs], attrs_))
            except Exception as e:  # noqa: BLE001 - any shape error is a malformed file
                r.fail(path, f"op {op} does not apply to inputs of shapes "
                             f"{[shapes[j] for j in inputs]}: {e}")
            if math.prod(shape) > MAX_ARRAY_ELEMENTS:
                r.fail(path, "result too large")
            nodes.append(Op(op, inputs, attrs_))
            shapes.append(shape)
        else:
            r.fail(path, f"unknown node kind {kind[:20]!r} or wrong length")
    values = Values(tuple(nodes), tuple(shapes))
    n = len(nodes)

    def node(value, path):
        return r.node_ref(value, n, path)

    # -- parameters
    params = []
    for k, p in enumerate(r.count(r.get(data, "params", list, "$"), MAX_NODES, "$.params")):
        path = f"$.params[{k}]"
        pname = r.get(p, "name", str, path)
        i = node(r.get(p, "node", int, path), f"{path}.node")
        shape = r.shape(r.get(p, "shape", list, path), f"{path}.shape")
        if nodes[i] != Param(pname, shape):
            r.fail(path, f"node %{i} is not the parameter {pname!r} of shape {shape}")
        traced = r.number(r.get(p, "traced", dict, path), f"{path}.traced")
        traced = np.asarray(traced)
        if traced.shape != shape or traced.dtype != np.float64:
            r.fail(f"{path}.traced", f"expected float64 of shape {shape}")
        params.append(ParamInfo(pname, i, shape, traced[()] if traced.ndim == 0 else freeze_array(traced)))
    if {p.name for p in params} != param_names:
        r.fail("$.params", "the parameters do not match the parameter nodes")

    system = _system_in(r, r.get(data, "system", dict, "$"), "$.system")

    # -- recorded calls and events (tables: each item refers to earlier items only)
    raw_calls = r.count(r.get(data, "calls", list, "$"), MAX_EVENTS, "$.calls")
    raw_events = r.count(r.get(data, "events", list, "$"), MAX_EVENTS, "$.events")
    calls: list = [None] * len(raw_calls)
    call_ids: set = set()
    events: list = []

    def arg_in(a, path, depth=0):
        if depth > MAX_DEPTH:
            r.fail(path, f"arguments nested deeper than {MAX_DEPTH}")
        r.check(a, dict, path)
        if "value" in a and set(a) == {"value", "integral"}:
            return ev.ArgValue(node(a["value"], f"{path}.value"),
                               r.check(a["integral"], bool, f"{path}.integral"))
        if "literal" in a and len(a) == 1:
            v = a["literal"]
            if v is not None and not isinstance(v, (str, bool)):
                r.fail(path, "a literal is a string, true / false or null")
            if isinstance(v, str):
                r.check(v, str, path)
            return ev.ArgLiteral(v)
        if "system" in a and len(a) == 1:
            return ev.ArgSystem(_system_in(r, a["system"], f"{path}.system"))
        if "event" in a and len(a) == 1:
            k = r.check(a["event"], int, f"{path}.event")
            if not 0 <= k < len(events):
                r.fail(path, f"event {k} is not defined before its use")
            return ev.ArgEvent(events[k])
        if "list" in a and set(a) == {"list", "tuple"}:
            items = r.count(r.check(a["list"], list, f"{path}.list"), MAX_NODES, f"{path}.list")
            return ev.ArgList(tuple(arg_in(x, f"{path}.list[{j}]", depth + 1)
                                    for j, x in enumerate(items)),
                              r.check(a["tuple"], bool, f"{path}.tuple"))
        r.fail(path, "malformed argument")

    def identifier(text, path):
        r.check(text, str, path)
        if not text.isidentifier() or text.startswith("_"):
            r.fail(path, f"{text[:40]!r} is not a public name")
        return text

    def call_in(k, path):
        if not 0 <= k < len(raw_calls):
            r.fail(path, f"call {k} does not exist")
        if calls[k] is None:
            c = raw_calls[k]
            cpath = f"$.calls[{k}]"
            cname = identifier(r.get(c, "name", str, cpath), f"{cpath}.name")
            if r.call_names is not None and cname not in r.call_names:
                r.fail(f"{cpath}.name", f"{cname!r} is not a PyPulseq function pulseqzero records")
            args = tuple(arg_in(a, f"{cpath}.args[{j}]")
                         for j, a in enumerate(r.get(c, "args", list, cpath)))
            kwargs = []
            for j, kv in enumerate(r.get(c, "kwargs", list, cpath)):
                if not isinstance(kv, list) or len(kv) != 2:
                    r.fail(f"{cpath}.kwargs[{j}]", "expected [name, argument]")
                kwargs.append((identifier(kv[0], f"{cpath}.kwargs[{j}][0]"),
                               arg_in(kv[1], f"{cpath}.kwargs[{j}][1]")))
            call_id = r.get(c, "id", int, cpath)
            if call_id in call_ids:
                r.fail(f"{cpath}.id", f"call id {call_id} is used twice")
            call_ids.add(call_id)
            calls[k] = ev.Call(cname, args, tuple(kwargs), r.get(c, "line", str, cpath), call_id)
        return calls[k]

    for k, e in enumerate(raw_events):
        path = f"$.events[{k}]"
        kind = r.get(e, "kind", str, path)
        cls = _EVENT_TYPES.get(kind)
        if cls is None:
            r.fail(f"{path}.kind", f"unknown event kind {kind[:20]!r}")
        fields = {}
        for fname, ftype in _STATIC[kind].items():
            if kind == "rf" and fname == "use" and fname not in e:
                continue
            fields[fname] = r.get(e, fname, ftype, path)
        if kind == "adc" and not 0 <= fields["num_samples"] <= MAX_SAMPLES:
            r.fail(f"{path}.num_samples", "out of range")
        for fname, ftype in _STATIC_OPTIONAL.get(kind, {}).items():
            if fname in e:
                fields[fname] = r.get(e, fname, ftype, path)
        for fname in ev.VALUE_FIELDS[kind]:
            fields[fname] = node(r.get(e, fname, int, path), f"{path}.{fname}")
        for fname in ev.OPTIONAL_FIELDS.get(kind, ()):
            if fname in e:
                fields[fname] = node(r.get(e, fname, int, path), f"{path}.{fname}")
        if kind == "rf":
            fields["shape"] = _shape_in(r, r.get(e, "shape", dict, path), n, f"{path}.shape")
        origin = e.get("origin")
        if origin is not None:
            opath = f"{path}.origin"
            r.check(origin, dict, opath)
            call = call_in(r.get(origin, "call", int, opath), f"{opath}.call")
            output = origin.get("output")
            if output is not None:
                r.check(output, int, f"{opath}.output")
            assigns = tuple(
                ev.Assign(identifier(r.get(a, "attr", str, f"{opath}.assigns[{j}]"),
                                     f"{opath}.assigns[{j}].attr"),
                          arg_in(r.get(a, "value", dict, f"{opath}.assigns[{j}]"),
                                 f"{opath}.assigns[{j}].value"),
                          r.get(a, "line", str, f"{opath}.assigns[{j}]"))
                for j, a in enumerate(r.get(origin, "assigns", list, opath)))
            fields["origin"] = ev.Origin(call, output, assigns)
        try:
            events.append(cls(**fields))
        except (TypeError, ValueError) as err:
            r.fail(path, f"invalid {kind} event: {err}")

    # -- blocks, definitions, guards
    blocks = []
    for k, b in enumerate(r.count(r.get(data, "blocks", list, "$"), MAX_BLOCKS, "$.blocks")):
        path = f"$.blocks[{k}]"
        refs = r.get(b, "events", list, path)
        block_events = []
        for j, ref in enumerate(refs):
            r.check(ref, int, f"{path}.events[{j}]")
            if not 0 <= ref < len(events):
                r.fail(f"{path}.events[{j}]", f"event {ref} does not exist")
            block_events.append(events[ref])
        blocks.append(Block(tuple(block_events), node(r.get(b, "duration", int, path),
                                                      f"{path}.duration"),
                            r.get(b, "line", str, path)))
    definitions = []
    for k, d in enumerate(r.get(data, "definitions", list, "$")):
        path = f"$.definitions[{k}]"
        if not isinstance(d, list) or len(d) != 2:
            r.fail(path, "expected [key, argument]")
        definitions.append((r.check(d[0], str, f"{path}[0]"), arg_in(d[1], f"{path}[1]")))
    guards = []
    for k, g in enumerate(r.get(data, "guards", list, "$")):
        path = f"$.guards[{k}]"
        gkind = r.get(g, "kind", str, path)
        if gkind not in GUARD_KINDS:
            r.fail(f"{path}.kind", f"unknown guard kind {gkind[:20]!r}")
        raw = r.get(g, "observed", dict, path)
        observed = raw["str"] if set(raw) == {"str"} else r.number(raw, f"{path}.observed")
        expected = {"bool": bool, "int": int, "float": float, "format": str}[gkind]
        if type(observed) is not expected:
            r.fail(f"{path}.observed", f"a {gkind} guard observes a {expected.__name__}")
        if isinstance(observed, str):
            r.check(observed, str, f"{path}.observed")
        spec = r.get(g, "spec", str, path)
        if gkind == "format" and (len(spec) < 2 or spec[0] not in "bif" or spec[1] != ":"):
            r.fail(f"{path}.spec", "a format guard's spec is '<b|i|f>:<format spec>'")
        i = node(r.get(g, "node", int, path), f"{path}.node")
        if shapes[i] != ():
            r.fail(f"{path}.node", "a guard is on a scalar")
        guards.append(Guard(i, gkind, observed, r.get(g, "line", str, path), spec))

    registrations = []
    for k, reg in enumerate(r.check(data.get("registrations", []), list, "$.registrations")):
        path = f"$.registrations[{k}]"
        before = r.get(reg, "before", int, path)
        if not 0 <= before <= len(blocks):
            r.fail(f"{path}.before", f"block {before} does not exist")
        ref = r.get(reg, "event", int, path)
        if not 0 <= ref < len(events):
            r.fail(f"{path}.event", f"event {ref} does not exist")
        registrations.append((before, events[ref], r.get(reg, "line", str, path)))
    extra = {}
    api = data.get("api", "1.4")
    if api not in ("1.4", "1.5"):
        r.fail("$.api", f"unknown PyPulseq API version {str(api)[:20]!r} (1.4 or 1.5)")
    if api != "1.4":
        extra["api"] = api
    if registrations:
        if _Registration is None:
            r.fail("$.registrations", "this pulseqzero does not record registered events")
        extra["registrations"] = tuple(_Registration(*x) for x in registrations)
    samples = sum(e.num_samples for b in blocks for e in b.events if e.kind == "adc")
    if samples > MAX_TOTAL_SAMPLES:
        r.fail("$.blocks", f"{samples} ADC samples in all (limit {MAX_TOTAL_SAMPLES})")
    # the content last: a structural error above names the item, this only says "changed"
    if stored_hash is None:
        warnings.warn(f"graph file version {version} has no content hash: a changed file "
                      "cannot be told from the one that was saved; save it again", stacklevel=3)
    elif content_hash(data) != stored_hash:
        r.fail("$.sha256", "the content does not match the hash it was saved with: the file "
                           "was changed or damaged after it was saved")
    return SequenceGraph(name, values, tuple(params), tuple(blocks), system, tuple(definitions),
                         tuple(guards), **extra)


def _system_in(r: _Reader, data, path) -> ev.System:
    r.check(data, dict, path)
    extra = set(data) - set(ev.SYSTEM_FIELDS)
    if not set(ev.SYSTEM_FIELDS) <= set(data) or extra not in (set(), set(ev.SYSTEM_FIELDS_15)):
        r.fail(path, f"expected the fields {list(ev.SYSTEM_FIELDS)}, and for the 1.5 API "
                     f"{list(ev.SYSTEM_FIELDS_15)} as well")
    values = {}
    for name in ev.SYSTEM_FIELDS + tuple(sorted(extra, key=ev.SYSTEM_FIELDS_15.index)):
        v = r.number(data[name], f"{path}.{name}", allow_none=True)
        if v is None and name != "rise_time":
            r.fail(f"{path}.{name}", "missing value")
        if v is not None and (isinstance(v, np.ndarray) or isinstance(v, bool)):
            r.fail(f"{path}.{name}", "expected a number")
        values[name] = v
    return ev.System(**values)


def _shape_in(r: _Reader, data, n_nodes, path):
    kind = r.get(data, "kind", str, path)
    cls = SHAPE_RECORDS.get(kind)
    if cls is None:
        r.fail(f"{path}.kind", f"unknown RF shape {kind[:20]!r}")
    fields = {}
    for a in attrs.fields(cls):
        if a.type == "bool":
            fields[a.name] = r.get(data, a.name, bool, path)
        else:
            fields[a.name] = r.node_ref(r.get(data, a.name, int, path), n_nodes, f"{path}.{a.name}")
    if set(data) != set(fields) | {"kind"}:
        r.fail(path, f"unexpected fields {sorted(set(data) - set(fields) - {'kind'})}")
    return cls(**fields)


# ====================================================================== files


def dumps(graph: SequenceGraph) -> str:
    return json.dumps(to_dict(graph), separators=(",", ":"), allow_nan=False)


def loads(text, call_names=None) -> SequenceGraph:
    if isinstance(text, bytes):
        if len(text) > MAX_FILE_BYTES:
            raise GraphFileError(f"file of {len(text)} bytes (limit {MAX_FILE_BYTES})")
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as e:
            raise GraphFileError(f"not UTF-8: {e}") from None
    try:
        data = json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise GraphFileError("JSON nested too deeply") from None
    except ValueError as e:
        raise GraphFileError(f"not JSON: {e}") from None
    return from_dict(data, call_names)


def _no_constant(name):
    raise ValueError(f"{name} is not JSON")


def save(graph: SequenceGraph, path) -> None:
    """Write the graph as JSON (atomically: a failed save leaves no file; through a symlink,
    keeping the file's mode)."""
    text = dumps(graph)
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def load(path, call_names=None) -> SequenceGraph:
    """The graph in a file written by :func:`save` (validated; see the module docstring)."""
    path = Path(path)
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise GraphFileError(f"{path}: {size} bytes (limit {MAX_FILE_BYTES})")
    return loads(path.read_bytes(), call_names)
