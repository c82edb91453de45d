"""The block store: blocks as PyPulseq's ``set_block`` makes them, recorded as IR.

``BlockStore`` is the part of ``Sequence`` that adds, replaces, registers and
modifies blocks and answers what was stored (``get_block``, ``block_durations``,
``block_events``). ``add_block`` snapshots its events (later changes to an event
affect later blocks only, as in PyPulseq), runs PyPulseq's checks (duplicate
events, gradient continuity) on the traced values -- a check that depends on a
parameter records a guard, as the ``if`` in PyPulseq does -- and traces the block
duration with PyPulseq's formula.
"""
from __future__ import annotations

import copy as _copy
import math
from types import SimpleNamespace

import attrs
import numpy as np

from ... import tmath as tm
from ...ir.events import Delay
from ...ir.graph import Block, Registration
from ...tracer import Tracer, user_line, value_of
from ..events import Event, to_ir, with_line
from ..helpers import eps
from ..rf_use import get_supported_labels
from ..version import API_15

EPS = eps  # pypulseq.eps (1.4.2: machine epsilon; 1.5: 1e-9), as its Sequence modules use it
GRAD_COLUMNS = ("gx", "gy", "gz")
_HANDLE_ATTRS = ("id", "shape_IDs")  # set from register_*_event; not part of the event


class Entry:
    """One block: its IR, its duration (s; number or tracer) and the events as added."""

    __slots__ = ("block", "duration", "events", "labels", "triggers")

    def __init__(self, block, duration, events, labels, triggers):
        self.block = block
        self.duration = duration
        self.events = events  # column ("rf", "gx", "gy", "gz", "adc") -> event
        self.labels = labels  # label events, in the order given
        self.triggers = triggers  # trigger / output events


class BlockStore:
    """The blocks of a ``Sequence`` (mixin): ``self._table`` maps block id -> ``Entry`` in
    the order ids were first set (like pypulseq's dict); ``self._registry`` /
    ``self._registrations`` hold pre-registered events, ``self._copies`` the snapshots."""

    # ================================================================== building

    def add_block(self, *args) -> None:
        """Append a block of events (and / or a block duration in s; 1.5 API: events only)."""
        if API_15:
            for arg in args:
                if isinstance(value_of(arg) if isinstance(arg, Tracer) else arg, float):
                    raise with_line(ValueError(
                        "Raw float values are not allowed in add_block(). Use "
                        f"pp.make_delay({value_of(arg)}) for delays."), user_line())
        self._set_block(self.next_free_block_ID, args)
        self.next_free_block_ID += 1

    def set_block(self, block_index: int, *args) -> None:
        """Replace the block with id ``block_index``, or add it (PyPulseq keeps the order
        in which ids were first set; the export numbers blocks 1, 2, ... in that order)."""
        block_index = int(block_index)
        self._set_block(block_index, args)
        if block_index >= self.next_free_block_ID:
            self.next_free_block_ID = block_index + 1

    def _set_block(self, block_index: int, args) -> None:
        """PyPulseq's ``block.set_block``: events, duration, gradient checks."""
        line = user_line()
        try:
            entry = self._make_block(block_index, args, line)
        except (ValueError, RuntimeError, KeyError, TypeError, AttributeError) as e:
            raise with_line(e, line) from None
        self._table[block_index] = entry

    def _make_block(self, block_index, args, line) -> Entry:
        ctx = self._ctx
        events, ir_events, labels, triggers = {}, [], [], []
        duration = 0
        check_g = {}  # channel index -> (column, (start time, first), (end time, last))
        raster = self.grad_raster_time
        for event in block_to_events(args):
            event = ctx.lift(event)
            if isinstance(event, (float, Tracer)):  # a block duration (pypulseq: a float)
                ir_events.append(Delay(ctx.node(event), None))
                duration = tm.maximum(duration, event)
                continue
            kind = event.type  # (an int: pypulseq's AttributeError)
            event, ir_event = self._resolve(event)
            if kind == "rf":
                if "rf" in events:
                    raise ValueError("Multiple RF events were specified in set_block")
                events["rf"] = event
                duration = tm.maximum(duration, event.shape_dur + event.delay + event.ringdown_time)
            elif kind in ("grad", "trap"):
                channel_num = ["x", "y", "z"].index(event.channel)
                column = GRAD_COLUMNS[channel_num]
                if column in events:
                    raise ValueError(f"Multiple {event.channel.upper()} gradient events were "
                                     "specified in set_block")
                events[column] = event
                if kind == "grad":
                    grad_start = event.delay + math.floor(event.tt[0] / raster + 1e-10) * raster
                    grad_duration = (event.delay
                                     + math.ceil(event.tt[-1] / raster - 1e-10) * raster)
                    check_g[channel_num] = (column, (grad_start, event.first),
                                            (grad_duration, event.last))
                    duration = tm.maximum(duration, grad_duration)
                else:
                    duration = tm.maximum(duration, event.delay + event.rise_time
                                          + event.flat_time + event.fall_time)
            elif kind == "adc":
                if "adc" in events:
                    raise ValueError("Multiple ADC events were specified in set_block")
                events["adc"] = event
                duration = tm.maximum(duration, event.delay + event.num_samples * event.dwell
                                      + event.dead_time)
            elif kind == "delay":
                duration = tm.maximum(duration, event.delay)
            elif kind in ("output", "trigger"):
                self.get_extension_type_ID("TRIGGERS")
                triggers.append(event)
                duration = tm.maximum(duration, event.delay + event.duration)
            elif kind in ("labelset", "labelinc"):
                self.get_extension_type_ID(kind.upper())
                labels.append(event)
            else:
                continue  # pypulseq ignores events of other types
            ir_events.append(ir_event)
        self._check_gradients(block_index, check_g, duration)
        return Entry(Block(tuple(ir_events), ctx.node(duration), line), duration, events,
                     tuple(labels), tuple(triggers))

    def _check_gradients(self, block_index, check_g, duration) -> None:
        """PyPulseq's gradient checks: a gradient that starts (ends) off zero must connect to
        the previous block's gradient (end at the block boundary)."""
        if API_15:
            return self._check_gradients_15(block_index, check_g, duration)
        threshold = self.system.max_slew * self.system.grad_raster_time
        for column, (start, first), (stop, last) in check_g.values():
            if abs(first) > threshold:
                if start != 0:
                    raise ValueError("No delay allowed for gradients which start with a "
                                     "non-zero amplitude")
                if block_index > 1:
                    prev = self._table[block_index - 1].events.get(column)
                    if prev is not None:
                        if prev.type == "trap" or abs(prev.last - first) > threshold:
                            raise RuntimeError("Two consecutive gradients need to have the "
                                               "same amplitude at the connection point")
                else:
                    raise RuntimeError("First gradient in the the first block has to start at 0.")
            if last > threshold and abs(stop - duration) > 1e-7:
                raise RuntimeError("A gradient that doesn't end at zero needs to be aligned to "
                                   "the block boundary.")

    def _check_gradients_15(self, block_index, check_g, duration) -> None:
        """PyPulseq 1.5's checks, on every channel (a channel without a gradient is at 0): each
        gradient's start must meet the previous block's end on its channel, its end the next
        block's start (when the block is inserted before another), within one raster step of
        the maximum slew."""
        threshold = self.system.max_slew * self.system.grad_raster_time
        for channel_num, column in enumerate(GRAD_COLUMNS):
            _, (start, first), (stop, last) = check_g.get(channel_num,
                                                         (column, (0, 0), (0, 0)))
            if abs(first) > threshold and start > eps:
                raise RuntimeError("No delay allowed for gradients which start with a non-zero "
                                   "amplitude")
            if self.next_free_block_ID > 1:
                order = list(self._table)
                if block_index in order:
                    at = order.index(block_index)
                    before = order[at - 1] if at > 0 else None
                    after = order[at + 1] if at < len(order) - 1 else None
                else:
                    before, after = (order[-1] if order else None), None
                previous_last = 0
                if before is not None:
                    prev = self._table[before].events.get(column)
                    if prev is not None and prev.type != "trap":
                        previous_last = prev.last
                if abs(previous_last - first) > threshold:
                    raise RuntimeError("Two consecutive gradients need to have the same "
                                       "amplitude at the connection point")
                if after is not None:
                    following = self._table[after].events.get(column)
                    next_first = (following.first if following is not None
                                  and following.type != "trap" else 0)
                    if abs(next_first - last) > threshold:
                        raise RuntimeError("Two consecutive gradients need to have the same "
                                           "amplitude at the connection point")
            elif abs(first) > threshold:
                raise RuntimeError("First gradient in the the first block has to start at 0.")
            if abs(last) > threshold and abs(stop - duration) > 1e-7:
                raise RuntimeError("A gradient that doesn't end at zero needs to be aligned to "
                                   "the block boundary.")

    def _resolve(self, event):
        """(event as added, its IR event): a registered event (``event.id``) is used as it
        was registered, as PyPulseq uses its library entry."""
        handle = getattr(event, "__dict__", {}).get("id")
        if handle is not None:
            hit = self._registry.get((library_of(event.type), handle))
            if hit is None:
                raise ValueError(f"event id {handle!r} was not returned by this sequence's "
                                 "register_*_event (pulseqzero numbers registered events itself)")
            return hit
        return self._snapshot(event)

    def _snapshot(self, event):
        """(a copy of the event as it is now, its IR event without registration handles)."""
        ir_event = to_ir(self._ctx, event)
        key = id(ir_event)
        hit = self._copies.get(key)
        if hit is not None and hit[1] is ir_event:
            return hit[0], hit[2]
        clean = without_handles(ir_event)
        self._copies[key] = (_copy.copy(event), ir_event, clean)
        return self._copies[key][0], clean

    # -- registration (pre-registering events that repeat, as write_MPRAGE.py does)

    def register_grad_event(self, event):
        """Pre-register a gradient: returns an id (and shape ids for ``grad`` events) to set
        as ``event.id``; the export registers it at the same point, so pypulseq numbers its
        library as the script's pypulseq run does. Shape ids are placeholders (0)."""
        if event.type not in ("grad", "trap"):
            raise ValueError("Unknown gradient type passed to register_grad_event()")
        handle = self._register(event)
        return (handle, [0, 0]) if event.type == "grad" else handle

    def register_rf_event(self, event):
        """Pre-register an RF pulse: ``(id, shape ids)`` (see ``register_grad_event``)."""
        return self._register(event), [0, 0, 0]

    def register_adc_event(self, event):
        """Pre-register an ADC: its id (1.5 API: ``(id, shape id)``, the shape of its phase
        modulation; a placeholder 0)."""
        handle = self._register(event)
        return (handle, 0) if API_15 else handle

    def register_label_event(self, event) -> int:
        get_supported_labels().index(event.label)  # ValueError for an unknown label, as pypulseq
        if event.type not in ("labelset", "labelinc"):
            raise ValueError("Unsupported label type passed to register_label_event()")
        return self._register(event)

    def _register(self, event) -> int:
        event, ir_event = self._snapshot(event)
        library = library_of(event.type)
        handle = 1 + sum(1 for lib, _ in self._registry if lib == library)
        self._registry[(library, handle)] = (event, ir_event)
        self._registrations.append(Registration(len(self._table), ir_event, user_line()))
        return handle

    # -- modifying what was added

    def flip_grad_axis(self, axis: str) -> None:
        """Invert all gradients on ``axis`` added so far."""
        self.mod_grad_axis(axis, modifier=-1)

    def mod_grad_axis(self, axis: str, modifier) -> None:
        """Scale all gradients on ``axis`` added so far by ``modifier`` (may be traced).

        PyPulseq 1.4.2 raises ``TypeError`` here as soon as the axis has a gradient (it
        assigns into a tuple); this does what it means to do: amplitudes, waveforms and
        their first / last values are scaled (recorded as assignments, so the export
        replays them)."""
        if axis not in ["x", "y", "z"]:
            raise ValueError(f"Invalid axis. Must be one of 'x', 'y','z'. Passed: {axis}")
        column = "g" + axis
        selected = {grad_key(e.events[column]) for e in self._table.values() if column in e.events}
        others = {grad_key(e.events[c]) for e in self._table.values() for c in GRAD_COLUMNS
                  if c != column and c in e.events}
        if selected & others:
            raise RuntimeError("mod_grad_axis does not yet support the same gradient event used "
                               "on multiple axes.")
        scaled: dict = {}  # id(IR event) -> (event, IR event) after scaling
        for entry in self._table.values():
            event = entry.events.get(column)
            if event is None:
                continue
            old = next(e for e in entry.block.events if e.kind in ("trap", "grad")
                       and e.channel == axis)
            hit = scaled.get(id(old))
            if hit is None:
                new = _copy.copy(event)
                if new.type == "trap":
                    new.amplitude = event.amplitude * modifier
                    for name in ("area", "flat_area"):
                        if name in new.__dict__:
                            new.__dict__[name] = event.__dict__[name] * modifier
                else:
                    new.waveform = event.waveform * modifier
                    new.first = event.first * modifier
                    new.last = event.last * modifier
                hit = scaled[id(old)] = (new, without_handles(to_ir(self._ctx, new)))
            entry.events = dict(entry.events, **{column: hit[0]})
            entry.block = attrs.evolve(entry.block, events=tuple(
                hit[1] if e is old else e for e in entry.block.events))

    # ================================================================== what was stored

    @property
    def block_durations(self) -> dict:
        """Block id -> duration in s, as in PyPulseq."""
        return {i: e.duration for i, e in self._table.items()}

    @property
    def block_events(self) -> dict:
        """Block id -> [delay, rf, gx, gy, gz, adc, extensions] like PyPulseq's table, with 1
        where the block has such an event (pulseqzero keeps events, not library ids)."""
        table = {}
        for i, e in self._table.items():
            row = [0] + [int(c in e.events) for c in ("rf", "gx", "gy", "gz", "adc")]
            table[i] = np.array(row + [int(bool(e.labels or e.triggers))], dtype=np.int32)
        return table

    def get_block(self, block_index: int) -> SimpleNamespace:
        """The block as PyPulseq's ``get_block`` returns it (``block_duration``, ``rf``,
        ``gx``, ``gy``, ``gz``, ``adc``, ``label`` dict, ``trigger`` dict), with the events
        as they were added: adding them again replays the same calls."""
        entry = self._table[int(block_index)]
        block = SimpleNamespace(block_duration=entry.duration, rf=None, gx=None, gy=None,
                                gz=None, adc=None, label=None)
        if API_15:
            block.soft_delay = None
        for column, event in entry.events.items():
            setattr(block, column, _copy.copy(event))
        if API_15 and block.adc is not None and block.adc.phase_modulation is None:
            # 1.5 rebuilds the ADC from its library: no phase shape is an empty array
            block.adc.phase_modulation = np.array([], dtype=float)
        if entry.labels:
            block.label = {i: _copy.copy(e) for i, e in enumerate(entry.labels)}
        if entry.triggers:
            block.trigger = {i: _copy.copy(e) for i, e in enumerate(entry.triggers)}
        return block


# ====================================================================== helpers


def block_to_events(args) -> list:
    """pypulseq's ``block_to_events``: a block namespace (from ``get_block``) becomes its
    events (and its duration); label / trigger dicts are flattened."""
    if len(args) == 1 and not isinstance(args[0], Event) and hasattr(args[0], "rf"):
        events = []
        for value in vars(args[0]).values():
            if value is None:
                continue
            events.extend(value.values() if isinstance(value, dict) else [value])
        return events
    return list(args)


def library_of(kind: str) -> str:
    """Which pypulseq event library an event type lives in."""
    return "grad" if kind in ("grad", "trap") else kind


def without_handles(ir_event):
    """The IR event without the ``id`` / ``shape_IDs`` assignments of registration (the
    export registers events itself, in the same order)."""
    origin = ir_event.origin
    if origin is None or not any(a.attr in _HANDLE_ATTRS for a in origin.assigns):
        return ir_event
    assigns = tuple(a for a in origin.assigns if a.attr not in _HANDLE_ATTRS)
    return attrs.evolve(ir_event, origin=attrs.evolve(origin, assigns=assigns))


def grad_key(event) -> tuple:
    """What pypulseq's gradient library compares (channel excluded), at the traced values."""
    if event.type == "trap":
        return ("t",) + tuple(float(value_of(getattr(event, f))) for f in
                              ("amplitude", "rise_time", "flat_time", "fall_time", "delay"))
    return ("g", np.asarray(value_of(event.waveform), dtype=float).tobytes(),
            np.asarray(value_of(event.tt), dtype=float).tobytes(),
            float(value_of(event.delay)), float(value_of(event.first)), float(value_of(event.last)))


def is_regular(t, raster) -> bool:
    """pypulseq's library test: are the samples at (k + 0.5) raster (then it stores no time
    shape and rebuilds them exactly)? A traced time vector is guarded."""
    n = len(value_of(t)) if np.ndim(value_of(t)) else 1
    return bool(np.all(np.floor(t / raster) == np.arange(n)))

