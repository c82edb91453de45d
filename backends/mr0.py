"""Lower a graph to a differentiable ``MRzeroCore.Sequence``.

The conventions are those of MRzeroCore's own ``.seq`` importer
(``Sequence.import_file``, pulseq_rs backend), so that a traced script and the
``.seq`` file it writes simulate alike:

* a repetition starts at the centre of an RF pulse (the middle of its shape)
  and ends at the centre of the next; what comes before the first pulse is not
  simulated, nor what follows the last ADC sample of the last repetition;
* the events of a repetition are split at the pulse end, at every gradient
  breakpoint outside the ADC span, at every ADC sample (an ADC event *ends*
  at its sample, ``delay + (k + 0.5)·dwell``) and at the start of the next
  pulse;
* gradient moments are exact integrals of the piecewise-linear waveforms;
* the ADC phase is ``π/2 - phase_offset``.

Everything is computed for all blocks at once with tensor ops: the number of
torch ops does not grow with the number of blocks. The static structure (which
event sits in which block) is a :class:`Layout`, computed once per graph.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from ..ir.graph import SequenceGraph
from ..ir.values import Const

#: breakpoints closer than this (s) to a pulse end / ADC span / next pulse are
#: not event boundaries (the importer's ``eps``)
EDGE_EPS = 1e-6
#: breakpoints equal after rounding to this many decimals (s) are one boundary
EDGE_DECIMALS = 6

_USAGE = {"excitation": "EXCIT", "refocusing": "REFOC", "saturation": "FATSAT"}


class Field:
    """A gather plan: one field of many events as one tensor.

    Constant entries are stored once as a float64 array; entries computed from
    parameters are filled in from the evaluated nodes.
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

    def __len__(self):
        return len(self.const)

    def gather(self, env, device) -> torch.Tensor:
        out = torch.as_tensor(self.const, dtype=torch.float64, device=device)
        if len(self.dyn_pos):
            dyn = torch.stack([env[n].reshape(()) for n in self.dyn_nodes])
            out = out.index_put((torch.as_tensor(self.dyn_pos, device=device),), dyn)
        return out


class Layout:
    """The static structure of a graph, for lowering: which events are where."""

    def __init__(self, graph: SequenceGraph):
        v = graph.values
        blocks = graph.blocks
        self.block_duration = Field(v, [b.duration for b in blocks])

        rfs = [(i, e) for i, b in enumerate(blocks) for e in b.events if e.kind == "rf"]
        self.rf_block = np.array([i for i, _ in rfs], dtype=np.int64)
        self.rf = {f: Field(v, [getattr(e, f) for _, e in rfs])
                   for f in ("delay", "shape_dur", "flip_angle", "phase_offset", "freq_offset")}
        self.rf_use = [e.use for _, e in rfs]
        # block pulses integrate to flip·shape_dur/duration (the raster rounds the duration)
        self.rf_block_duration = Field(v, [e.shape.duration if e.shape.kind == "block"
                                           else e.shape_dur for _, e in rfs])
        for _, e in rfs:
            if e.shape.kind == "sampled":
                raise NotImplementedError("RF pulses with an explicit waveform are lowered by the "
                                          "mr0 backend of a later version")

        adcs = [(i, e) for i, b in enumerate(blocks) for e in b.events if e.kind == "adc"]
        self.adc_block = np.array([i for i, _ in adcs], dtype=np.int64)
        self.adc = {f: Field(v, [getattr(e, f) for _, e in adcs])
                    for f in ("delay", "dwell", "phase_offset")}
        counts = np.array([e.num_samples for _, e in adcs], dtype=np.int64)
        self.sample_adc = np.repeat(np.arange(len(adcs)), counts)
        self.sample_k = (np.concatenate([np.arange(n) for n in counts]) if len(counts)
                         else np.zeros(0)).astype(np.float64)

        self.grad = {}
        for ch in "xyz":
            traps = [(i, e) for i, b in enumerate(blocks) for e in b.events
                     if e.kind == "trap" and e.channel == ch]
            self.grad[ch] = (np.array([i for i, _ in traps], dtype=np.int64),
                             {f: Field(v, [getattr(e, f) for _, e in traps])
                              for f in ("amplitude", "rise_time", "flat_time", "fall_time", "delay")})
        # gradients present in RF blocks (the importer reports them as Pulse.grad)
        self.rf_grad_index = {}
        for ch in "xyz":
            block_to_trap = {int(b): k for k, b in enumerate(self.grad[ch][0])}
            self.rf_grad_index[ch] = np.array([block_to_trap.get(int(b), -1) for b in self.rf_block],
                                              dtype=np.int64)

    def dynamic_nodes(self) -> list:
        fields = [self.block_duration, self.rf_block_duration, *self.rf.values(), *self.adc.values()]
        for _, fs in self.grad.values():
            fields.extend(fs.values())
        return sorted({int(n) for f in fields for n in f.dyn_nodes})


def _cumulative_moment(tb, ab, t):
    """Integral from -inf to t of the piecewise-linear waveform (tb, ab), at times t."""
    n = tb.shape[0]
    if n < 2:
        return torch.zeros_like(t)
    seg = 0.5 * (ab[:-1] + ab[1:]) * (tb[1:] - tb[:-1])
    prefix = torch.cat([torch.zeros(1, dtype=t.dtype, device=t.device), torch.cumsum(seg, 0)])
    tc = torch.minimum(torch.maximum(t, tb[0]), tb[-1])
    j = torch.searchsorted(tb.detach(), tc.detach(), right=True) - 1
    j = j.clamp(0, n - 2)
    t0, t1, a0, a1 = tb[j], tb[j + 1], ab[j], ab[j + 1]
    width = t1 - t0
    frac = torch.where(width > 0, (tc - t0) / torch.where(width > 0, width, torch.ones_like(width)),
                       torch.zeros_like(width))
    a_t = a0 + (a1 - a0) * frac
    return prefix[j] + 0.5 * (a0 + a_t) * (tc - t0)


def _trap_points(block_start, fields, env, device):
    """Breakpoint times (n, 4) and amplitudes (n, 4) of trapezoids."""
    amp = fields["amplitude"].gather(env, device)
    rise = fields["rise_time"].gather(env, device)
    flat = fields["flat_time"].gather(env, device)
    fall = fields["fall_time"].gather(env, device)
    start = block_start + fields["delay"].gather(env, device)
    times = torch.stack([start, start + rise, start + rise + flat, start + rise + flat + fall], 1)
    zero = torch.zeros_like(amp)
    amps = torch.stack([zero, amp, amp, zero], 1)
    return times, amps


def lower(graph: SequenceGraph, env: list, layout: Layout | None = None, device=None):
    """The ``MRzeroCore.Sequence`` for evaluated (torch) values of a graph."""
    import MRzeroCore as mr0

    layout = layout or Layout(graph)
    if device is None:
        device = next((x.device for x in env if isinstance(x, torch.Tensor)), torch.device("cpu"))
    f64 = dict(dtype=torch.float64, device=device)

    durations = layout.block_duration.gather(env, device)
    block_start = torch.cumsum(durations, 0) - durations
    total = durations.sum()

    # RF pulses: start, end, centre
    rf_block = torch.as_tensor(layout.rf_block, device=device)
    n_rf = len(layout.rf_block)
    if n_rf == 0:
        return mr0.Sequence([], normalized_grads=False)
    rf = {k: f.gather(env, device) for k, f in layout.rf.items()}
    pulse_start = block_start[rf_block] + rf["delay"]
    pulse_end = pulse_start + rf["shape_dur"]
    centre = 0.5 * (pulse_start + pulse_end)
    angle = rf["flip_angle"] * rf["shape_dur"] / layout.rf_block_duration.gather(env, device)

    # ADC samples
    if len(layout.adc_block):
        adc = {k: f.gather(env, device) for k, f in layout.adc.items()}
        sample_adc = torch.as_tensor(layout.sample_adc, device=device)
        k = torch.as_tensor(layout.sample_k, **f64)
        adc_start = block_start[torch.as_tensor(layout.adc_block, device=device)] + adc["delay"]
        sample_t = adc_start[sample_adc] + (k + 0.5) * adc["dwell"][sample_adc]
        sample_phase = math.pi / 2 - adc["phase_offset"][sample_adc]
    else:
        sample_t = torch.zeros(0, **f64)
        sample_phase = torch.zeros(0, **f64)

    # gradient breakpoints per channel
    points = {}
    for ch, (blocks, fields) in layout.grad.items():
        if len(blocks):
            times, amps = _trap_points(block_start[torch.as_tensor(blocks, device=device)],
                                       fields, env, device)
            points[ch] = (times.reshape(-1), amps.reshape(-1), times, amps)
        else:
            points[ch] = (torch.zeros(0, **f64), torch.zeros(0, **f64), None, None)

    # which repetition every sample and breakpoint falls into (structure: detached)
    c_det = centre.detach()
    sample_rep = torch.searchsorted(c_det, sample_t.detach(), right=True) - 1
    in_seq = sample_rep >= 0
    sample_t, sample_phase, sample_rep = sample_t[in_seq], sample_phase[in_seq], sample_rep[in_seq]
    big = torch.tensor(float("inf"), **f64)
    adc_first = torch.full((n_rf,), float("inf"), **f64).scatter_reduce(
        0, sample_rep, sample_t.detach(), "amin")
    adc_last = torch.full((n_rf,), -float("inf"), **f64).scatter_reduce(
        0, sample_rep, sample_t.detach(), "amax")
    has_adc = torch.isfinite(adc_first)
    next_start = torch.cat([pulse_start[1:].detach(), total.detach().reshape(1)])

    grad_t = torch.cat([points[ch][0] for ch in "xyz"])
    g = grad_t.detach()
    g_rep = torch.searchsorted(c_det, g, right=True) - 1
    r = g_rep.clamp(min=0)
    keep = ((g_rep >= 0) & (g >= pulse_end.detach()[r] + EDGE_EPS)
            & (g <= next_start[r] - EDGE_EPS)
            & ~(has_adc[r] & (g > adc_first[r] - EDGE_EPS) & (g < adc_last[r] + EDGE_EPS)))
    last = n_rf - 1
    if bool(has_adc[last]):
        keep &= ~((g_rep == last) & (g > adc_last[last]))
    grad_t = grad_t[keep]
    if grad_t.numel():
        order = torch.argsort(grad_t.detach())
        grad_t = grad_t[order]
        rounded = torch.round(grad_t.detach(), decimals=EDGE_DECIMALS)
        first_of_value = torch.cat([torch.ones(1, dtype=torch.bool, device=device),
                                    rounded[1:] != rounded[:-1]])
        grad_t = grad_t[first_of_value]
    del big

    # all event boundaries; ties keep this order: next pulse start, centre, pulse end
    edges = torch.cat([pulse_start[1:], centre, pulse_end, grad_t, sample_t])
    n_s, n_c, n_e, n_g = n_rf - 1, n_rf, n_rf, grad_t.numel()
    is_centre = torch.zeros(edges.numel(), dtype=torch.int64, device=device)
    is_centre[n_s:n_s + n_c] = 1
    is_sample = torch.zeros(edges.numel(), dtype=torch.bool, device=device)
    is_sample[n_s + n_c + n_e + n_g:] = True
    phase = torch.cat([torch.zeros(n_s + n_c + n_e + n_g, **f64), sample_phase])

    order = torch.sort(edges.detach(), stable=True).indices
    edges, is_centre, is_sample, phase = edges[order], is_centre[order], is_sample[order], phase[order]
    rep_of_edge = torch.cumsum(is_centre, 0) - 1
    start = int(torch.nonzero(is_centre)[0])
    edges, rep_of_edge = edges[start:], rep_of_edge[start:]
    is_sample, phase = is_sample[start:], phase[start:]

    event_time = edges[1:] - edges[:-1]
    event_rep = rep_of_edge[:-1]
    event_adc = is_sample[1:]
    event_phase = torch.where(event_adc, phase[1:], torch.zeros_like(phase[1:]))

    gradm = []
    for ch in "xyz":
        tb, ab = points[ch][0], points[ch][1]
        m = _cumulative_moment(tb, ab, edges)
        gradm.append(m[1:] - m[:-1])
    gradm = torch.stack(gradm, 1)

    # pulses
    usage = [getattr(mr0.PulseUsage, _USAGE.get(u, "UNDEF")) for u in layout.rf_use]
    rf_grad = torch.zeros(n_rf, 3, **f64)
    for c, ch in enumerate("xyz"):
        idx = layout.rf_grad_index[ch]
        has = idx >= 0
        if has.any() and points[ch][2] is not None:
            amp = layout.grad[ch][1]["amplitude"].gather(env, device)
            delay = layout.grad[ch][1]["delay"].gather(env, device)
            sel = torch.as_tensor(idx[has], device=device)
            during = delay[sel] <= (rf["shape_dur"] + rf["delay"])[torch.as_tensor(np.flatnonzero(has), device=device)]
            vals = torch.where(during, amp[sel], torch.zeros_like(amp[sel]))
            rf_grad = rf_grad.index_put((torch.as_tensor(np.flatnonzero(has), device=device),
                                         torch.full((int(has.sum()),), c, device=device)), vals)

    counts = torch.bincount(event_rep, minlength=n_rf).tolist()
    et = torch.split(event_time.float(), counts)
    gm = torch.split(gradm.float(), counts)
    ph = torch.split(event_phase.float(), counts)
    us = torch.split(event_adc.to(torch.int32), counts)
    freq = rf["freq_offset"]
    grads_on = (rf_grad != 0).any(1).tolist()
    freq_on = (freq != 0).tolist()
    reps = []
    shim = torch.tensor([[1.0, 0.0]], device=device)
    for i in range(n_rf):
        if counts[i] == 0:
            continue
        pulse = mr0.Pulse(usage[i], angle[i].float(), rf["phase_offset"][i].float(),
                          torch.zeros((), device=device), freq[i].float(), rf["shape_dur"][i].float(),
                          rf_grad[i].float(), bool(freq_on[i] or grads_on[i]), shim, True)
        reps.append(mr0.Repetition(pulse, et[i], gm[i], ph[i], us[i]))
    return mr0.Sequence(reps, normalized_grads=False)
