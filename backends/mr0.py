"""Lower a graph to a differentiable ``MRzeroCore.Sequence``.

The conventions are those of MRzeroCore's own ``.seq`` importer
(``Sequence.import_file``, pulseq_rs backend), so that a traced script and the
``.seq`` file it writes simulate alike (docs/mr0-lowering.md lists them and the
few deliberate differences):

* a repetition starts at the centre of an RF pulse (the middle of its shape)
  and ends at the centre of the next; what comes before the first pulse is not
  simulated, nor what follows the last ADC sample of the last repetition;
* the events of a repetition are split at the pulse end, at every gradient
  breakpoint outside the ADC span, at every ADC sample (an ADC event *ends*
  at its sample, ``delay + (k + 0.5)·dwell``) and at the start of the next
  pulse;
* gradient moments are exact integrals of the piecewise-linear waveforms
  (arbitrary gradients hold their first / last sample to their ends);
* the ADC phase is ``π/2 - phase_offset`` (minus ``2π·freq_offset·t`` for an
  ADC frequency offset, which the importer ignores);
* label states at each ADC sample fill ``Repetition.adc_labels``.

``rf_subpulses=n`` splits every pulse into ``n`` sub-pulses (each a repetition
start) with the gradient moments and time between them, so slice profiles and
frequency selection are simulated.

Everything is computed for all blocks at once: the number of torch ops does not
grow with the number of blocks. The static structure (which event sits in which
block) is a :class:`Layout`, computed once per graph. At each lowering the times
are computed with torch (differentiable); where the event boundaries fall and
in which repetition (:class:`Boundaries`) is found from detached copies with
numpy; the event durations, ADC phases and gradient moments are then gathered
from the torch values by those indices. The repetitions are MRzeroCore objects
(``backends/mr0_objects.py``) with views into a few tensors.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from ..ir import shapes
from ..ir.graph import SequenceGraph
from ..ir.values import Const

#: breakpoints closer than this (s) to a pulse end / ADC span / next pulse are
#: not event boundaries (the importer's ``eps``)
EDGE_EPS = 1e-6
#: breakpoints equal after rounding to this many decimals (s) are one boundary
EDGE_DECIMALS = 6

_USAGE = {"excitation": "EXCIT", "refocusing": "REFOC", "saturation": "FATSAT"}

#: label names of MRzeroCore's adc_labels (pulseq-rs), from PyPulseq's label names
ADC_LABELS = ("slc", "seg", "rep", "avg", "set", "eco", "phs", "lin", "par", "acq",
              "nav", "rev", "sms", "ref", "ima", "off", "noise")


class Field:
    """A gather plan: one scalar field of many events as one float64 tensor.

    Constant entries are stored once; entries computed from parameters are
    filled in from the evaluated nodes.
    """

    def __init__(self, values, nodes):
        nodes = np.asarray(nodes, dtype=np.int64)
        self.const = np.zeros(len(nodes))
        dyn = []
        for i, n in enumerate(nodes):
            node = values.nodes[n]
            if isinstance(node, Const):
                self.const[i] = float(node.value)
            else:
                dyn.append(i)
        self.dyn_pos = np.asarray(dyn, dtype=np.int64)
        self.dyn_nodes = nodes[self.dyn_pos] if len(dyn) else np.zeros(0, dtype=np.int64)
        self._on_device = {}

    def __len__(self):
        return len(self.const)

    def gather(self, env, device) -> torch.Tensor:
        const, where = self._tensors(device)
        if where is None:
            return const
        if hasattr(env, "gather"):  # a compiled plan's Env: one gather for all of them
            dyn = env.gather(self.dyn_nodes)
        else:
            dyn = torch.stack([env[n] for n in self.dyn_nodes])  # 0-d float64 tensors
        return _take(torch.cat([const, dyn]), where)

    def _tensors(self, device):
        hit = self._on_device.get(device)
        if hit is None:
            hit = self._on_device[device] = _placement(self.const, self.dyn_pos, device)
        return hit


def _index_on(owner, name, device) -> torch.Tensor:
    """The numpy index array ``owner.<name>`` as a tensor on ``device``, made once per
    device (kept in ``owner._on_device``)."""
    hit = owner._on_device.get((name, device))
    if hit is None:
        hit = owner._on_device[(name, device)] = torch.as_tensor(getattr(owner, name), device=device)
    return hit


def _placement(const, dynamic, device):
    """(the constants as a tensor, the index of every entry in [constants, dynamic
    values]; None when nothing is dynamic): one gather then puts the evaluated values
    at their positions ``dynamic``."""
    where = None
    if len(dynamic):
        index = np.arange(len(const))
        index[dynamic] = len(const) + np.arange(len(dynamic))
        where = torch.as_tensor(index, device=device)
    return torch.as_tensor(const, dtype=torch.float64, device=device), where


class VectorField:
    """Like :class:`Field` for vector nodes: all of them concatenated."""

    def __init__(self, values, nodes):
        self.lengths = np.array([int(np.prod(values.shapes[n])) for n in nodes], dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(self.lengths)])
        self.const = np.zeros(int(self.offsets[-1]))
        self.dyn = []
        for i, n in enumerate(nodes):
            node = values.nodes[n]
            lo, hi = self.offsets[i], self.offsets[i + 1]
            if isinstance(node, Const):
                self.const[lo:hi] = np.real(np.asarray(node.value, dtype=np.complex128)).ravel()
            else:
                self.dyn.append((lo, hi, int(n)))
        self.dyn_nodes = np.array([n for _, _, n in self.dyn], dtype=np.int64)
        self._on_device = {}  # see Field._tensors

    def gather(self, env, device) -> torch.Tensor:
        const, where = self._tensors(device)
        if where is None:
            return const
        if hasattr(env, "gather"):  # a compiled plan's Env: flattened and concatenated
            vals = env.gather(self.dyn_nodes)
        else:
            vals = torch.cat([env[n] for _, _, n in self.dyn])  # 1-d float64 tensors
        return _take(torch.cat([const, vals]), where)

    def _tensors(self, device):
        hit = self._on_device.get(device)
        if hit is None:
            pos = np.concatenate([np.arange(lo, hi) for lo, hi, _ in self.dyn] or [np.zeros(0, int)])
            hit = self._on_device[device] = _placement(self.const, pos, device)
        return hit


class Gradients:
    """The breakpoints (time, amplitude) of the gradients on x, y and z, as rows of one table.

    Trapezoids give 4 points; a gradient of n samples gives n + 4: (start, 0),
    (start, first), the samples, (end, last), (end, 0). As pulseq-rs (MRzeroCore's
    importer) reads a .seq: a gradient whose samples start after its start (an
    arbitrary gradient, samples at (k + 0.5)·raster) begins at the last amplitude
    of the gradient in the previous block on its channel (0 if there is none) and
    ends at its extrapolated ``last``; an extended trapezoid's samples span it already.
    A file of the 1.5 format stores each gradient's ``first``: there it begins at it.

    Row c of the table holds channel c's points, events in block order and each
    event's points in time order, padded to a common length by repeating the last
    point; ``n[c]`` are its own points.
    """

    def __init__(self, values, blocks, stored_first: bool = False):
        self.stored_first = stored_first  # (the 1.5 API: begin at the gradient's first)
        events = [[(i, e) for i, b in enumerate(blocks) for e in b.events
                   if e.kind in ("trap", "grad") and e.channel == ch] for ch in "xyz"]
        traps = [(c, i, e) for c in range(3) for i, e in events[c] if e.kind == "trap"]
        grads = [(c, i, e) for c in range(3) for i, e in events[c] if e.kind == "grad"]
        self.trap_block = np.array([i for _, i, _ in traps], dtype=np.int64)
        self.trap = {f: Field(values, [getattr(e, f) for _, _, e in traps])
                     for f in ("amplitude", "rise_time", "flat_time", "fall_time", "delay")}
        self.grad_block = np.array([i for _, i, _ in grads], dtype=np.int64)
        self.grad = {f: Field(values, [getattr(e, f) for _, _, e in grads])
                     for f in ("delay", "shape_dur", "first", "last")}
        # the gradient on the same channel in the block before each gradient (-1: none / a trapezoid)
        grad_at = {(c, i): k for k, (c, i, _) in enumerate(grads)}
        self.prev_grad = np.array([grad_at.get((c, i - 1), -1) for c, i, _ in grads], dtype=np.int64)
        self.waveform = VectorField(values, [e.waveform for _, _, e in grads])
        self.tt = VectorField(values, [e.tt for _, _, e in grads])
        n = self.waveform.lengths
        if np.any(n != self.tt.lengths):
            raise ValueError("a gradient's waveform and tt lengths differ")
        grad_points = n + 4
        grad_offsets = np.concatenate([[0], np.cumsum(grad_points)])
        # the table: per channel, indices into [trap points, gradient points, 0]
        trap_k = {(c, i): k for k, (c, i, _) in enumerate(traps)}
        rows = []
        for c in range(3):
            row = []
            for i, e in events[c]:
                if e.kind == "trap":
                    row.extend(range(4 * trap_k[(c, i)], 4 * trap_k[(c, i)] + 4))
                else:
                    k = grad_at[(c, i)]
                    lo = 4 * len(traps) + grad_offsets[k]
                    row.extend(range(lo, lo + int(grad_points[k])))
            rows.append(row)
        self.n = np.array([len(r) for r in rows], dtype=np.int64)
        self.length = int(max(2, self.n.max()))
        pad = 4 * len(traps) + int(grad_offsets[-1])  # the appended 0: rows without points
        table = np.full((3, self.length), pad, dtype=np.int64)
        for c, row in enumerate(rows):
            if len(row) >= 2:
                table[c, :len(row)] = row
                table[c, len(row):] = row[-1]
        self.table = table.reshape(-1)
        # the points of all channels one after another (x, y, z): their entries in the table
        self.flat = np.concatenate([c * self.length + np.arange(n_c) for c, n_c in enumerate(self.n)])
        # (the amplitude at an RF pulse, for Pulse.grad): event per channel and block
        self.block_event = {(c, i): ("trap", k) for k, (c, i, _) in enumerate(traps)}
        self.block_event.update({(c, i): ("grad", k) for k, (c, i, _) in enumerate(grads)})
        # static index plans for the arbitrary gradients' points
        if len(grads):
            g = np.repeat(np.arange(len(grads)), grad_points)
            local = np.arange(int(grad_points.sum())) - grad_offsets[:-1][g]
            self.g_of_point = g
            self.sample_of_point = np.clip(local - 2, 0, n[g] - 1) + self.waveform.offsets[:-1][g]
            self.is_start = local <= 1
            self.is_end = local >= n[g] + 2
            self.is_zero_amp = (local == 0) | (local == n[g] + 3)
            self.is_first = local == 1
            self.is_last = local == n[g] + 2
            self.first_sample = self.waveform.offsets[:-1]
            self.last_sample = self.waveform.offsets[1:] - 1
            self.has_prev = self.prev_grad >= 0
            self.prev_or_0 = np.maximum(self.prev_grad, 0)
        self._at_blocks = None  # amplitude_at's static part, computed on first use
        self._on_device = {}  # see _index_on

    def dynamic_nodes(self):
        fields = list(self.trap.values()) + list(self.grad.values())
        nodes = [int(x) for f in fields for x in f.dyn_nodes]
        return nodes + [int(x) for x in self.waveform.dyn_nodes] + [int(x) for x in self.tt.dyn_nodes]

    def points(self, block_start, env, device):
        """Breakpoint times (s) and amplitudes (Hz/m) of x, y, z: two [3, length] float64 tables."""
        f64 = dict(dtype=torch.float64, device=device)
        on = lambda name: _index_on(self, name, device)  # noqa: E731
        parts_t, parts_a = [], []
        if len(self.trap_block):
            amp = self.trap["amplitude"].gather(env, device)
            rise = self.trap["rise_time"].gather(env, device)
            flat = self.trap["flat_time"].gather(env, device)
            fall = self.trap["fall_time"].gather(env, device)
            start = _take(block_start, on("trap_block")) + self.trap["delay"].gather(env, device)
            zero = torch.zeros_like(amp)
            parts_t.append(torch.stack([start, start + rise, start + rise + flat,
                                        start + rise + flat + fall], 1).reshape(-1))
            parts_a.append(torch.stack([zero, amp, amp, zero], 1).reshape(-1))
        if len(self.grad_block):
            start = _take(block_start, on("grad_block")) + self.grad["delay"].gather(env, device)
            dur = self.grad["shape_dur"].gather(env, device)
            w = self.waveform.gather(env, device)
            tt = self.tt.gather(env, device)
            last = self.grad["last"].gather(env, device)
            g, s = on("g_of_point"), on("sample_of_point")
            tt_s = _take(tt, s)
            offset = torch.where(on("is_start"), torch.zeros_like(tt_s),
                                 torch.where(on("is_end"), _take(dur, g), tt_s))
            # amplitudes at the start and end marks (pulseq-rs' reading, see the class doc)
            first_sample, last_sample = on("first_sample"), on("last_sample")
            if self.stored_first:
                prev_last = self.grad["first"].gather(env, device)
            else:
                prev_last = torch.where(on("has_prev"), _take(last, on("prev_or_0")),
                                        torch.zeros_like(last))
            begin = torch.where(_take(tt, first_sample) > 0, prev_last, _take(w, first_sample))
            end = torch.where(_take(tt, last_sample) < dur, last, _take(w, last_sample))
            amp = torch.where(on("is_first"), _take(begin, g),
                              torch.where(on("is_last"), _take(end, g), _take(w, s)))
            parts_t.append(_take(start, g) + offset)
            parts_a.append(torch.where(on("is_zero_amp"), torch.zeros_like(amp), amp))
        pad = torch.zeros(1, **f64)
        table = on("table")
        return (_take(torch.cat(parts_t + [pad]), table).reshape(3, self.length),
                _take(torch.cat(parts_a + [pad]), table).reshape(3, self.length))

    def amplitude_at(self, blocks, env, device):
        """Amplitude (Hz/m, as the .seq stores it) and delay (s) of the gradient on each
        channel in each of these blocks ([blocks, 3]; 0, inf where there is none): what
        the importer reports as Pulse.grad."""
        amp = np.zeros((len(blocks), 3))
        delay = np.full((len(blocks), 3), np.inf)
        key = blocks.tobytes()
        if self._at_blocks is None or self._at_blocks[0] != key:  # static: once per layout
            where = [(r, c, self.block_event.get((c, int(b)))) for r, b in enumerate(blocks)
                     for c in range(3)]
            traps = [(r, c, w[1]) for r, c, w in where if w and w[0] == "trap"]
            grads = [(r, c, w[1]) for r, c, w in where if w and w[0] == "grad"]
            self._at_blocks = (key, tuple(np.array(x, dtype=np.int64) for x in zip(*traps)), grads)
        _, traps, grads = self._at_blocks
        if traps:
            rows, cols, idx = traps
            amp[rows, cols] = _numpy(self.trap["amplitude"].gather(env, device))[idx]
            delay[rows, cols] = _numpy(self.trap["delay"].gather(env, device))[idx]
        if grads:  # gradients during pulses are few: one small loop
            w_all = _numpy(self.waveform.gather(env, device))
            d_all = _numpy(self.grad["delay"].gather(env, device))
            for r, c, k in grads:
                seg = w_all[self.waveform.offsets[k]:self.waveform.offsets[k + 1]]
                nz = seg[np.nonzero(seg)[0]]
                amp[r, c] = np.abs(seg).max() * (np.sign(nz[0]) if len(nz) else 1.0) if len(seg) else 0.0
                delay[r, c] = d_all[k]
        return amp, delay


class Layout:
    """The static structure of a graph, for lowering: which events are where."""

    def __init__(self, graph: SequenceGraph):
        v = graph.values
        blocks = graph.blocks
        self.graph = graph
        self.block_duration = Field(v, [b.duration for b in blocks])

        rfs = [(i, e) for i, b in enumerate(blocks) for e in b.events if e.kind == "rf"]
        self.rfs = [e for _, e in rfs]
        self.rf_block = np.array([i for i, _ in rfs], dtype=np.int64)
        self.rf = {f: Field(v, [getattr(e, f) for _, e in rfs])
                   for f in ("delay", "shape_dur", "flip_angle", "phase_offset", "freq_offset")}
        self.rf_use = [e.use for _, e in rfs]
        # block pulses integrate to flip·shape_dur/duration (the raster rounds the duration)
        self.rf_nominal_duration = Field(v, [e.shape.duration if e.shape.kind == "block"
                                             else e.shape_dur for _, e in rfs])
        # pulses whose rotation comes from their waveform, grouped by shape
        self.waveform_groups = {}
        for k, (_, e) in enumerate(rfs):
            if e.shape.kind in ("arbitrary", "sampled"):
                self.waveform_groups.setdefault(e.shape, []).append(k)

        adcs = [(i, e) for i, b in enumerate(blocks) for e in b.events if e.kind == "adc"]
        self.adc_block = np.array([i for i, _ in adcs], dtype=np.int64)
        self.adc = {f: Field(v, [getattr(e, f) for _, e in adcs])
                    for f in ("delay", "dwell", "phase_offset", "freq_offset")}
        counts = np.array([e.num_samples for _, e in adcs], dtype=np.int64)
        # all ADCs of one length: their samples form a grid (a faster moment computation)
        self.samples_per_adc = (int(counts[0]) if len(counts) and counts[0] > 0
                                and np.all(counts == counts[0]) else None)
        self.sample_adc = np.repeat(np.arange(len(adcs)), counts)
        self.sample_k = (np.concatenate([np.arange(n) for n in counts]) if len(counts)
                         else np.zeros(0)).astype(np.float64)

        self.gradients = Gradients(v, blocks, getattr(graph, "api", "1.4") != "1.4")

        labels = [(i, e) for i, b in enumerate(blocks) for e in b.events if e.kind == "label"]
        self.label_block = np.array([i for i, _ in labels], dtype=np.int64)
        self.label_name = [e.label.lower() for _, e in labels]
        self.label_set = np.array([e.type == "labelset" for _, e in labels], dtype=bool)
        self.label_value = Field(v, [e.value for _, e in labels])
        self._pulse_usage = None  # MRzeroCore.PulseUsage per pulse, on first lowering
        self._label_states = None  # label_states, where they do not depend on parameters
        self._on_device = {}  # see _index_on

    def pulse_usage(self, mr0) -> list:
        """``MRzeroCore.PulseUsage`` of every pulse (computed once)."""
        if self._pulse_usage is None:
            self._pulse_usage = [getattr(mr0.PulseUsage, _USAGE.get(u, "UNDEF")) for u in self.rf_use]
        return self._pulse_usage

    def dynamic_nodes(self) -> list:
        fields = [self.block_duration, self.rf_nominal_duration, self.label_value,
                  *self.rf.values(), *self.adc.values()]
        nodes = {int(n) for f in fields for n in f.dyn_nodes}
        nodes.update(self.gradients.dynamic_nodes())
        for shape, members in self.waveform_groups.items():
            nodes.update(int(n) for n in shapes_nodes(shape))
        return sorted(nodes)

    def label_states(self, env, device) -> dict:
        """Label name -> state (int) at every ADC sample, from the SET / INC events before
        its ADC; only the labels that are not 0 throughout. Computed once where the label
        values do not depend on parameters (the usual case: loop counters)."""
        static = len(self.label_value.dyn_pos) == 0
        if static and self._label_states is not None:
            return self._label_states
        values = _numpy(self.label_value.gather(env, device))
        states = {}
        for name in ADC_LABELS:
            mine = [k for k, nm in enumerate(self.label_name) if nm == name]
            if not mine:
                continue
            blocks = self.label_block[mine]
            vals = np.rint(values[mine]).astype(np.int64)
            is_set = self.label_set[mine]
            after = np.zeros(len(mine), dtype=np.int64)
            current = 0
            for j in range(len(mine)):  # label events only (few), not blocks
                current = vals[j] if is_set[j] else current + vals[j]
                after[j] = current
            last = np.searchsorted(blocks, self.adc_block, side="right") - 1
            state = np.where(last >= 0, after[np.maximum(last, 0)], 0)
            if state.any():
                states[name] = state[self.sample_adc]
        if static:
            self._label_states = states
        return states


def shapes_nodes(shape):
    from ..ir.events import shape_nodes
    return shape_nodes(shape)


def _segments(tb, ab):
    """Half the slope and the moment before it of each segment of the piecewise-linear
    waveform (tb, ab) (along the last axis: one waveform per row)."""
    a0 = ab[..., :-1]
    width = tb[..., 1:] - tb[..., :-1]
    slope = (ab[..., 1:] - a0) / torch.where(width > 0, width, torch.ones_like(width))
    area = 0.5 * (a0 + ab[..., 1:]) * width
    return 0.5 * slope, torch.cumsum(area, -1) - area


class _Waveforms:
    """The x, y, z gradient waveforms (:meth:`Gradients.points`), for moments at many times.

    The lookups stay within each channel's own ``n`` breakpoints (a row with fewer
    than two is zero), so the arithmetic per channel is that of a single waveform,
    bit for bit.
    """

    def __init__(self, tb, ab, tb_np, n):
        self.tb, self.ab, self.tb_np = tb, ab, tb_np
        self.n = np.where(n >= 2, n, 0)
        self.length = tb.shape[1]
        half_slope, m0 = _segments(tb, ab)
        # one more column, so that segment j of channel c is entry c·length + j of every table
        column = torch.zeros((3, 1), dtype=torch.float64, device=tb.device)
        self.half_slope = torch.cat([half_slope, column], 1)
        self.m0 = torch.cat([m0, column], 1)

    def moments(self, t):
        """Integral from -inf to each of the non-decreasing times t (s) on each channel: [t, 3]."""
        t_np = _numpy(t)
        m = len(t_np)
        at = np.empty((m, 3), dtype=np.int64)
        for c, n in enumerate(self.n):
            if not n:
                at[:, c] = c * self.length
                continue
            # the segment of each time (clamped to the waveform's span): how many breakpoints
            # are at or before it, counted from where each breakpoint falls among the times
            # (a binary search per breakpoint, not per time). Breakpoints may be out of order
            # by rounding (an event's end a hair past the next block's start).
            tb = self.tb_np[c, :n]
            first = np.searchsorted(t_np, tb, side="left")
            first[tb <= tb[0]] = 0  # (as among the times clamped to [tb[0], tb[-1]])
            first[tb > tb[-1]] = m
            first.sort()
            runs = np.empty(n + 1, dtype=np.int64)  # times with 0, 1, ..., n of them
            runs[0], runs[n] = first[0], m - first[-1]
            np.subtract(first[1:], first[:-1], out=runs[1:n])
            at[:, c] = np.repeat(np.arange(c * self.length - 1, c * self.length + n).clip(
                c * self.length, c * self.length + n - 2), runs)
        at = torch.as_tensor(at.reshape(-1), device=t.device)
        t0, a0, half_k, m0 = (_take(x.reshape(-1), at).reshape(m, 3)
                              for x in (self.tb, self.ab, self.half_slope, self.m0))
        dt = torch.clamp(t[:, None], self.tb[:, 0], self.tb[:, -1]) - t0
        return m0 + dt * (a0 + half_k * dt)


def _gradient_moments(tb, ab, tb_np, n, edges):
    """Gradient moment of every event on each channel (``[events, 3]``, 1/m): the exact
    integral of the piecewise-linear waveforms (breakpoints ``tb``, ``ab``, ``n`` per
    channel; ``tb_np``: ``tb`` in numpy) between the event's boundaries ``edges`` (s, in
    time order)."""
    if np.all(n < 2):
        return torch.zeros((edges.shape[0] - 1, 3), dtype=torch.float64, device=edges.device)
    moments = _Waveforms(tb, ab, tb_np, n).moments(edges)
    return moments[1:] - moments[:-1]


def _pulse_rotations(layout, rf, env, device):
    """Flip angle (rad, signed) and phase (rad) of every pulse."""
    flip = rf["flip_angle"]
    angle = flip * rf["shape_dur"] / layout.rf_nominal_duration.gather(env, device)
    phase = rf["phase_offset"]
    for shape, members in layout.waveform_groups.items():
        idx = torch.as_tensor(members, device=device)
        integral = _shape_integral(shape, env, device)  # complex, of the scaled waveform / flip
        if shape.kind == "arbitrary" and not shape.no_signal_scaling:
            # scaled to flip_angle: the rotation is the flip; the shape contributes a phase
            angle = angle.index_put((idx,), flip[idx])
            phase = phase.index_put((idx,), phase[idx] + torch.angle(integral))
        else:
            angle = angle.index_put((idx,), torch.abs(integral).expand(len(members)))
            phase = phase.index_put((idx,), phase[idx] + torch.angle(integral))
    return angle, phase


def _shape_integral(shape, env, device):
    """2π·∫signal dt of an arbitrary (unit flip) or sampled waveform, as a complex tensor."""
    value = lambda n: env[n].to(device)  # noqa: E731
    signal, t = shapes.shape_waveform(shape, torch.tensor(1.0, dtype=torch.float64, device=device),
                                      value, xp=shapes.torch_xp())
    signal = signal.to(torch.complex128)
    if shape.kind == "arbitrary":
        return 2 * math.pi * torch.sum(signal) * value(shape.dwell)
    dt = t[1:] - t[:-1]
    return 2 * math.pi * torch.sum(0.5 * (signal[1:] + signal[:-1]) * dt)


def refuse_unlowered_fields(graph: SequenceGraph, env: list) -> None:
    """The PyPulseq 1.5 fields this lowering does not simulate yet must be absent or zero:
    ppm offsets of RF pulses and ADCs, and ADC phase modulation (a wrong simulation would be
    silent; an empty or all-zero modulation, as ``get_block`` / ``read`` give, is lowered).
    Soft delays need nothing: a soft-delay block lasts its default duration, as in the
    written file."""
    ppm_nodes = {getattr(e, f) for block in graph.blocks for e in block.events
                 if e.kind in ("rf", "adc") for f in ("freq_ppm", "phase_ppm")} - {None}
    if not ppm_nodes or not any_nonzero(env, ppm_nodes):
        ppm_nodes = set()  # (checked at once: the lowering's op count stays flat)
    for i, block in enumerate(graph.blocks):
        for e in block.events:
            if e.kind not in ("rf", "adc"):
                continue
            used = [f for f in ("freq_ppm", "phase_ppm")
                    if getattr(e, f) in ppm_nodes and any_nonzero(env, [getattr(e, f)])]
            if e.kind == "adc" and e.has_phase_modulation and any_nonzero(
                    env, [e.phase_modulation]):
                used.append("phase_modulation")  # (empty or all zero: nothing to simulate)
            if used:
                raise NotImplementedError(
                    f"{block.line}: block {i + 1}: the {e.kind.upper()} event's "
                    f"{', '.join(used)} (PyPulseq 1.5) is not lowered to MRzeroCore yet; "
                    "write the .seq file (graph.write) and simulate it with "
                    "MRzeroCore.Sequence.import_file, or give the offset in Hz (freq_offset, "
                    "phase_offset)")


def any_nonzero(env: list, nodes) -> bool:
    """Is any value of these nodes non-zero? (tensors in one stack: a fixed op count)"""
    values = [env[n] for n in nodes]
    tensors = [v.detach().reshape(-1) for v in values if isinstance(v, torch.Tensor)]
    others = [np.ravel(v) for v in values if not isinstance(v, torch.Tensor)]
    if any(np.any(v != 0) for v in others):
        return True
    return bool(tensors) and bool(torch.cat(tensors).ne(0).any())


def lower(graph: SequenceGraph, env: list, layout: Layout | None = None, device=None,
          rf_subpulses: int = 1, rf_centre: str = "middle"):
    """The ``MRzeroCore.Sequence`` for evaluated (torch) values of a graph.

    rf_subpulses: simulate each RF pulse as this many sub-pulses (slice profiles).
    rf_centre: where a pulse acts (and a repetition starts): "middle" of its shape,
    as MRzeroCore's importer does, or "peak" as PyPulseq's ``calc_rf_center``
    (differs for asymmetric pulses only).
    """
    if rf_centre not in ("middle", "peak"):
        raise ValueError(f"rf_centre must be 'middle' or 'peak', not {rf_centre!r}")
    refuse_unlowered_fields(graph, env)
    import MRzeroCore as mr0

    layout = layout or Layout(graph)
    if device is None:
        device = next((x.device for x in env if isinstance(x, torch.Tensor)), torch.device("cpu"))
    f64 = dict(dtype=torch.float64, device=device)

    durations = layout.block_duration.gather(env, device)
    block_start = torch.cumsum(durations, 0) - durations
    total = durations.sum()

    n_rf = len(layout.rf_block)
    if n_rf == 0:
        return mr0.Sequence([], normalized_grads=False)
    rf = {k: f.gather(env, device) for k, f in layout.rf.items()}
    pulse_start = _take(block_start, _index_on(layout, "rf_block", device)) + rf["delay"]
    angle, phase = _pulse_rotations(layout, rf, env, device)
    pulse_dur = rf["shape_dur"]
    pulse_of = torch.arange(n_rf, device=device)
    if rf_subpulses > 1:
        pulse_start, pulse_dur, angle, phase, pulse_of = _subpulses(
            layout, rf, env, device, pulse_start, angle, phase, rf_subpulses)
    pulse_end = pulse_start + pulse_dur
    if rf_centre == "peak" and rf_subpulses == 1:
        centre = pulse_start + _peak_times(layout, env, device)
    else:
        centre = 0.5 * (pulse_start + pulse_end)
    n_p = centre.numel()

    # ADC samples
    if len(layout.adc_block):
        adc = {k: f.gather(env, device) for k, f in layout.adc.items()}
        adc_start = _take(block_start, _index_on(layout, "adc_block", device)) + adc["delay"]
        if layout.samples_per_adc:  # the samples on a grid [ADC, sample]
            per_adc = lambda x: x[:, None]  # noqa: E731
            k = torch.arange(layout.samples_per_adc, **f64)[None, :]
        else:
            sample_adc = torch.as_tensor(layout.sample_adc, device=device)
            per_adc = lambda x: _take(x, sample_adc)  # noqa: E731
            k = torch.as_tensor(layout.sample_k, **f64)
        since_start = (k + 0.5) * per_adc(adc["dwell"])
        sample_t = (per_adc(adc_start) + since_start).reshape(-1)
        sample_phase = (math.pi / 2 - per_adc(adc["phase_offset"])
                        - 2 * math.pi * per_adc(adc["freq_offset"]) * since_start).reshape(-1)
    else:
        sample_t = torch.zeros(0, **f64)
        sample_phase = torch.zeros(0, **f64)

    gradients = layout.gradients
    tb, ab = gradients.points(block_start, env, device)  # [3, points]

    # the structure (which boundary sits where, in which repetition) from detached
    # copies with numpy; then the differentiable values gathered by it with torch
    tb_np = _numpy(tb)
    breakpoints = tb_np.reshape(-1)[gradients.flat]  # x, y, z one after another
    b = _boundaries(centre, pulse_start, pulse_end, total, sample_t, breakpoints)
    on = lambda a: torch.as_tensor(a, device=device)  # noqa: E731
    if b.sample_keep is not None:  # samples before the first pulse are not simulated
        sample_t = _take(sample_t, on(b.sample_keep))
    grad_t = _take(tb.reshape(-1), on(gradients.flat[b.grad_pick]))
    edges = _take(torch.cat([pulse_start[1:], centre, pulse_end, grad_t, sample_t]), on(b.order))

    event_time = edges[1:] - edges[:-1]
    # an ADC event ends at its sample: its phase; the other events' phases are 0
    # (the entry appended after the samples)
    n_samples = sample_phase.shape[0]
    at_sample = np.where(b.event_sample >= 0, b.event_sample, n_samples)
    event_phase = _take(torch.cat([sample_phase, torch.zeros(1, **f64)]), on(at_sample))
    gradm = _gradient_moments(tb, ab, tb_np, gradients.n, edges)
    return _repetitions(layout, env, device, rf, angle, phase, pulse_of, event_time, gradm,
                        event_phase, b, n_p)


@dataclass(frozen=True, slots=True)
class Boundaries:
    """Where the event boundaries of one lowering are, as numpy index arrays.

    The boundaries are, concatenated in this order: the pulse starts but the first,
    the pulse centres, the pulse ends, the picked gradient breakpoints (``grad_pick``:
    indices into the x, y, z breakpoints concatenated), the ADC samples kept
    (``sample_keep``: their indices; None: all). ``order`` sorts them in time
    (stably: ties keep that order) from the first centre on.
    """

    grad_pick: np.ndarray
    sample_keep: np.ndarray | None
    order: np.ndarray
    event_sample: np.ndarray  # per event: the ADC sample it ends at, or -1
    first_event: np.ndarray  # per repetition: its first event
    counts: np.ndarray  # events per repetition
    has_samples: np.ndarray  # per repetition: any ADC sample in it


def _numpy(x):
    return x.detach().cpu().numpy()


def _boundaries(centre, pulse_start, pulse_end, total, sample_t, breakpoints):
    """The :class:`Boundaries` of a lowering, from (detached) times in s; ``breakpoints``:
    the gradient breakpoints of x, y and z one after another (numpy)."""
    c, ps, pe = _numpy(centre), _numpy(pulse_start), _numpy(pulse_end)
    st = _numpy(sample_t)
    n_p = len(c)
    in_order = np.all(st[1:] >= st[:-1])  # ADCs in block order: the usual case
    sample_keep, adc_first, adc_last = (_adc_spans_sorted if in_order else _adc_spans)(c, st)
    has_adc = np.isfinite(adc_first)
    sample_id = np.arange(len(st)) if sample_keep is None else sample_keep
    if sample_keep is not None:  # samples before the first pulse are not simulated
        st = st[sample_keep]
    next_start = np.append(ps[1:], _numpy(total))

    # gradient breakpoints between pulse end and next pulse start, outside the ADC span
    # (and not after the last sample of the last repetition), distinct to 1 µs
    g = breakpoints
    by_time = np.argsort(g, kind="stable")  # each channel is in time order: a merge
    gs = g[by_time]
    per_rep = np.diff(np.concatenate([[0], np.searchsorted(gs, c, side="left"), [len(gs)]]))
    rep = np.repeat(np.arange(-1, n_p), per_rep)  # the repetition of each breakpoint
    r = np.maximum(rep, 0)
    keep = ((rep >= 0) & (gs >= pe[r] + EDGE_EPS) & (gs <= next_start[r] - EDGE_EPS)
            & ~(has_adc[r] & (gs > adc_first[r] - EDGE_EPS) & (gs < adc_last[r] + EDGE_EPS)))
    last = n_p - 1
    if has_adc[last]:
        keep &= ~((rep == last) & (gs > adc_last[last]))
    pick = by_time[keep]
    if len(pick):
        rounded = _round_decimals(g[pick], EDGE_DECIMALS)
        pick = pick[np.concatenate([[True], rounded[1:] != rounded[:-1]])]

    # all boundaries in time order; one tag each: -2 a pulse centre, -1 another
    # boundary, k >= 0 ADC sample k
    others = np.concatenate([ps[1:], c, pe, g[pick]])
    tag = np.concatenate([np.full(n_p - 1, -1), np.full(n_p, -2), np.full(n_p + len(pick), -1),
                          sample_id])
    order = np.argsort(np.concatenate([others, st]), kind="stable")  # sorted runs: merges
    tag = tag[order]
    centres = np.flatnonzero(tag == -2)  # a repetition from each centre to the next
    start = centres[0]  # nothing before the first centre
    order, tag = order[start:], tag[start:]
    event_sample = tag[1:]  # event k: from boundary k to k + 1
    # repetition r: the events from its centre to the next (to the last boundary)
    starts = centres - start
    ends = np.append(starts[1:], len(tag) - 1)
    counts = ends - starts
    samples = np.concatenate([[0], np.cumsum(event_sample >= 0)])  # samples before each event
    has_samples = samples[ends] > samples[starts]
    return Boundaries(pick, sample_keep, order, event_sample, starts, counts, has_samples)


def _adc_spans(centre, sample_t):
    """(the samples after the first centre, or None for all; per repetition the first
    and the last sample time, inf / -inf for none), for samples in any order."""
    rep = np.searchsorted(centre, sample_t, side="right") - 1  # the centres are in time order
    keep = None
    if len(sample_t) and rep.min() < 0:
        keep = np.flatnonzero(rep >= 0)
        sample_t, rep = sample_t[keep], rep[keep]
    first = np.full(len(centre), np.inf)
    last = np.full(len(centre), -np.inf)
    np.minimum.at(first, rep, sample_t)
    np.maximum.at(last, rep, sample_t)
    return keep, first, last


def _adc_spans_sorted(centre, sample_t):
    """:func:`_adc_spans` for samples in time order: repetition r holds the samples
    at[r]:at[r + 1]."""
    at = np.append(np.searchsorted(sample_t, centre, side="left"), len(sample_t))
    some = at[1:] > at[:-1]
    t = np.append(sample_t, 0.0)  # (indexable when there are no samples)
    first = np.where(some, t[np.minimum(at[:-1], len(sample_t) - 1)], np.inf)
    last = np.where(some, t[np.maximum(at[1:] - 1, 0)], -np.inf)
    keep = np.arange(at[0], len(sample_t)) if at[0] > 0 else None
    return keep, first, last


def _round_decimals(x, decimals):
    """``torch.round(x, decimals=d)``: nearest-even of x·10^d, divided by 10^d."""
    scale = 10.0 ** decimals
    return np.rint(x * scale) / scale


def _pulse_scalars(values, field):
    """Per pulse: a Python float where the field is constant (as the importer fills
    ``Pulse.freq_offset`` and ``Pulse.duration``), a 0-d tensor where it depends on
    parameters (differentiable)."""
    if len(field.dyn_pos) == 0:
        return values.tolist()
    return torch.unbind(values.float())


def _peak_times(layout, env, device):
    """PyPulseq's ``calc_rf_center`` of every pulse (s from its shape start): the middle
    of the samples within 1e-5 of the peak magnitude; computed once per distinct shape."""
    times = torch.zeros(len(layout.rfs), dtype=torch.float64, device=device)
    groups = {}
    for k, e in enumerate(layout.rfs):
        groups.setdefault(e.shape, []).append(k)
    one = torch.tensor(1.0, dtype=torch.float64, device=device)
    for shape, members in groups.items():
        signal, t = shapes.shape_waveform(shape, one, lambda n: env[n].to(device), xp=shapes.torch_xp())
        mag = torch.abs(signal.detach())
        peak = torch.nonzero(mag >= mag.max() * 0.99999).flatten()
        centre = 0.5 * (t[peak[0]] + t[peak[-1]])
        times = times.index_put((torch.as_tensor(members, device=device),), centre.expand(len(members)))
    return times


def _take(x, idx):
    """x[idx] along the first axis (index_select: several times faster than x[idx] on CPU)."""
    return torch.index_select(x, 0, idx)


def _subpulses(layout, rf, env, device, pulse_start, angle, phase, n):
    """Each pulse as n sub-pulses: start, duration, angle and phase of each (pulse-major)."""
    n_rf = pulse_start.numel()
    f64 = dict(dtype=torch.float64, device=device)
    weights = torch.zeros(n_rf, n, dtype=torch.complex128, device=device)
    groups = {}
    for k, e in enumerate(layout.rfs):
        groups.setdefault(e.shape, []).append(k)
    for shape, members in groups.items():
        idx = torch.as_tensor(members, device=device)
        w = _segment_weights(shape, env, device, n)
        weights = weights.index_put((idx,), w.expand(len(members), n))
    seg = rf["shape_dur"] / n
    j = torch.arange(n, **f64)
    starts = (pulse_start[:, None] + j[None, :] * seg[:, None]).reshape(-1)
    durs = seg[:, None].expand(n_rf, n).reshape(-1)
    # a signed flip keeps its sign per sub-pulse; the shape's lobes add their phase
    sub_angle = (angle[:, None] * torch.abs(weights)).reshape(-1)
    sub_phase = (phase[:, None] + torch.angle(weights)).reshape(-1)
    pulse_of = torch.arange(n_rf, device=device).repeat_interleave(n)
    return starts, durs, sub_angle, sub_phase, pulse_of


def _segment_weights(shape, env, device, n):
    """Fraction of the pulse's complex integral in each of n equal time segments."""
    value = lambda node: env[node].to(device)  # noqa: E731
    if shape.kind == "block":
        return torch.full((n,), 1.0 / n, dtype=torch.complex128, device=device)
    signal, t = shapes.shape_waveform(shape, torch.tensor(1.0, dtype=torch.float64, device=device),
                                      value, xp=shapes.torch_xp())
    signal = signal.to(torch.complex128)
    if shape.kind == "sampled":
        # piecewise linear between samples: integrate each interval, assign by its centre
        dt = t[1:] - t[:-1]
        part = 0.5 * (signal[1:] + signal[:-1]) * dt
        centre = 0.5 * (t[1:] + t[:-1])
        span = t[-1] - t[0]
        seg = torch.clamp(((centre - t[0]) / span * n).long(), 0, n - 1)
    else:  # samples at (k + 0.5)·dwell, each held for one dwell
        part = signal
        seg = torch.clamp((torch.arange(len(signal), device=device) * n) // len(signal), 0, n - 1)
    total = part.sum()
    w = torch.zeros(n, dtype=torch.complex128, device=device).index_add(0, seg, part)
    return w / torch.abs(total)


def _repetitions(layout, env, device, rf, angle, phase, pulse_of, event_time, gradm, event_phase,
                 b, n_p):
    import MRzeroCore as mr0

    from .mr0_objects import Labels, Pulse, PulseGradients, Repetition

    counts = b.counts.tolist()
    first_event = b.first_event.tolist()
    has_samples = b.has_samples.tolist()
    et = torch.split(event_time.float(), counts)
    gm = torch.split(gradm.float(), counts)
    ph = torch.split(event_phase.float(), counts)
    us = torch.split(torch.as_tensor((b.event_sample >= 0).astype(np.int32), device=device), counts)

    # labels at each ADC sample (MRzeroCore's importer fills adc_labels), made on first use
    labels = None
    if len(layout.adc_block):
        labels = Labels(list(ADC_LABELS), layout.label_states(env, device), b.event_sample, device)

    # Pulse.grad and off_res (informational, as the importer fills them), made on first use
    gradients = PulseGradients(lambda: _pulse_gradients(layout, env, device, rf), device)
    usage = layout.pulse_usage(mr0)
    # per-pulse scalars as views (one op each, not one per repetition)
    angles, phases = torch.unbind(angle.float()), torch.unbind(phase.float())
    freqs, durs = (_pulse_scalars(rf[name], layout.rf[name]) for name in ("freq_offset", "shape_dur"))
    shim = torch.tensor([[1.0, 0.0]], device=device)
    zero = torch.zeros((), device=device)
    new = object.__new__
    reps = []
    for i, (n, p) in enumerate(zip(counts, pulse_of.tolist())):
        if n == 0:
            continue
        pulse = new(Pulse)
        pulse.__dict__ = {"usage": usage[p], "angle": angles[i], "phase": phases[i],
                          "pulse_freq": zero, "freq_offset": freqs[p], "duration": durs[p],
                          "_gradients": gradients, "_pulse": p,
                          "shim_array": shim, "selective": True}
        rep = new(Repetition)
        rep.__dict__ = {"pulse": pulse, "event_count": n, "event_time": et[i], "gradm": gm[i],
                        "adc_phase": ph[i], "adc_usage": us[i],
                        "_labels": labels if has_samples[i] else None, "_first_event": first_event[i]}
        reps.append(rep)
    return mr0.Sequence(reps, normalized_grads=False)


def _pulse_gradients(layout, env, device, rf):
    """Per pulse: the gradient amplitudes during it (Hz/m, float32 [pulses, 3]: 0 on a
    channel whose gradient starts after the pulse's shape ends) and whether it is off
    resonance (a frequency offset or a gradient), as the importer fills ``Pulse.grad``
    and ``Pulse.off_res``."""
    shape_end = _numpy(rf["shape_dur"] + rf["delay"])
    amp, delay = layout.gradients.amplitude_at(layout.rf_block, env, device)
    rf_grad = np.where(delay <= shape_end[:, None], amp, 0.0)
    off_res = (_numpy(rf["freq_offset"]) != 0) | (rf_grad != 0).any(1)
    return rf_grad.astype(np.float32), off_res
