"""Lower a graph to a real ``pypulseq.Sequence`` by replaying the recorded calls.

Every event is rebuilt by calling the PyPulseq function the script called,
with the numpy-evaluated arguments, then applying the attribute assignments
the script made. The rebuilt event must equal the event the graph evaluates
to, field by field and bit for bit: a difference would be a bug in
pulseqzero's re-implementation, and is reported instead of written.
"""
from __future__ import annotations

import copy
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pypulseq as pp

from ..ir import events as ir
from ..ir import shapes
from ..ir.files import atomic_write
from ..ir.graph import SequenceGraph


class ExportMismatch(RuntimeError):
    """pypulseq computed a different event than the graph: a pulseqzero bug."""


class BlockOffRaster(ValueError):
    """A block duration is not a multiple of the block duration raster."""


def installed_api() -> str:
    """The installed pypulseq's API version, "1.4" or "1.5" (what the replay calls)."""
    from importlib import metadata
    return ".".join(metadata.version("pypulseq").split(".")[:2])


def check_api(graph: SequenceGraph) -> None:
    """A graph replays through the pypulseq API it was traced with: the same calls under
    another version would compute other events (and 1.5's arguments do not exist in 1.4)."""
    traced = getattr(graph, "api", "1.4")
    if traced != installed_api():
        raise RuntimeError(
            f"graph {graph.name!r} was traced with the PyPulseq {traced} API, but pypulseq "
            f"{installed_api()} is installed: export it where pypulseq {traced} is installed, "
            "or trace the script again here")


def make_opts(system: ir.System) -> pp.Opts:
    """A real ``pypulseq.Opts`` with exactly these values."""
    opts = pp.Opts()
    for name, value in system.as_dict().items():
        setattr(opts, name, value)
    return opts


def python_value(value, integral: bool = False):
    """What a script would have passed: Python scalars, writable arrays."""
    if isinstance(value, np.ndarray):
        return np.array(value, copy=True)
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.floating, float)):
        return int(value) if integral and float(value).is_integer() else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


class Replay:
    """Replays the calls of one graph with one set of evaluated (numpy) values."""

    def __init__(self, graph: SequenceGraph, env: list):
        self.graph = graph
        self.env = env
        self._calls: dict = {}
        self._events: dict = {}
        self._systems: dict = {}
        self._rf_shapes: dict = {}  # (id(signal), id(t)) of a registered RF pulse -> shape ids
        self._in_blocks: dict = {}  # id(IR event) -> (IR event, the replayed event with handles)

    def arg(self, a):
        if isinstance(a, ir.ArgValue):
            return python_value(self.env[a.node], a.integral)
        if isinstance(a, ir.ArgLiteral):
            return a.value
        if isinstance(a, ir.ArgSystem):
            if a.system not in self._systems:
                self._systems[a.system] = make_opts(a.system)
            return self._systems[a.system]
        if isinstance(a, ir.ArgEvent):
            return self.event(a.event)
        if isinstance(a, ir.ArgList):
            items = [self.arg(x) for x in a.items]
            return tuple(items) if a.is_tuple else items
        raise TypeError(f"unknown argument {a!r}")

    def call(self, call: ir.Call):
        hit = self._calls.get(call.id)
        if hit is None:
            fn = getattr(pp, call.name)
            args = [self.arg(a) for a in call.args]
            kwargs = {k: self.arg(v) for k, v in call.kwargs}
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the trace has shown them already
                hit = fn(*args, **kwargs)
            self._calls[call.id] = hit
        return hit

    def event(self, event):
        origin = event.origin
        if origin is None:
            if event.kind == "delay":  # a block duration given as a number
                return python_value(self.env[event.delay])
            return self._from_fields(event)
        # copies of one event (copy(gx)) share the call: the assignments tell them apart
        key = (origin.call.id, origin.output, origin.assigns)
        hit = self._events.get(key)
        if hit is not None:
            return hit
        result = self.call(origin.call)
        if origin.output is not None:
            result = result[origin.output]
        result = copy.copy(result)
        for assign in origin.assigns:
            setattr(result, assign.attr, self.arg(assign.value))
        self.check(event, result)
        self._events[key] = result
        return result

    # -- handles: what pypulseq returned when an event was registered ----------------

    def register(self, seq: pp.Sequence, event) -> None:
        """Enter an event into pypulseq's libraries now. Blocks that use it get a copy of
        the replayed event with the handles pypulseq returned, as a script sets them
        (``ev.id = seq.register_*_event(ev)``), so pypulseq looks nothing up again; an RF
        pulse with the registered waveform (the same arrays; phase or frequency changed)
        gets its shape ids. The file is the same: the handles are what a lookup finds.
        Calls replayed later get the event without handles, as the script's did."""
        replayed = self.event(event)
        handles = register(seq, replayed)
        handled = copy.copy(replayed)
        if isinstance(handles, tuple):
            handled.id, handled.shape_IDs = handles
            if replayed.type == "rf":
                self._rf_shapes[(id(replayed.signal), id(replayed.t))] = handles[1]
        else:
            handled.id = handles
        self._in_blocks[id(event)] = (event, handled)

    def block_event(self, event):
        """The replayed event for ``seq.add_block`` (with handles where it was registered)."""
        hit = self._in_blocks.get(id(event))
        if hit is not None:
            return hit[1]
        replayed = self.event(event)
        if event.kind == "rf" and self._rf_shapes and event.origin is not None:
            shape_ids = self._rf_shapes.get((id(replayed.signal), id(replayed.t)))
            if shape_ids is not None:
                replayed = copy.copy(replayed)
                replayed.shape_IDs = shape_ids
                self._in_blocks[id(event)] = (event, replayed)
        return replayed

    def _from_fields(self, event):
        """An event without a recorded call (the script built it by hand)."""
        kind = getattr(event, "type", event.kind)
        ns = SimpleNamespace(type=kind)
        for name in ir.value_fields(event):
            if name != "flip_angle":
                setattr(ns, name, python_value(self.env[getattr(event, name)]))
        if event.kind == "adc" and event.freq_ppm is not None and not event.has_phase_modulation:
            ns.phase_modulation = None
        for name in ("channel", "label"):
            if hasattr(event, name):
                setattr(ns, name, getattr(event, name))
        if event.kind == "adc":
            ns.num_samples = event.num_samples
        if event.kind == "rf":
            ns.signal, ns.t = rf_waveform(event, self.env)
            if event.use:
                ns.use = event.use
        return ns

    # -- the replayed event must be the evaluated event ------------------------

    def check(self, event, replayed) -> None:
        env = self.env
        fields = [f for f in ir.value_fields(event) if f != "flip_angle"]
        expected = {f: env[getattr(event, f)] for f in fields}
        if event.kind == "adc" and event.freq_ppm is not None and not event.has_phase_modulation:
            expected["phase_modulation"] = None
        if event.kind in ("trap", "grad"):
            expected["channel"] = event.channel
        elif event.kind in ("label", "trigger"):
            expected.update(type=event.type, **({"label": event.label} if event.kind == "label"
                                                else {"channel": event.channel}))
        elif event.kind == "adc":
            expected["num_samples"] = event.num_samples
        elif event.kind == "rf":
            expected.update(zip(("signal", "t"), rf_waveform(event, env)))
            if event.use:
                expected["use"] = event.use
        for name, value in expected.items():
            got = getattr(replayed, name, None)
            if not _same(got, value):
                line = event.origin.call.line
                raise ExportMismatch(
                    f"{line}: {event.origin.call.name}(...).{name}: pypulseq computes {got!r}, "
                    f"the graph {value!r}. This is a bug in pulseqzero's re-implementation; "
                    "nothing was written.")


def rf_waveform(event, env, xp=np):
    """(signal, t) of an IR RF event from its shape parameters."""
    return shapes.shape_waveform(event.shape, env[event.flip_angle], lambda n: env[n], xp=xp)


def _same(a, b) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        return a.shape == b.shape and bool(np.all((a == b) | (np.isnan(a) & np.isnan(b))))
    if isinstance(a, str) or isinstance(b, str) or a is None or b is None:
        return a == b
    try:
        return float(a) == float(b) or (np.isnan(float(a)) and np.isnan(float(b)))
    except (TypeError, ValueError):
        return a == b


def to_pypulseq(graph: SequenceGraph, env: list) -> pp.Sequence:
    """The pypulseq Sequence the script would have built with these values."""
    check_api(graph)
    replay = Replay(graph, env)
    seq = pp.Sequence(make_opts(graph.system))
    registrations: dict = {}  # seq.register_*_event calls, by the block they came before
    for r in getattr(graph, "registrations", ()):
        registrations.setdefault(r.before, []).append(r.event)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i, block in enumerate(graph.blocks):
            for event in registrations.get(i, ()):
                replay.register(seq, event)
            add_block(seq, [replay.block_event(e) for e in block.events])
        for event in registrations.get(len(graph.blocks), ()):
            replay.register(seq, event)
        for key, arg in graph.definitions:
            seq.set_definition(key, replay.arg(arg))
    return seq


def add_block(seq: pp.Sequence, events: list) -> None:
    """``seq.add_block(*events)``. A block duration given as a number (from ``get_block``, or
    ``set_block``) is one of the events: pypulseq 1.5's ``add_block`` refuses it from users,
    its ``set_block`` at the next free id is the same call without that check."""
    if installed_api() != "1.4" and any(isinstance(e, float) for e in events):
        seq.set_block(seq.next_free_block_ID, *events)
    else:
        seq.add_block(*events)


def register(seq: pp.Sequence, event):
    """Enter an event into pypulseq's libraries now (``seq.register_*_event``); what it
    returned (an id, or (id, shape ids))."""
    kind = event.type
    if kind == "rf":
        return seq.register_rf_event(event)
    elif kind in ("trap", "grad"):
        return seq.register_grad_event(event)
    elif kind == "adc":
        return seq.register_adc_event(event)
    elif kind in ("labelset", "labelinc"):
        return seq.register_label_event(event)
    else:
        raise TypeError(f"pypulseq cannot register an event of type {kind!r}")


def check_block_raster(graph: SequenceGraph, env: list) -> None:
    """Refuse what pypulseq's writer refuses (a block off the duration raster), naming the block."""
    raster = graph.system.block_duration_raster
    for i, block in enumerate(graph.blocks):
        duration = float(env[block.duration])
        steps = duration / raster
        if not abs(round(steps) - steps) < 1e-6:
            raise BlockOffRaster(
                f"{block.line}: block {i + 1} lasts {duration * 1e6:.4f} us, which is not a "
                f"multiple of the block duration raster ({raster * 1e6:g} us); pypulseq cannot "
                "write it. Round the delays of this block to the raster (pp.ceil / pp.round).")


def seq_path(path) -> Path:
    """The file ``write(path)`` writes: ``path``, with ``.seq`` added if it has another suffix
    or none (as pypulseq's ``Sequence.write`` does)."""
    path = Path(path)
    return path if path.suffix == ".seq" else path.with_suffix(path.suffix + ".seq")


def write(graph: SequenceGraph, env: list, path, create_signature: bool = True,
          remove_duplicates: bool = True):
    """Write the ``.seq`` file atomically: a failed export leaves no file behind (through a
    symlink, keeping the file's mode; ``ir.files.atomic_write``)."""
    check_block_raster(graph, env)
    path = seq_path(path)
    seq = to_pypulseq(graph, env)
    return atomic_write(path, lambda tmp: seq.write(str(tmp), create_signature=create_signature,
                                                     remove_duplicates=remove_duplicates),
                        suffix=".tmp.seq")
