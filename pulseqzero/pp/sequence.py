"""The recording ``Sequence``: PyPulseq 1.4.2's API, building the IR block by block.

Every method of ``pypulseq.Sequence`` exists here, in three kinds:

* **Building** (``add_block``, ``set_block``, ``set_definition``,
  ``register_*_event``, ``mod_grad_axis``, ``read``): recorded into the graph.
  ``add_block`` runs PyPulseq's checks (duplicate events, gradient
  continuity) on the traced values: a check that depends on a parameter
  records a guard, as the ``if`` in PyPulseq does.
* **Structural queries**, computed from the recorded blocks with PyPulseq's
  formulas: ``duration``, ``get_block``, ``rf_times``, ``adc_times``,
  ``waveforms``, ``waveforms_and_times``, ``check_timing``,
  ``evaluate_labels`` are traced (their numbers are tracers where they depend
  on parameters; ``check_timing``'s ``ok`` is a traced truth value, so
  ``if ok:`` records a guard). ``get_gradients``, ``calculate_kspace`` need
  scipy / numpy on concrete numbers: they are evaluated at the traced values
  and *pinned* -- guards keep the values they were computed from -- so that
  re-executing the graph can never silently reuse a stale result.
  ``calculate_kspace``'s result pins only when the script uses it.
* **Through pypulseq** (``__str__``, ``plot``, ``test_report``,
  ``calculate_gradient_spectrum``, ``waveforms_export``): the graph is
  exported at the traced values and the real method runs. Display only
  (``plot``, ``test_report``, ``str``) is not pinned; results are pinned when used.

PyPulseq computes its queries from its event *library* (where arbitrary shapes
are compressed with a 1e-7 quantisation); here they come from the events as
recorded, so arbitrary waveforms agree with PyPulseq's to that quantisation and
everything else exactly. ``calculate_pns`` and ``rf_from_lib_data`` are not
available while recording (they raise, naming the alternative).
"""
from __future__ import annotations

import copy as _copy
import math
import warnings
from types import SimpleNamespace

import attrs
import numpy as np

from .. import tmath as tm
from .. import tracer as _tr
from ..ir.events import Delay
from ..ir.graph import Block, ParamInfo, Registration, SequenceGraph
from ..tracer import Tracer, user_line, value_of
from .events import Event, to_arg, to_ir, with_line
from .opts import Opts, as_opts, to_system
from .rf_use import get_supported_labels

__all__ = ["Sequence"]

EPS = np.finfo(np.float64).eps  # pypulseq.eps
_GRAD_COLUMNS = ("gx", "gy", "gz")
_HANDLE_ATTRS = ("id", "shape_IDs")  # set from register_*_event; not part of the event


class _Entry:
    """One block: its IR, its duration (s; number or tracer) and the events as added."""

    __slots__ = ("block", "duration", "events", "labels", "triggers")

    def __init__(self, block, duration, events, labels, triggers):
        self.block = block
        self.duration = duration
        self.events = events  # column ("rf", "gx", "gy", "gz", "adc") -> event
        self.labels = labels  # label events, in the order given
        self.triggers = triggers  # trigger / output events


class Sequence:
    """Sequence with PyPulseq 1.4.2's interface that records an IR graph.

    ``add_block`` snapshots its events (later changes to an event affect later
    blocks only, as in PyPulseq); the block duration is traced with
    PyPulseq's formula, so ``duration()`` is exact.
    """

    version_major, version_minor, version_revision = 1, 4, 2

    def __init__(self, system=None, use_block_cache=True):
        self._ctx = _tr.context()
        self.system = Opts() if system is None else as_opts(system)
        self.use_block_cache = use_block_cache
        self._table: dict = {}  # block id -> _Entry, in sequence order (like pypulseq's dict)
        self.next_free_block_ID = 1
        self.definitions: dict = {}
        self._definition_args: dict = {}
        self.extension_numeric_idx: list = []
        self.extension_string_idx: list = []
        self._registry: dict = {}  # (library, handle) -> (event, IR event) as registered
        self._registrations: list = []
        self._copies: dict = {}  # id(IR event) -> the event as added (shared by its blocks)
        self.signature_type = self.signature_file = self.signature_value = ""
        self.rf_raster_time = self.system.rf_raster_time
        self.grad_raster_time = self.system.grad_raster_time
        self.adc_raster_time = self.system.adc_raster_time
        self.block_duration_raster = self.system.block_duration_raster
        self.set_definition("AdcRasterTime", self.adc_raster_time)
        self.set_definition("BlockDurationRaster", self.block_duration_raster)
        self.set_definition("GradientRasterTime", self.grad_raster_time)
        self.set_definition("RadiofrequencyRasterTime", self.rf_raster_time)
        self._line = user_line()
        self._ctx.add_sequence(self)

    # ================================================================== building

    def add_block(self, *args) -> None:
        """Append a block of events (and / or a block duration in s)."""
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

    def _make_block(self, block_index, args, line) -> _Entry:
        ctx = self._ctx
        events, ir_events, labels, triggers = {}, [], [], []
        duration = 0
        check_g = {}  # channel index -> (column, (start time, first), (end time, last))
        raster = self.grad_raster_time
        for event in _block_to_events(args):
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
                column = _GRAD_COLUMNS[channel_num]
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
        return _Entry(Block(tuple(ir_events), ctx.node(duration), line), duration, events,
                      tuple(labels), tuple(triggers))

    def _check_gradients(self, block_index, check_g, duration) -> None:
        """PyPulseq's gradient checks: a gradient that starts (ends) off zero must connect to
        the previous block's gradient (end at the block boundary)."""
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

    def _resolve(self, event):
        """(event as added, its IR event): a registered event (``event.id``) is used as it
        was registered, as PyPulseq uses its library entry."""
        handle = getattr(event, "__dict__", {}).get("id")
        if handle is not None:
            hit = self._registry.get((_library(event.type), handle))
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
        clean = _without_handles(ir_event)
        self._copies[key] = (_copy.copy(event), ir_event, clean)
        return self._copies[key][0], clean

    def set_definition(self, key: str, value) -> None:
        """Set the ``[DEFINITIONS]`` entry ``key`` (traced numbers are recorded)."""
        if key == "FOV":
            values = value if isinstance(value, (list, tuple, np.ndarray)) else [value]
            biggest = values[0]
            for v in values[1:]:
                biggest = tm.maximum(biggest, v)
            if biggest > 1:
                warnings.warn("Definition FOV uses values exceeding 1 m. New Pulseq interpreters "
                              "expect values in units of meters.")
        self.definitions[key] = value
        self._definition_args[key] = to_arg(self._ctx, value)

    def get_definition(self, key: str):
        return self.definitions.get(key, "")

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

    def register_adc_event(self, event) -> int:
        return self._register(event)

    def register_label_event(self, event) -> int:
        get_supported_labels().index(event.label)  # ValueError for an unknown label, as pypulseq
        if event.type not in ("labelset", "labelinc"):
            raise ValueError("Unsupported label type passed to register_label_event()")
        return self._register(event)

    def _register(self, event) -> int:
        event, ir_event = self._snapshot(event)
        library = _library(event.type)
        handle = 1 + sum(1 for lib, _ in self._registry if lib == library)
        self._registry[(library, handle)] = (event, ir_event)
        self._registrations.append(Registration(len(self._table), ir_event, user_line()))
        return handle

    # -- extensions (bookkeeping, as pypulseq)

    def get_extension_type_ID(self, extension_string: str) -> int:
        if extension_string not in self.extension_string_idx:
            extension_id = 1 if not self.extension_numeric_idx else 1 + max(self.extension_numeric_idx)
            self.extension_numeric_idx.append(extension_id)
            self.extension_string_idx.append(extension_string)
        else:
            extension_id = self.extension_numeric_idx[self.extension_string_idx.index(extension_string)]
        return extension_id

    def get_extension_type_string(self, extension_id: int) -> str:
        if extension_id not in self.extension_numeric_idx:
            raise ValueError(f"Extension for the given ID - {extension_id} - is unknown.")
        return self.extension_string_idx[self.extension_numeric_idx.index(extension_id)]

    def set_extension_string_ID(self, extension_str: str, extension_id: int) -> None:
        """Set the numeric id of an extension. The export numbers extensions in the order of
        first use (pypulseq's default); an explicit numbering is not exported."""
        if extension_str in self.extension_string_idx or extension_id in self.extension_numeric_idx:
            raise ValueError("Numeric or string ID is not unique")
        self.extension_numeric_idx.append(extension_id)
        self.extension_string_idx.append(extension_str)
        self._ctx.say_once(("extension id",), f"{user_line()}: set_extension_string_ID is kept "
                           "for queries; the exported file numbers extensions in order of use")

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
        selected = {_grad_key(e.events[column]) for e in self._table.values() if column in e.events}
        others = {_grad_key(e.events[c]) for e in self._table.values() for c in _GRAD_COLUMNS
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
                hit = scaled[id(old)] = (new, _without_handles(to_ir(self._ctx, new)))
            entry.events = dict(entry.events, **{column: hit[0]})
            entry.block = attrs.evolve(entry.block, events=tuple(
                hit[1] if e is old else e for e in entry.block.events))

    def remove_duplicates(self, in_place: bool = False) -> "Sequence":
        """The sequence with duplicate library events merged. The recording keeps events,
        not a library: pypulseq merges them when the export writes (``write`` does it by
        default), so this returns the sequence itself (``in_place``) or a copy."""
        if in_place:
            return self
        new = Sequence.__new__(Sequence)
        new.__dict__.update(self.__dict__)
        new._table = {k: _Entry(e.block, e.duration, dict(e.events), e.labels, e.triggers)
                      for k, e in self._table.items()}
        new.definitions = dict(self.definitions)
        new._definition_args = dict(self._definition_args)
        new.extension_numeric_idx = list(self.extension_numeric_idx)
        new.extension_string_idx = list(self.extension_string_idx)
        new._registry = dict(self._registry)
        new._registrations = list(self._registrations)
        return new

    # ================================================================== structural queries

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
        for column, event in entry.events.items():
            setattr(block, column, _copy.copy(event))
        if entry.labels:
            block.label = {i: _copy.copy(e) for i, e in enumerate(entry.labels)}
        if entry.triggers:
            block.trigger = {i: _copy.copy(e) for i, e in enumerate(entry.triggers)}
        return block

    def duration(self):
        """(total duration in s, number of blocks, event count per column)."""
        if not self._table:
            raise StopIteration  # what pypulseq 1.4.2 raises for an empty sequence
        total = 0
        counts = np.zeros(7)
        rows = self.block_events
        for i, entry in self._table.items():
            counts += rows[i] > 0
            total = total + entry.duration
        return total, len(self._table), counts

    def _block_range(self, time_range):
        """(block ids, start time of the first) for PyPulseq's ``time_range`` selection."""
        if time_range is None:
            return list(self._table), 0
        if len(time_range) != 2:
            raise ValueError("Time range must be list of two elements")
        if time_range[0] > time_range[1]:
            raise ValueError("End time of time_range must be after begin time")
        ids = list(self._table)
        durations = [self._table[i].duration for i in ids]
        ends, total = [], 0
        for d in durations:
            total = total + d
            ends.append(total)
        starts = [t - d for t, d in zip(ends, durations)]
        begin = _searchsorted(ends, time_range[0], "left")  # the first block ending at / after t0
        end = _searchsorted(starts, time_range[1], "right")  # the first block starting after t1
        return ids[begin:end], ends[begin] - durations[begin]

    def rf_times(self, time_range=None):
        """(t_excitation, fp_excitation, t_refocusing, fp_refocusing): RF centre times (s),
        frequency and phase offsets; traced."""
        from .calc_rf_center import calc_rf_center
        t_excitation, fp_excitation, t_refocusing, fp_refocusing = [], [], [], []
        ids, curr_dur = self._block_range(time_range)
        for block_id in ids:
            entry = self._table[block_id]
            rf = entry.events.get("rf")
            if rf is not None:
                t = rf.delay + calc_rf_center(rf)[0]
                use = getattr(rf, "use", "")
                if use in ("", "excitation", "undefined"):  # the library's 'u' is 'undefined'
                    t_excitation.append(curr_dur + t)
                    fp_excitation.append([rf.freq_offset, rf.phase_offset])
                elif use == "refocusing":
                    t_refocusing.append(curr_dur + t)
                    fp_refocusing.append([rf.freq_offset, rf.phase_offset])
            curr_dur = curr_dur + entry.duration
        return (t_excitation, _pairs_T(fp_excitation), t_refocusing, _pairs_T(fp_refocusing))

    def adc_times(self, time_range=None):
        """(t_adc, fp_adc): every ADC sample time (s) and each ADC's frequency / phase offset;
        traced."""
        t_adc, fp_adc = [], []
        ids, curr_dur = self._block_range(time_range)
        for block_id in ids:
            entry = self._table[block_id]
            adc = entry.events.get("adc")
            if adc is not None:
                delay = tm.maximum(adc.delay, adc.dead_time)  # what pypulseq's library keeps
                t_adc.append((np.arange(adc.num_samples) + 0.5) * adc.dwell + delay + curr_dur)
                fp_adc.append([adc.freq_offset, adc.phase_offset])
            curr_dur = curr_dur + entry.duration
        if not t_adc:
            return np.zeros(0), np.zeros((0, 2))
        t_adc = _concat(t_adc)
        if any(isinstance(v, Tracer) for pair in fp_adc for v in pair):
            return t_adc, _tr.stack([_tr.stack(pair) for pair in fp_adc])
        return t_adc, np.array(fp_adc)

    def waveforms(self, append_RF: bool = False, time_range=None) -> list:
        """Gradient waveforms (and RF with ``append_RF``): per channel a (2, N) array of
        times (s) and amplitudes (Hz/m; RF in Hz, complex); traced."""
        raster = self.grad_raster_time
        shape_channels = 4 if append_RF else 3
        pieces = [[] for _ in range(shape_channels)]  # (times, values) per channel
        ids, curr_dur = self._block_range(time_range)
        for block_id in ids:
            entry = self._table[block_id]
            for j, column in enumerate(_GRAD_COLUMNS):
                grad = entry.events.get(column)
                if grad is None:
                    continue
                if grad.type == "grad":
                    tt = _library_times(grad.tt, raster)
                    tt_rast = tt / raster + 0.5
                    if np.all(np.abs(tt_rast - np.arange(1, len(tt_rast) + 1)) < EPS):
                        # an arbitrary gradient on the raster: its first and last values added
                        times = curr_dur + grad.delay + _concat(
                            ([0], tt, [tt[-1] + raster / 2]))
                        values = _concat(([grad.first], grad.waveform, [grad.last]))
                    else:  # an extended trapezoid
                        times = curr_dur + grad.delay + tt
                        values = grad.waveform
                elif abs(grad.flat_time) > EPS:
                    times = _tr.stack(_cumsum(curr_dur + grad.delay, grad.rise_time,
                                              grad.flat_time, grad.fall_time))
                    values = grad.amplitude * np.array([0, 1, 1, 0])
                elif abs(grad.rise_time) > EPS and abs(grad.fall_time) > EPS:
                    times = _tr.stack(_cumsum(curr_dur + grad.delay, grad.rise_time,
                                              grad.fall_time))
                    values = grad.amplitude * np.array([0, 1, 0])
                else:
                    if abs(grad.amplitude) > EPS:
                        print(f'Warning: "empty" gradient with non-zero magnitude detected in '
                              f'block {block_id}')
                    continue
                pieces[j].append((times, values))
            rf = entry.events.get("rf")
            if rf is not None and append_RF:
                t = _library_times(rf.t, self.rf_raster_time)
                times = curr_dur + rf.delay + t
                values = rf.signal * np.exp(1j * (rf.phase_offset
                                                  + 2 * np.pi * rf.freq_offset * t))
                if abs(rf.signal[0]) > 0:
                    times = _concat(([times[0] - 0.1 * self.system.rf_raster_time], times))
                    values = _concat(([0], values))
                if abs(rf.signal[-1]) > 0:
                    times = _concat((times, [times[-1] + 0.1 * self.system.rf_raster_time]))
                    values = _concat((values, [0]))
                pieces[-1].append((times, values))
            curr_dur = curr_dur + entry.duration

        wave_data = []
        for channel in pieces:
            if not channel:
                wave_data.append(np.zeros((2, 0)))
                continue
            # a piece starting where the previous ended loses its first point
            joined = [channel[0]]
            for prev, cur in zip(channel[:-1], channel[1:]):
                joined.append(cur if prev[0][-1] + EPS < cur[0][0] else (cur[0][1:], cur[1][1:]))
            times = _concat([p[0] for p in joined])
            values = _concat([p[1] for p in joined])
            if np.any(np.diff(times) < EPS):
                raise Warning("Time vector elements are not monotonically increasing.")
            if not isinstance(times, Tracer) and not isinstance(values, Tracer):
                wave_data.append(np.array([times, values]))
            else:
                wave_data.append(np.stack([times, values]))
        return wave_data

    def waveforms_and_times(self, append_RF: bool = False, time_range=None):
        """(wave_data, tfp_excitation, tfp_refocusing, t_adc, fp_adc); traced."""
        wave_data = self.waveforms(append_RF=append_RF, time_range=time_range)
        t_excitation, fp_excitation, t_refocusing, fp_refocusing = self.rf_times(time_range)
        t_adc, fp_adc = self.adc_times(time_range)
        return (wave_data, _join_times(t_excitation, fp_excitation),
                _join_times(t_refocusing, fp_refocusing), t_adc, fp_adc)

    def get_gradients(self, trajectory_delay=0, gradient_offset=0, time_range=None) -> list:
        """Gradient waveforms as scipy ``PPoly`` per channel (None for an unused channel).

        Evaluated at the traced values and pinned: the waveforms are guarded to keep these
        values (a ``PPoly`` cannot be traced)."""
        gw_pp, used = self._gradients(trajectory_delay, gradient_offset, time_range)
        _pin(used)
        return gw_pp

    def _gradients(self, trajectory_delay, gradient_offset, time_range):
        """pypulseq's ``get_gradients`` on concrete values: (PPolys, the traced inputs)."""
        from scipy.interpolate import PPoly
        used = [trajectory_delay, gradient_offset]
        trajectory_delay = _concrete(trajectory_delay)
        gradient_offset = _concrete(gradient_offset)
        if np.any(np.abs(trajectory_delay) > 100e-6):
            raise Warning(f"Trajectory delay of {trajectory_delay * 1e6} us is suspiciously high")
        durations = list(self.block_durations.values())
        used.append(durations)
        total_duration = sum(_concrete(durations))
        gw_data = self.waveforms(time_range=time_range)
        used.append(gw_data)
        gw_data = [np.array(_concrete(w)) for w in gw_data]
        ng = len(gw_data)
        if isinstance(trajectory_delay, (int, float)):
            gradient_delays = [trajectory_delay] * ng
        else:
            assert len(trajectory_delay) == ng
            gradient_delays = [trajectory_delay] * ng  # (sic) pypulseq 1.4.2
        if isinstance(gradient_offset, (int, float)):
            gradient_offset = [gradient_offset] * ng
        else:
            assert len(gradient_offset) == ng
        gw_pp = []
        for j in range(ng):
            if gw_data[j].shape[1] == 0:
                if np.abs(gradient_offset[j]) <= EPS:
                    gw_pp.append(None)
                    continue
                gw = np.array(([0, total_duration], [0, 0]))
            else:
                gw = gw_data[j]
            if np.abs(gradient_delays[j]) > EPS:
                gw[0] = gw[0] - gradient_delays[j]
            if not np.all(np.isfinite(gw)):
                raise Warning("Not all elements of the generated waveform are finite.")
            teps = 1e-12
            _temp1 = np.array(([gw[0, 0] - 2 * teps, gw[0, 0] - teps], [0, 0]))
            _temp2 = np.array(([gw[0, -1] + teps, gw[0, -1] + 2 * teps], [0, 0]))
            gw = np.hstack((_temp1, gw, _temp2))
            if np.abs(gradient_offset[j]) > EPS:
                gw[1, :] += gradient_offset[j]
            gw[1][gw[1] == -0.0] = 0.0
            gw_pp.append(PPoly(np.stack((np.diff(gw[1]) / np.diff(gw[0]), gw[1][:-1])), gw[0],
                               extrapolate=True))
        return gw_pp, used

    def calculate_kspace(self, trajectory_delay=0, gradient_offset=0):
        """(k_traj_adc, k_traj, t_excitation, t_refocusing, t_adc), PyPulseq's algorithm.

        Evaluated at the traced values; the result pins (guards) the values it was computed
        from when the script uses it, so a result that is never looked at costs nothing."""
        if np.any(np.abs(_concrete(trajectory_delay)) > 100e-6):
            raise Warning(f"Trajectory delay of {_concrete(trajectory_delay) * 1e6} us is "
                          "suspiciously high")
        durations = list(self.block_durations.values())
        t_excitation, fp_excitation, t_refocusing, _ = self.rf_times()
        t_adc, _ = self.adc_times()
        gw_pp, used = self._gradients(trajectory_delay, gradient_offset, None)
        used += [durations, t_excitation, fp_excitation, t_refocusing, t_adc]
        result = _kspace(gw_pp, sum(_concrete(durations)), list(_concrete(t_excitation)),
                         np.asarray(_concrete(fp_excitation), dtype=float),
                         list(_concrete(t_refocusing)), np.asarray(_concrete(t_adc), dtype=float),
                         self.grad_raster_time, self.rf_raster_time)
        return PinnedTuple(result, lambda: _pin(used))

    def calculate_kspacePP(self, trajectory_delay=0, gradient_offset=0):
        warnings.warn("Sequence.calculate_kspacePP has been deprecated, use calculate_kspace "
                      "instead", DeprecationWarning, stacklevel=2)
        return self.calculate_kspace(trajectory_delay, gradient_offset)

    def evaluate_labels(self, init: dict = None, evolution: str = "none") -> dict:
        """Label values at the end (or their evolution per 'blocks' / 'adc' / 'label');
        traced. Labels of one block are applied in the order they were given."""
        labels = init or dict()
        label_evolution = []
        for entry in self._table.values():
            if entry.labels:
                for lab in entry.labels:
                    if lab.type == "labelinc":
                        if lab.label not in labels:
                            labels[lab.label] = 0
                        labels[lab.label] = labels[lab.label] + lab.value
                    else:
                        labels[lab.label] = lab.value
                if evolution == "label":
                    label_evolution.append(dict(labels))
            if evolution == "blocks" or (evolution == "adc" and "adc" in entry.events):
                label_evolution.append(dict(labels))
        if len(label_evolution) > 0:
            for lab in labels:
                values = [e[lab] if lab in e else 0 for e in label_evolution]
                labels[lab] = (_tr.stack(values) if any(isinstance(v, Tracer) for v in values)
                               else np.array(values))
        return labels

    def check_timing(self):
        """(ok, error_report): PyPulseq's timing checks on every block, from the graph.

        ``ok`` is traced where it depends on parameters (``if ok:`` records a guard); the
        report is computed at the traced values and pins what it says when it is used.
        Sets the definition ``TotalDuration`` (traced), as PyPulseq does."""
        memo: dict = {}
        is_ok, total_duration, results = True, 0, []
        for block_id, entry in self._table.items():
            key = (entry.block.duration,) + tuple(
                ("delay", e.delay) if e.origin is None and e.kind == "delay" else id(e)
                for e in entry.block.events)
            hit = memo.get(key)
            if hit is None:
                hit = memo[key] = _BlockTiming(self, entry)
            is_ok = _and(is_ok, hit.ok)
            total_duration = total_duration + hit.duration
            results.append((block_id, hit))
        self.set_definition("TotalDuration", total_duration)
        report = [text for block_id, r in results for text in r.report(block_id, traced=False)]
        if not isinstance(is_ok, Tracer) and not any(r.traced for r in memo.values()):
            return is_ok, report

        def pin():  # the report says what it says at the traced values: keep them
            if isinstance(is_ok, Tracer) and bool(is_ok):
                return  # (ok -> no report)
            for block_id, r in results:
                r.report(block_id, traced=True)
        return is_ok, PinnedList(report, pin)

    # ================================================================== through pypulseq

    def _exported(self):
        """The real ``pypulseq.Sequence`` of this recording at the traced values."""
        from ..graph import Graph
        return Graph(self.to_graph()).to_pypulseq()

    def __str__(self) -> str:
        """PyPulseq's summary (library sizes), of the export at the traced values."""
        try:
            return str(self._exported())
        except Exception as e:  # keep str() usable for debugging
            return f"Sequence: {len(self._table)} blocks (not exportable: {e})"

    def plot(self, *args, **kwargs) -> None:
        """PyPulseq's plot of the sequence at the traced values (display only)."""
        return self._exported().plot(*args, **kwargs)

    def test_report(self) -> str:
        """PyPulseq's text report of the sequence at the traced values (display only)."""
        return self._exported().test_report()

    def calculate_gradient_spectrum(self, *args, **kwargs):
        """PyPulseq's gradient spectrum at the traced values; pins the sequence when used."""
        result = self._exported().calculate_gradient_spectrum(*args, **kwargs)
        return PinnedTuple(result, self._pin_everything)

    def waveforms_export(self, time_range=(0, np.inf)) -> dict:
        """PyPulseq's ``waveforms_export`` at the traced values; pins the sequence when used."""
        return PinnedDict(self._exported().waveforms_export(time_range), self._pin_everything)

    def _pin_everything(self) -> None:
        """Guard every traced value the blocks use (a result of the whole sequence)."""
        from ..ir.events import event_nodes
        ctx = self._ctx
        nodes = []
        for entry in self._table.values():
            nodes.append(entry.block.duration)
            for e in entry.block.events:
                nodes.extend(event_nodes(e))
        values = ctx.builder.freeze()
        dependent = values.depends_on_params()
        from ..ir.evaluate import evaluate
        params = {node: value for _, node, _, value, _ in ctx.params}
        wanted = sorted({n for n in nodes if dependent[n]})
        if not wanted:
            return
        env = evaluate(values, params, "numpy", roots=wanted)
        _pin([Tracer(ctx, n, env[n], "f") for n in wanted])

    def calculate_pns(self, *args, **kwargs):
        raise NotImplementedError(
            "calculate_pns is not available while recording: export the traced graph "
            "(graph.to_pypulseq().calculate_pns(hardware)) or run the script with pypulseq")

    def rf_from_lib_data(self, lib_data, use: str = ""):
        raise NotImplementedError(
            "rf_from_lib_data reads pypulseq's event library, which the recording does not "
            "keep: use seq.get_block(i).rf")

    # ================================================================== files

    def read(self, file_path, detect_rf_use: bool = False, remove_duplicates: bool = True) -> None:
        """Load a ``.seq`` file: its blocks become constant events of this recording (read
        with pypulseq, then added block by block; writing it again gives the same file)."""
        from ..backends import pypulseq as backend
        real = backend.pp.Sequence(backend.make_opts(to_system(self.system)))
        real.read(str(file_path), detect_rf_use=detect_rf_use, remove_duplicates=remove_duplicates)
        # pypulseq's reader takes these rasters from the file (the gradient raster it does not)
        system = _copy.copy(self.system)
        system.rf_raster_time = self.rf_raster_time = real.rf_raster_time
        system.adc_raster_time = self.adc_raster_time = real.adc_raster_time
        system.block_duration_raster = self.block_duration_raster = real.block_duration_raster
        self.system = system
        self._table.clear()
        self._registry.clear()
        self._registrations.clear()
        self.definitions, self._definition_args = {}, {}
        self.extension_numeric_idx = list(real.extension_numeric_idx)
        self.extension_string_idx = list(real.extension_string_idx)
        for key, value in real.definitions.items():
            self.set_definition(key, value)
        # pypulseq numbers its libraries in the order events are registered: registering
        # the file's events in its order first makes the export number them as the file does
        for event in _library_events(real):
            self._register(_from_library(event))
        for block_id in real.block_events:
            self.set_block(block_id, *[_from_library(e) for e in _block_events(real, block_id)],
                           real.block_durations[block_id])
        self.next_free_block_ID = (max(self._table) + 1) if self._table else 1

    def write(self, name, create_signature: bool = True, remove_duplicates: bool = True):
        """Writes nothing while recording (says so once); export with ``graph.write``."""
        self._ctx.say_once(("write",), f"{user_line()}: seq.write({str(name)!r}) writes nothing "
                           "while recording; write the traced graph with graph.write(path) "
                           "or call the script with real pypulseq")
        return "" if create_signature else None

    # ================================================================== leaving the recording

    def to_graph(self, name: str | None = None) -> SequenceGraph:
        """The IR of this sequence as built so far."""
        ctx = self._ctx
        params = tuple(ParamInfo(n, node, shape, value, tensor)
                       for n, node, shape, value, tensor in ctx.params)
        return SequenceGraph(name or ctx.name, ctx.builder.freeze(), params,
                             tuple(e.block for e in self._table.values()),
                             to_system(self.system), tuple(self._definition_args.items()),
                             tuple(ctx.guards), tuple(self._registrations))

    def to_mr0(self, **options):  # rf_subpulses=n, rf_centre="middle" | "peak"
        """The MRzeroCore sequence, differentiable w.r.t. the tensors the script used."""
        from ..graph import Graph
        return Graph(self.to_graph()).to_mr0(**options)

    def to_pypulseq(self):
        from ..graph import Graph
        return Graph(self.to_graph()).to_pypulseq()


# ====================================================================== check_timing


class _BlockTiming:
    """PyPulseq's ``check_timing`` of one block, on the values its event library would hold
    (ADC delay at least the dead time, RF dead / ringdown times of the sequence's system,
    shape durations on the raster). Flags are bools or traced truth values."""

    def __init__(self, seq: Sequence, entry: _Entry):
        system = seq.system
        stored = entry.duration
        views = _library_views(seq, entry)
        total = stored  # calc_duration: the block duration first, then each event
        for v in views:
            total = tm.maximum(total, _view_duration(v))
        self.total = total
        self.total_ok = _div_check(total, system.block_duration_raster)
        self.events = [(v, _event_ok(v, system)) for v in views]
        self.inconsistent = abs(total - stored) > EPS
        duration = tm.where(self.inconsistent, stored, total)
        self.duration = duration
        self.extras = []  # (failed, text builder)
        rf = entry.events.get("rf")
        if rf is not None:
            rf_view = views[0]
            delay = rf.delay
            self.extras.append((delay - rf_view.dead_time < -EPS, lambda f, d=delay, v=rf_view: (
                f"Delay of {f(d * 1e6)} us is smaller than the RF dead time "
                f"{f(v.dead_time * 1e6)} us")))
            end = delay + rf_view.t_last
            self.extras.append((end + rf_view.ringdown_time - duration > EPS, lambda f, e=end: (
                f"Time between the end of the RF pulse at {f(e)} and the end of the block at "
                f"{f(duration * 1e6)} us is shorter than rf_ringdown_time")))
        adc = entry.events.get("adc")
        if adc is not None:
            delay = tm.maximum(adc.delay, adc.dead_time)
            self.extras.append((delay - system.adc_dead_time < -EPS,
                                lambda f: "adc.delay < system.adc_dead_time"))
            self.extras.append((delay + adc.num_samples * adc.dwell + system.adc_dead_time
                                - duration > EPS,
                                lambda f: "adc: system.adc_dead_time (post-ADC) violation"))
        ok = _and(self.total_ok, _not(self.inconsistent))
        for _, event_ok in self.events:
            ok = _and(ok, event_ok)
        for failed, _ in self.extras:
            ok = _and(ok, _not(failed))
        self.ok = ok
        self.traced = any(isinstance(x, Tracer) for x in (
            ok, total, self.total_ok, self.inconsistent, *(f for _, f in self.events),
            *(f for f, _ in self.extras)))

    def report(self, block_id, traced: bool) -> list:
        """The block's line of PyPulseq's error report. ``traced=True`` records the guards
        that keep it (every flag it reads, every number it prints)."""
        truth = bool if traced else (lambda x: bool(value_of(x)))
        text = (lambda x: format(x, "")) if traced else (lambda x: format(value_of(x), ""))
        if truth(self.ok):
            return []
        rep = "" if truth(self.total_ok) else f"Total duration: {text(self.total * 1e6)} us"
        for view, event_ok in self.events:
            if not truth(event_ok):
                rep = _event_error_text(view, text)
        if truth(self.inconsistent):
            rep += ("Inconsistency between the stored block duration and the duration of the "
                    "block content")
        for failed, build in self.extras:
            if truth(failed):
                rep += build(text)
        return [f"Event: {block_id} - {rep}\n"] if rep else []


def _library_views(seq: Sequence, entry: _Entry) -> list:
    """The block's events as pypulseq's ``get_block`` rebuilds them from its library, in
    ``block_to_events`` order (rf, gx, gy, gz, adc, labels, triggers); timing fields only."""
    system = seq.system
    views = []
    rf = entry.events.get("rf")
    if rf is not None:
        t = rf.t
        if _is_regular(t, seq.rf_raster_time):
            n = len(value_of(t))
            t_last, shape_dur = (n - 0.5) * seq.rf_raster_time, n * seq.rf_raster_time
        else:
            t_last = t[-1]
            shape_dur = math.ceil((t_last - EPS) / seq.rf_raster_time) * seq.rf_raster_time
        views.append(SimpleNamespace(type="rf", delay=rf.delay, shape_dur=shape_dur,
                                     t_last=t_last, dead_time=system.rf_dead_time,
                                     ringdown_time=system.rf_ringdown_time))
    for column in _GRAD_COLUMNS:
        g = entry.events.get(column)
        if g is None:
            continue
        if g.type == "trap":
            views.append(SimpleNamespace(type="trap", delay=g.delay, rise_time=g.rise_time,
                                         flat_time=g.flat_time, fall_time=g.fall_time))
        else:
            tt = g.tt
            shape_dur = (len(value_of(tt)) * seq.grad_raster_time
                         if _is_regular(tt, seq.grad_raster_time) else tt[-1])
            views.append(SimpleNamespace(type="grad", delay=g.delay, shape_dur=shape_dur))
    adc = entry.events.get("adc")
    if adc is not None:
        views.append(SimpleNamespace(type="adc", delay=tm.maximum(adc.delay, adc.dead_time),
                                     dwell=adc.dwell, num_samples=adc.num_samples,
                                     dead_time=adc.dead_time))
    views.extend(SimpleNamespace(type=lab.type) for lab in entry.labels)
    views.extend(SimpleNamespace(type=t.type, delay=t.delay, duration=t.duration)
                 for t in entry.triggers)
    return views


def _view_duration(v):
    """pypulseq's ``calc_duration`` term of one library event."""
    if v.type == "rf":
        return v.delay + v.shape_dur + v.ringdown_time
    if v.type == "grad":
        return v.delay + v.shape_dur
    if v.type == "adc":
        return v.delay + v.num_samples * v.dwell + v.dead_time
    if v.type == "trap":
        return v.delay + v.rise_time + v.flat_time + v.fall_time
    if v.type in ("output", "trigger"):
        return v.delay + v.duration
    return 0


def _event_ok(e, system):
    """pypulseq's ``check_timing`` of one event: its times on their rasters."""
    raster = system.rf_raster_time if e.type in ("adc", "rf") else system.grad_raster_time
    ok = True
    if hasattr(e, "delay"):
        ok = _and(ok, _not(e.delay < -EPS))
        ok = _and(ok, _div_check(e.delay, raster))
    if hasattr(e, "duration"):
        ok = _and(ok, _div_check(e.duration, raster))
    if hasattr(e, "dwell"):
        off = abs(round(e.dwell / system.adc_raster_time) * system.adc_raster_time - e.dwell)
        ok = _and(ok, _not(_or(e.dwell < system.adc_raster_time, off > 1e-10)))
    if e.type == "trap":
        for t in (e.rise_time, e.flat_time, e.fall_time):
            ok = _and(ok, _div_check(t, system.grad_raster_time))
    return ok


def _event_error_text(e, text) -> str:
    out = "["
    out += f"type: {e.type} "
    if hasattr(e, "delay"):
        out += f"delay: {text(e.delay * 1e6)} us "
    if hasattr(e, "duration"):
        out += f"duration: {text(e.duration * 1e6)} us"
    if hasattr(e, "dwell"):
        out += f"dwell: {text(e.dwell * 1e9)} ns"
    if e.type == "trap":
        out += (f"rise time: {text(e.rise_time * 1e6)} flat time: {text(e.flat_time * 1e6)} "
                f"fall time: {text(e.fall_time * 1e6)} us")
    return out + "]"


def _div_check(a, b):
    """pypulseq's ``__div_check``: a is a multiple of b to 1e-9."""
    c = a / b
    return abs(c - round(c)) < 1e-9


# ====================================================================== truth values


def _truth(x) -> bool | None:
    """The value of a plain truth value, None for a traced one."""
    return None if isinstance(x, Tracer) else bool(x)


def _and(a, b):
    if _truth(a) is False or _truth(b) is False:
        return False
    if _truth(a) is True:
        return b if isinstance(b, Tracer) else True
    if _truth(b) is True:
        return a
    return a & b


def _or(a, b):
    if _truth(a) is True or _truth(b) is True:
        return True
    if _truth(a) is False:
        return b if isinstance(b, Tracer) else False
    if _truth(b) is False:
        return a
    return a | b


def _not(a):
    return ~a if isinstance(a, Tracer) else not a


# ====================================================================== pinned results


def _leaves(x):
    if isinstance(x, (list, tuple)):
        for v in x:
            yield from _leaves(v)
    elif isinstance(x, dict):
        for v in x.values():
            yield from _leaves(v)
    else:
        yield x


def _pin(values) -> None:
    """Guard that these traced values keep the values they have now: a result computed from
    them at the traced values stays valid (another value re-traces)."""
    for v in _leaves(values):
        if not isinstance(v, Tracer):
            continue
        if np.ndim(v.value) == 0 and not np.iscomplexobj(v.value):
            kind = {"f": "float", "i": "int", "b": "bool"}[v.kind]
            observed = {"f": float, "i": int, "b": bool}[v.kind](v.value)
            v.ctx.add_guard(v, kind, observed)
        else:
            bool(np.all(v == np.asarray(v.value)))


def _concrete(x):
    """The concrete value of a (nested list / tuple of) traced values."""
    if isinstance(x, list):
        return [_concrete(v) for v in x]
    if isinstance(x, tuple):
        return tuple(_concrete(v) for v in x)
    return value_of(x)


class PinnedTuple(tuple):
    """A tuple computed at the traced values: the first use of its items pins (guards)
    the values it was computed from. Unused, it records nothing."""

    def __new__(cls, items, pin):
        obj = super().__new__(cls, items)
        obj._pin = pin
        return obj

    def _use(self):
        pin, self._pin = self._pin, None
        if pin is not None:
            pin()

    def __iter__(self):
        self._use()
        return super().__iter__()

    def __getitem__(self, i):
        self._use()
        return super().__getitem__(i)

    def __repr__(self):
        self._use()
        return super().__repr__()

    def __eq__(self, other):
        self._use()
        return super().__eq__(other)

    __hash__ = tuple.__hash__


class PinnedList(list):
    """A list computed at the traced values (see :class:`PinnedTuple`)."""

    def __init__(self, items, pin):
        super().__init__(items)
        self._pin = pin

    def _use(self):
        pin, self._pin = self._pin, None
        if pin is not None:
            pin()

    def __iter__(self):
        self._use()
        return super().__iter__()

    def __getitem__(self, i):
        self._use()
        return super().__getitem__(i)

    def __len__(self):
        self._use()
        return super().__len__()

    def __repr__(self):
        self._use()
        return super().__repr__()

    def __eq__(self, other):
        self._use()
        return super().__eq__(other)

    def __contains__(self, x):
        self._use()
        return super().__contains__(x)


class PinnedDict(dict):
    """A dict computed at the traced values (see :class:`PinnedTuple`)."""

    def __init__(self, items, pin):
        super().__init__(items)
        self._pin = pin

    def _use(self):
        pin, self._pin = self._pin, None
        if pin is not None:
            pin()

    def __getitem__(self, k):
        self._use()
        return super().__getitem__(k)

    def get(self, k, default=None):
        self._use()
        return super().get(k, default)

    def values(self):
        self._use()
        return super().values()

    def items(self):
        self._use()
        return super().items()

    def __repr__(self):
        self._use()
        return super().__repr__()

    def __eq__(self, other):
        self._use()
        return super().__eq__(other)


# ====================================================================== helpers


def _is_number(x) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating, Tracer)) and not isinstance(x, bool)


def _block_to_events(args) -> list:
    """pypulseq's ``block_to_events``: a block namespace (from ``get_block``) becomes its
    events (and its duration); label / trigger dicts are flattened."""
    if len(args) == 1 and hasattr(args[0], "rf") and not isinstance(args[0], Event):
        events = []
        for value in vars(args[0]).values():
            if value is None:
                continue
            events.extend(value.values() if isinstance(value, dict) else [value])
        return events
    return list(args)


def _library(kind: str) -> str:
    """Which pypulseq event library an event type lives in."""
    return "grad" if kind in ("grad", "trap") else kind


def _without_handles(ir_event):
    """The IR event without the ``id`` / ``shape_IDs`` assignments of registration (the
    export registers events itself, in the same order)."""
    origin = ir_event.origin
    if origin is None or not any(a.attr in _HANDLE_ATTRS for a in origin.assigns):
        return ir_event
    assigns = tuple(a for a in origin.assigns if a.attr not in _HANDLE_ATTRS)
    return attrs.evolve(ir_event, origin=attrs.evolve(origin, assigns=assigns))


def _grad_key(event) -> tuple:
    """What pypulseq's gradient library compares (channel excluded), at the traced values."""
    if event.type == "trap":
        return ("t",) + tuple(float(value_of(getattr(event, f))) for f in
                              ("amplitude", "rise_time", "flat_time", "fall_time", "delay"))
    return ("g", np.asarray(value_of(event.waveform), dtype=float).tobytes(),
            np.asarray(value_of(event.tt), dtype=float).tobytes(),
            float(value_of(event.delay)), float(value_of(event.first)), float(value_of(event.last)))


def _is_regular(t, raster) -> bool:
    """pypulseq's library test: are the samples at (k + 0.5) raster (then it stores no time
    shape and rebuilds them exactly)? A traced time vector is guarded."""
    n = len(value_of(t)) if np.ndim(value_of(t)) else 1
    return bool(np.all(np.floor(t / raster) == np.arange(n)))


def _library_times(t, raster):
    """Sample times as pypulseq's library gives them back (rebuilt when regular)."""
    if _is_regular(t, raster):
        return (np.arange(1, len(value_of(t)) + 1) - 0.5) * raster
    return t


def _concat(parts):
    """``np.concatenate`` of vectors and short lists, traced when any element is."""
    parts = [_tr.stack(p) if isinstance(p, list) else p for p in parts]
    if any(isinstance(p, Tracer) for p in parts):
        return _tr.apply("concat", *[p if np.ndim(_tr.value_of(p)) else _tr.stack([p])
                                     for p in parts])
    return np.concatenate(parts)


def _searchsorted(values: list, x, side: str) -> int:
    """``np.searchsorted`` over (possibly traced) sorted values; the index found is a
    discrete choice, guarded by the two comparisons that decide it."""
    k = int(np.searchsorted(np.array([value_of(v) for v in values], dtype=float), value_of(x),
                            side=side))
    if k > 0:
        bool(values[k - 1] < x if side == "left" else values[k - 1] <= x)
    if k < len(values):
        bool(values[k] >= x if side == "left" else values[k] > x)
    return k


def _cumsum(a, b, c=None, d=None):
    """pypulseq.utils.cumsum: running sums, added in the same order."""
    if d is not None:
        s1 = a + b
        s2 = s1 + c
        return (a, s1, s2, s2 + d)
    s = a + b
    return (a, s, s + c)


def _pairs_T(pairs):
    """pypulseq's ``np.array(pairs).T`` (2, n), or ``np.empty((2, 0))``."""
    if not pairs:
        return np.empty((2, 0))
    if any(isinstance(v, Tracer) for pair in pairs for v in pair):
        return _tr.stack([_tr.stack([p[0] for p in pairs]), _tr.stack([p[1] for p in pairs])])
    return np.array(pairs).T


def _join_times(times, fp):
    """pypulseq's ``np.concatenate((np.array(times)[None], fp), axis=0)``: (3, n)."""
    if not any(isinstance(v, Tracer) for v in times) and not isinstance(fp, Tracer):
        return np.concatenate((np.array(times)[None], fp), axis=0)
    return _tr.stack([_tr.stack(times), fp[0], fp[1]])


def _library_events(real) -> list:
    """The events of the libraries of a sequence pypulseq read, in the order pypulseq
    numbered them: each library by id; RF pulses and shaped gradients interleaved as
    their shapes were numbered (traps, ADCs and labels number nothing else)."""
    from .rf_use import get_supported_labels
    seen = {0}

    def event(row):  # pypulseq rebuilds an event from a block table row: borrow that
        key = -1
        real.block_events[key] = np.array(row, dtype=np.int32)
        real.block_durations[key] = 0.0
        try:
            block = real.get_block(key)
        finally:
            del real.block_events[key], real.block_durations[key]
            real.block_cache.pop(key, None)
        return block

    def new_shapes(shape_ids) -> list:
        return [i for i in shape_ids if i not in seen]

    rf_ids, grad_ids = sorted(real.rf_library.data), sorted(real.grad_library.data)
    ordered = []
    while rf_ids or grad_ids:
        g = r = None  # the shapes the next gradient / RF pulse would number
        if grad_ids:
            shaped = real.grad_library.type[grad_ids[0]] == "g"
            g = new_shapes(real.grad_library.data[grad_ids[0]][1:3]) if shaped else []
        if rf_ids:
            r = new_shapes(real.rf_library.data[rf_ids[0]][1:4])
        if r is None or g == [] or (g and r and min(g) < min(r)):
            ordered.append(event([0, 0, grad_ids.pop(0), 0, 0, 0, 0]).gx)
            seen.update(g)
        else:
            ordered.append(event([0, rf_ids.pop(0), 0, 0, 0, 0, 0]).rf)
            seen.update(r)
    ordered += [event([0, 0, 0, 0, 0, key, 0]).adc for key in sorted(real.adc_library.data)]
    labels = get_supported_labels()
    for kind, library in (("labelset", real.label_set_library),
                          ("labelinc", real.label_inc_library)):
        for key in sorted(library.data):
            value, label = library.data[key][:2]
            ordered.append(SimpleNamespace(type=kind, label=labels[int(label) - 1], value=value))
    return ordered


def _block_events(real, block_id: int) -> list:
    """The events of a block pypulseq read, the extensions (labels, triggers) in the order
    pypulseq sorted them when it added the block (its chain lists them in reverse)."""
    block = real.get_block(block_id)
    events = [getattr(block, c) for c in ("rf", "gx", "gy", "gz", "adc")]
    labels = list((block.label or {}).values())
    triggers = list(getattr(block, "trigger", {}).values())
    chain, ext = [], real.block_events[block_id][6]
    while ext:
        kind, _, ext = real.extensions_library.data[ext][:3]
        is_trigger = real.get_extension_type_string(kind) == "TRIGGERS"
        chain.append(triggers.pop(0) if is_trigger else labels.pop(0))
    return [e for e in events if e is not None] + chain[::-1]


def _from_library(event):
    """An event of a sequence pypulseq read, as a constant event without a recorded call."""
    fields = {k: v for k, v in vars(event).items() if k not in ("shape_id", "time_id")}
    return Event(**fields)


def _kspace(gw_pp, total_duration, t_excitation, fp_excitation, t_refocusing, t_adc,
            grad_raster_time, rf_raster_time):
    """pypulseq 1.4.2's ``calculate_kspace`` after its inputs were gathered (numpy)."""
    eps = EPS
    ng = len(gw_pp)
    if len(t_excitation) > 0:
        slice_pos = np.zeros((ng, len(t_excitation)))
        for j in range(ng):
            if gw_pp[j] is None:
                slice_pos[j] = np.nan
            else:
                divisor = np.array(gw_pp[j](t_excitation))
                slice_pos[j, divisor != 0.0] = fp_excitation[0, divisor != 0.0] / divisor[divisor != 0.0]
                slice_pos[j, divisor == 0.0] = np.nan
        slice_pos[~np.isfinite(slice_pos)] = 0
    gm_pp, tc = [], []
    for i in range(ng):
        if gw_pp[i] is None:
            gm_pp.append(None)
            continue
        gm_pp.append(gw_pp[i].antiderivative())
        tc.append(gm_pp[i].x)
        ii = np.flatnonzero(np.abs(gm_pp[i].c[0, :]) > eps)
        if ii.shape[0] == 0:
            continue
        starts = np.int64(np.floor((gm_pp[i].x[ii] + eps) / grad_raster_time))
        ends = np.int64(np.ceil((gm_pp[i].x[ii + 1] - eps) / grad_raster_time))
        lengths = ends - starts + 1
        inds = np.ones((lengths).sum())
        start_inds = np.cumsum(np.concatenate(([0], lengths[:-1])))
        inds[start_inds] = np.concatenate(([starts[0]], np.diff(starts) - lengths[:-1] + 1))
        tc.append(np.cumsum(inds) * grad_raster_time)
    if tc != []:
        tc = np.concatenate(tc)
    t_acc = 1e-10
    t_acc_inv = 1 / t_acc
    t_ktraj = t_acc * np.unique(np.round(t_acc_inv * np.array([
        *tc, 0, *np.asarray(t_excitation) - 2 * rf_raster_time,
        *np.asarray(t_excitation) - rf_raster_time, *t_excitation,
        *np.asarray(t_refocusing) - rf_raster_time, *t_refocusing, *t_adc, total_duration])))
    i_excitation = np.searchsorted(t_ktraj, t_acc * np.round(t_acc_inv * np.asarray(t_excitation)))
    i_refocusing = np.searchsorted(t_ktraj, t_acc * np.round(t_acc_inv * np.asarray(t_refocusing)))
    i_adc = np.searchsorted(t_ktraj, t_acc * np.round(t_acc_inv * np.asarray(t_adc)))
    i_periods = np.unique([0, *i_excitation, *i_refocusing, len(t_ktraj) - 1])
    ii_next_excitation = 0 if len(i_excitation) > 0 else -1
    ii_next_refocusing = 0 if len(i_refocusing) > 0 else -1
    k_traj = np.zeros((ng, len(t_ktraj)))
    for i in range(ng):
        if gw_pp[i] is None:
            continue
        it = np.where(np.logical_and(
            t_ktraj >= t_acc * round(t_acc_inv * gm_pp[i].x[0]),
            t_ktraj <= t_acc * round(t_acc_inv * gm_pp[i].x[-1]),
        ))[0]
        k_traj[i, it] = gm_pp[i](t_ktraj[it])
        if t_ktraj[it[-1]] < t_ktraj[-1]:
            k_traj[i, it[-1] + 1:] = k_traj[i, it[-1]]
    dk = -k_traj[:, 0]
    for i in range(len(i_periods) - 1):
        i_period = i_periods[i]
        i_period_end = i_periods[i + 1]
        if ii_next_excitation >= 0 and i_excitation[ii_next_excitation] == i_period:
            if abs(t_ktraj[i_period] - t_excitation[ii_next_excitation]) > t_acc:
                raise Warning(f"abs(t_ktraj[i_period]-t_excitation[ii_next_excitation]) < {t_acc} "
                              f"failed for ii_next_excitation={ii_next_excitation}")
            dk = -k_traj[:, i_period]
            if i_period > 0:
                k_traj[:, i_period - 1] = np.nan
            ii_next_excitation = min(len(i_excitation) - 1, ii_next_excitation + 1)
        elif ii_next_refocusing >= 0 and i_refocusing[ii_next_refocusing] == i_period:
            dk = -2 * k_traj[:, i_period] - dk
            ii_next_refocusing = min(len(i_refocusing) - 1, ii_next_refocusing + 1)
        k_traj[:, i_period:i_period_end] = k_traj[:, i_period:i_period_end] + dk[:, None]
    k_traj[:, i_period_end] = k_traj[:, i_period_end] + dk
    k_traj_adc = k_traj[:, i_adc]
    return k_traj_adc, k_traj, t_excitation, t_refocusing, t_adc
