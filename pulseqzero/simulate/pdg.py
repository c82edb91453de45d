"""``pulseqzero.execute_graph``: the PDG main pass, MRzeroCore's physics without its waste.

MRzeroCore's ``execute_graph`` walks every simulated state of every repetition
in Python and, for each, builds an events × voxels diffusion tensor, although
only the few states that emit signal need more than its last row; autograd
then keeps all of them. This executor computes the same signal (same
arguments, same result) differently:

* **per repetition, all states at once**: the states' magnetisations (states ×
  voxels) come from the previous repetition's by one gather, one multiply with
  a 6-row table of RF transforms and one ``index_add`` (the pre-pass edges,
  read once into a :class:`~pulseqzero.simulate.plan.Plan`); the number of
  torch ops per repetition does not grow with the number of states;
* **no wasted work**: only the emitting states are evaluated at the ADC
  samples (emitting states × samples × voxels, the minimum,
  :mod:`~pulseqzero.simulate.emission`); the others need one number per
  state for diffusion (their b-value at the repetition's end);
* **lean autograd**: nothing of size events × voxels is kept for backward (the
  emission recomputes its factors); the recurrence keeps only its inputs per
  repetition (:class:`Mix`), and where that would pass
  :data:`KEEP_RECURRENCE_BYTES` it runs in segments of about √(repetitions)
  repetitions that keep only the states at their start and are recomputed in
  backward (checkpointing): autograd memory is at most
  O(√repetitions × states × voxels) instead of MRzeroCore's
  O(repetitions × states × events × voxels).

``tests/simulate`` compares signal and gradients with MRzeroCore's executor on
the same pre-pass graph.
"""
from __future__ import annotations

import math
import warnings

import torch

from .distributed import execute_sharded, wants_split
from .emission import emission
from .memory import release_freed_memory, start_memory_watch
from .plan import plan_of

__all__ = ["execute_graph"]

#: MRzeroCore's constant for the RF transforms (its results are matched to float32 rounding)
INV_SQRT2 = 0.70710678118
#: b-value factor (2π)²/3 of a linearly interpolated k-space segment
_B_FACTOR = 1 / 3 * (2 * math.pi) ** 2

_warned = set()


def _warn_once(key: str, message: str) -> None:
    if key not in _warned:
        _warned.add(key)
        # the caller of execute_graph (through _execute): the line that asked for motion
        warnings.warn(message, RuntimeWarning, stacklevel=4)


def execute_graph(graph, seq, data, min_emitted_signal: float = 1e-2,
                  min_latent_signal: float = 1e-2, print_progress: bool = True,
                  return_mag_adc: bool = False, clear_state_mag: bool = True,
                  initial_mag: torch.Tensor | None = None, *, intitial_mag=None,
                  voxel_chunks: int = 1, distributed: bool = True):
    """Simulate ``seq`` on ``data`` by executing the pre-pass ``graph``.

    A drop-in for ``MRzeroCore.execute_graph`` (1.2): the same arguments and
    result. graph: ``MRzeroCore.compute_graph(seq, data, ...)``; seq:
    ``MRzeroCore.Sequence``; data: ``MRzeroCore.SimData``; min_emitted_signal:
    a ``+`` state emits when its pre-pass ``emitted_signal`` reaches this;
    min_latent_signal: a state is simulated when its ``latent_signal`` reaches
    this (z0 states always are); print_progress: a progress bar over the
    repetitions; return_mag_adc: also return the measured transverse
    magnetisation, a list per repetition of (samples × voxels) tensors, one per
    emitting state; clear_state_mag: accepted for compatibility (this executor
    never stores magnetisations on the graph); initial_mag (or MRzeroCore's
    spelling ``intitial_mag``): complex (voxels,) start magnetisation instead of
    the relaxed state.

    Split by voxels (exact: the signal is a sum over voxels; ``docs/distributed.md``):
    voxel_chunks: simulate the voxels in this many parts one after the other, with the
    autograd memory of one part (backward simulates each part again: one more forward
    pass); distributed: under an initialised ``torch.distributed`` process group, each
    rank simulates its share of the voxels and every rank gets the whole signal and the
    whole gradients (every rank must call this with the same sequence, graph and
    phantom, and compute the same loss from the signal; only rank 0 shows the progress
    bar); False: this process simulates every voxel.

    Returns the signal, complex (ADC samples, coils), or ``(signal, mag_adc)``; split
    across ranks, ``mag_adc`` covers this rank's voxels
    (``pulseqzero.simulate.distributed.voxel_shard``).

    Phantom motion (``data.phantom_motion`` / ``data.voxel_motion``) is not
    supported here: then MRzeroCore's executor runs, with a warning (once).
    """
    if intitial_mag is not None:
        if initial_mag is not None:
            raise TypeError("execute_graph: give initial_mag or intitial_mag, not both")
        initial_mag = intitial_mag
    if wants_split(voxel_chunks, distributed):
        return execute_sharded(_execute, graph, seq, data, min_emitted_signal,
                               min_latent_signal, print_progress, return_mag_adc,
                               clear_state_mag, initial_mag, voxel_chunks, distributed)
    return _execute(graph, seq, data, min_emitted_signal, min_latent_signal, print_progress,
                    return_mag_adc, clear_state_mag, initial_mag)


def _execute(graph, seq, data, min_emitted_signal, min_latent_signal, print_progress,
             return_mag_adc, clear_state_mag, initial_mag):
    """:func:`execute_graph` on every voxel of ``data`` in this process."""
    if data.phantom_motion is not None or data.voxel_motion is not None:
        _warn_once("motion", "pulseqzero.execute_graph does not simulate phantom motion: "
                   "running MRzeroCore's executor instead")
        import MRzeroCore as mr0
        return mr0.execute_graph(graph, seq, data, min_emitted_signal, min_latent_signal,
                                 print_progress, return_mag_adc, clear_state_mag, initial_mag)
    if len(graph) != len(seq) + 1:
        raise ValueError(f"the pre-pass graph has {len(graph) - 1} repetitions, the sequence "
                         f"{len(seq)}: compute the graph from this sequence "
                         "(MRzeroCore.compute_graph(seq, data))")
    device = data.device
    plan = plan_of(graph, min_emitted_signal, min_latent_signal, device)
    phantom = Phantom(data, seq.normalized_grads)
    reps = list(seq)
    rep_inputs = [_rep_tensors(rep) for rep in reps]
    start_memory_watch()

    if initial_mag is None:
        mag = torch.ones(1, phantom.voxels, dtype=torch.cfloat, device=device)
    else:
        mag = torch.as_tensor(initial_mag, device=device).reshape(1, -1)
    kt = torch.zeros(1, 4, device=device)

    grad = torch.is_grad_enabled() and (mag.requires_grad or any(
        t.requires_grad for t in phantom.recurrence_inputs) or any(
        t.requires_grad for inputs in rep_inputs for t in inputs))
    # segments recomputed in backward only where keeping the recurrence would cost memory
    recompute = grad and recurrence_bytes(plan, phantom.voxels) > KEEP_RECURRENCE_BYTES
    length = segment_length(len(reps)) if recompute else max(len(reps), 1)

    bar = None
    if print_progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=len(seq), desc="Calculating repetitions")
    signal, mag_adc = [], []
    for start in range(0, len(reps), length):
        plans = plan.repetitions[start:start + length]
        inputs = [mag, kt, *phantom.recurrence_inputs,
                  *(t for tensors in rep_inputs[start:start + length] for t in tensors)]

        def run(*tensors, plans=plans):
            return _advance(plans, *tensors)
        outputs = Recompute.apply(run, *inputs) if recompute else run(*inputs)
        mag, kt = outputs[0], outputs[1]
        for i, rep in enumerate(reps[start:start + length]):
            emitting, traj, b_integral = outputs[2 + 3 * i: 5 + 3 * i]
            rep_signal, rep_mag_adc = emission(rep, emitting, traj, b_integral,
                                               rep.adc_usage > 0, phantom, return_mag_adc)
            signal.append(rep_signal)
            mag_adc.append(rep_mag_adc)
            release_freed_memory()
            if bar is not None:
                bar.update(1)
    if bar is not None:
        bar.close()
        print("Done.")
    signal = torch.cat(signal) if signal else torch.zeros(0, phantom.coils, dtype=torch.cfloat,
                                                          device=device)
    return (signal, mag_adc) if return_mag_adc else signal


#: autograd memory (bytes) the state recurrence may keep for backward; above it, it runs in
#: segments that are recomputed in backward (one more recurrence forward, a fraction of a step)
KEEP_RECURRENCE_BYTES = 256 << 20


def recurrence_bytes(plan, voxels: int) -> int:
    """What autograd keeps of the whole recurrence: per repetition the previous states
    (complex64) and the relaxation factors (float32) that :class:`Mix` saves."""
    previous, total = 1, 0
    for rep in plan.repetitions:
        total += (8 * previous + 4 * rep.n_states) * voxels
        previous = rep.n_states
    return total


def segment_length(repetitions: int) -> int:
    """Repetitions per recomputed segment: √n balances the magnetisations kept at segment
    starts (n / length) against those of one segment recomputed in backward (length)."""
    return max(1, math.ceil(math.sqrt(repetitions)))


class Phantom:
    """What the main pass needs of ``SimData``, computed once per call."""

    def __init__(self, data, normalized_grads: bool):
        self.data = data
        self.voxels = data.PD.numel()
        if normalized_grads:
            # axes without extent are not scaled (1 / 0 would turn the trajectory to NaN)
            grad_scale = torch.where(data.size > 0, 1 / data.size, torch.zeros_like(data.size))
        else:
            grad_scale = torch.ones_like(data.size)
        # what the state recurrence reads, explicit so that a segment can be recomputed
        self.recurrence_inputs = (torch.abs(data.T1), torch.abs(data.T2), -1e-9 * data.D,
                                  grad_scale, data.B1)
        # proton density baked into the coil sensitivities, (voxels, coils)
        self.coil = data.coil_sens.t().to(torch.cfloat) * torch.abs(data.PD).unsqueeze(1)
        self.coils = int(self.coil.shape[1])
        # exponent of the decay at a sample: [t, |tau|, B] @ decay_rates, (3, voxels)
        self.decay_rates = -torch.stack([1 / torch.abs(data.T2), 1 / torch.abs(data.T2dash),
                                         1e-9 * data.D])
        # phase (rad) at a sample: [kx, ky, kz, tau] @ phase_map, (4, voxels)
        self.phase_map = (-2 * math.pi) * torch.cat([data.voxel_pos.T, data.B0.unsqueeze(0)])


def _rep_tensors(rep) -> tuple:
    """The tensors of a repetition the state recurrence reads (differentiable ones)."""
    pulse = rep.pulse
    return (torch.as_tensor(pulse.angle), torch.as_tensor(pulse.phase),
            torch.as_tensor(pulse.shim_array), rep.gradm, rep.event_time)


_PER_REP = 5  # len(_rep_tensors(rep))


def _advance(plans, mag, kt, T1, T2, diffusion_rate, grad_scale, B1, *rep_tensors):
    """Run the states through the repetitions of ``plans``.

    Returns ``(mag, kt, *per repetition (emitting mag, their trajectory, their
    b-integral))``: the states after the last repetition and what the emission of
    each repetition needs. A function of its tensor arguments only, so that
    :class:`Recompute` can run it again in backward. What does not depend on the
    states (RF transforms, trajectories, T1/T2 decay) is computed for all the
    repetitions at once: the ops per repetition are few and do not grow with the
    number of states.
    """
    count = len(plans)
    per_rep = [rep_tensors[_PER_REP * i:_PER_REP * (i + 1)] for i in range(count)]
    device = B1.device  # a pulse's angle may be a Python number or a 0-d CPU tensor
    angles = torch.stack([torch.as_tensor(r[0], device=device).reshape(()) for r in per_rep])
    phases = torch.stack([torch.as_tensor(r[1], device=device).reshape(()) for r in per_rep])
    b1_abs, b1_phase = _b1(B1, [r[2] for r in per_rep])  # (count or 1, voxels)
    transforms = _rf_transforms(angles[:, None] * b1_abs, phases[:, None] + b1_phase)

    # cumulative gradient moment (x, y, z) and time at the end of each event, padded to
    # the longest repetition: (count, events, 4); time (count, events)
    events = [r[4].shape[0] for r in per_rep]
    moments = torch.nn.utils.rnn.pad_sequence(
        [torch.cat([r[3] * grad_scale[None, :], r[4][:, None]], 1) for r in per_rep],
        batch_first=True)
    trajectories = torch.cumsum(moments, 1)
    total_times = trajectories[:, -1, 3]
    regrowth = 1 - torch.exp(-total_times[:, None] / T1)  # z0 states regrow towards 1
    relax_rates = torch.stack([1 / T2, 1 / T1, diffusion_rate])  # (3, voxels)
    b_table = _b_table(trajectories, moments[..., 3])  # (count, 5, events)
    # b of a state over the whole repetition from its features [|k|², kx, ky, kz, 1]:
    # row 0 for + states (their b-integral at the end), row 1 for z states (t (2π k)²)
    z_row = torch.stack([total_times * (2 * math.pi) ** 2] + [torch.zeros_like(total_times)] * 4,
                        1)
    b_rows = torch.stack([b_table[torch.arange(count), :, torch.tensor(events) - 1], z_row], 1)

    # one unbind each, not a select per repetition: the backward of a select fills a
    # zero tensor of the whole segment for every repetition
    per_rep_tensors = zip(transforms.unbind(0), regrowth.unbind(0), b_rows.unbind(0),
                          trajectories.unbind(0), b_table.unbind(0), total_times.unbind(0))
    out = []
    for i, (plan, (rep_transforms, rep_regrowth, rep_b_rows, rep_trajectory, rep_b_table,
                   total_time)) in enumerate(zip(plans, per_rep_tensors)):
        n = events[i]
        kt = torch.cat([kt, -kt, kt.new_zeros(1, 4)]).index_select(0, plan.kt_source)
        k = kt[:, :3]
        features = torch.cat([(k * k).sum(1, keepdim=True), k, torch.ones_like(k[:, :1])], 1)
        b_state = (features * (plan.kind_columns @ rep_b_rows)).sum(1)

        # relaxation and diffusion to the end of the repetition, one real factor per state
        # and voxel: exp([-t for + states, -t for z states, b] @ [1/T2, 1/T1, -1e-9 D]),
        # b the state's b-integral (+) or its dephasing's k² times the duration (z)
        exponents = torch.cat([-total_time * plan.kind_columns, b_state[:, None]], 1)
        relax = torch.exp(exponents.to(relax_rates.dtype) @ relax_rates)
        # the pulse (the pre-pass edges), then the relaxation; the emitting states'
        # magnetisation between the two goes to the emission
        mag, emitting = Mix.apply(mag, rep_transforms, relax, rep_regrowth, plan)
        # the emitting states' kx, ky, kz, tau and b-integral at the end of every event
        trajectory = rep_trajectory[:n]
        emit_traj = kt[:plan.n_emit, None, :] + trajectory[None, :, :]
        emit_b = features[:plan.n_emit] @ rep_b_table[:, :n]
        out += [emitting, emit_traj, emit_b]
        kt = torch.cat([kt[:plan.n_plus] + trajectory[-1], kt[plan.n_plus:]])
    return (mag, kt, *out)


def _b_table(trajectories, durations):
    """(repetitions, 5, events): the b-integral (s/m²) up to the end of each event of a
    state that starts the repetition at k (rotations/m) is [|k|², kx, ky, kz, 1] @ table.

    With k linear within an event from k_s to k_e, an event adds
    (2π)²/3 · dt · (k_s² + k_s·k_e + k_e²); for k = k0 + the repetition's own moment m
    (m_s, m_e at the event's ends) that is (2π)²/3 · dt · (3 k0² + 3 k0·(m_s + m_e) +
    m_s² + m_s·m_e + m_e²), so the rows are the cumulative sums of 3w, 3w (m_s + m_e)
    and w (m_s² + m_s·m_e + m_e²), w = (2π)²/3 · dt.
    """
    m_end = trajectories[..., :3]
    m_start = torch.cat([torch.zeros_like(m_end[:, :1]), m_end[:, :-1]], 1)
    w = _B_FACTOR * durations
    own = torch.addcmul(m_end * m_end, m_start, m_start + m_end).sum(-1)
    rows = torch.cat([3 * w[..., None], 3 * w[..., None] * (m_start + m_end),
                      (w * own)[..., None]], -1)
    return torch.cumsum(rows, 1).transpose(1, 2)


def _b1(B1, shims):
    """|B1| and its phase, (repetitions or 1, voxels), for the pulses' shims: for one
    transmit channel the sum of the B1 maps, for pTx the shim-weighted sum."""
    if all(shim.shape[0] == 1 for shim in shims):
        total = B1.sum(0, keepdim=True)
    else:
        total = torch.stack([B1.sum(0) if shim.shape[0] == 1 else _ptx_b1(B1, shim)
                             for shim in shims])
    return total.abs(), total.angle()


def _ptx_b1(B1, shim_array):
    """B1 (voxels, complex) of a pTx pulse: the shim-weighted sum of the channels' maps,
    shim_array (channels, 2) magnitude and phase (MRzeroCore's convention)."""
    if shim_array.shape[0] != B1.shape[0]:
        raise ValueError(f"the pulse has {shim_array.shape[0]} shim channels, the phantom "
                         f"{B1.shape[0]} B1 maps")
    shim_array = shim_array.to(B1.device)
    shim = shim_array[:, 0] * torch.exp(-1j * shim_array[:, 1])
    return (B1 * shim[:, None]).sum(0)


def _rf_transforms(angle, phase):
    """The six RF transforms of ``plan.EDGE_KINDS``, (repetitions, 6, voxels) complex, for
    the local flip angles and phases (rad), (repetitions, voxels)."""
    z_to_z = torch.cos(angle)
    p_to_p = torch.cos(angle / 2) ** 2
    z_to_p = -INV_SQRT2 * 1j * torch.sin(angle) * torch.exp(1j * phase)
    m_to_p = (1 - p_to_p) * torch.exp(2j * phase)
    return torch.stack([z_to_z.to(z_to_p.dtype), p_to_p.to(z_to_p.dtype), z_to_p,
                        z_to_p.conj().neg(), -z_to_p, m_to_p], 1)


def _mix(mag, transforms, plan):
    """The states after the pulse, (states, voxels): the sum over each state's pre-pass
    edges of the edge's transform times its ancestor (or the ancestor's conjugate)."""
    source = torch.cat([mag, mag.conj()]) if plan.any_conjugated else mag
    contribution = (source.index_select(0, plan.edge_source)
                    * transforms.index_select(0, plan.edge_kind))
    return _index_add(plan.n_states, plan.edge_child, contribution)


def _index_add(rows: int, index, values):
    """``zeros(rows, ...).index_add(0, index, values)`` for complex values, on their real
    view: torch's complex index_add is about 5x slower on the CPU. No autograd."""
    out = torch.zeros((rows, 2 * values.shape[1]), dtype=values.real.dtype,
                      device=values.device)
    out.index_add_(0, index, torch.view_as_real(values.contiguous()).reshape(values.shape[0], -1))
    return torch.view_as_complex(out.reshape(rows, -1, 2))


class Mix(torch.autograd.Function):
    """``(mix(mag) * relax + regrowth at the z0 states, mix(mag)[:n_emit])`` keeping only
    its inputs for backward.

    Autograd would keep the gathered ancestors and transforms (edges × voxels, twice)
    and the mixed states; this keeps the previous states, the (6, voxels) transforms
    and the real relaxation factors, and mixes again in backward. With
    M = Σ_edges T[kind] · src[ancestor] and out = M · relax (torch's convention,
    G = dL/d out): dL/dM = G · relax (+ the emission's gradient), dL/drelax =
    Re(G · conj(M)), dL/dsrc = Σ dL/dM[child] · conj(T[kind]), dL/dT = Σ dL/dM[child] ·
    conj(src[ancestor]); a conjugated ancestor receives the conjugate; dL/dregrowth =
    Re G summed over the z0 states.
    """

    @staticmethod
    def forward(ctx, mag, transforms, relax, regrowth, plan):
        ctx.plan = plan
        ctx.save_for_backward(mag, transforms, relax)
        mixed = _mix(mag, transforms, plan)
        out = mixed * relax
        if plan.has_z0:
            out[plan.z0_rows] += regrowth
        # a copy: a view would keep every state of the repetition alive with the emission
        return out, mixed[:plan.n_emit].clone()

    @staticmethod
    def backward(ctx, grad, grad_emitting):
        mag, transforms, relax = ctx.saved_tensors
        plan = ctx.plan
        need_mag, need_transforms, need_relax, need_regrowth = ctx.needs_input_grad[:4]
        g_mag = g_transforms = g_relax = g_regrowth = None
        if need_regrowth and plan.has_z0:
            g_regrowth = grad[plan.z0_rows].real.sum(0)
        if need_relax:
            g_relax = (grad * _mix(mag, transforms, plan).conj()).real.to(relax.dtype)
        if need_mag or need_transforms:
            g_mixed = grad * relax
            if plan.n_emit:
                g_mixed[:plan.n_emit] += grad_emitting
            g_edges = g_mixed.index_select(0, plan.edge_child)
            if need_mag:
                g_source = _index_add(
                    mag.shape[0] * (2 if plan.any_conjugated else 1), plan.edge_source,
                    g_edges * transforms.index_select(0, plan.edge_kind).conj())
                if plan.any_conjugated:
                    g_source = g_source[:mag.shape[0]] + g_source[mag.shape[0]:].conj()
                g_mag = g_source.to(mag.dtype)
            if need_transforms:
                source = torch.cat([mag, mag.conj()]) if plan.any_conjugated else mag
                g_transforms = _index_add(
                    transforms.shape[0], plan.edge_kind,
                    g_edges * source.index_select(0, plan.edge_source).conj()
                ).to(transforms.dtype)
        return g_mag, g_transforms, g_relax, g_regrowth, None


class Recompute(torch.autograd.Function):
    """``run(*inputs)`` without keeping its intermediates: backward runs it again.

    ``run`` must read differentiable tensors only through its arguments (as
    :func:`_advance` does). This is checkpointing in the style of
    ``torch.utils.checkpoint``'s reentrant variant, without its first-use cost
    (importing torch._dynamo, about a second).
    """

    @staticmethod
    def forward(ctx, run, *inputs):
        ctx.run = run
        ctx.save_for_backward(*inputs)
        return run(*inputs)

    @staticmethod
    def backward(ctx, *grads):
        need = ctx.needs_input_grad[1:]
        inputs = [x.detach().requires_grad_(n) for x, n in zip(ctx.saved_tensors, need)]
        release_freed_memory()
        with torch.enable_grad():
            outputs = ctx.run(*inputs)
        pairs = [(o, g) for o, g in zip(outputs, grads) if o.requires_grad and g is not None]
        wanted = [x for x in inputs if x.requires_grad]
        found = iter(torch.autograd.grad([o for o, _ in pairs], wanted, [g for _, g in pairs],
                                         allow_unused=True) if pairs and wanted else
                     [None] * len(wanted))
        return (None, *(next(found) if x.requires_grad else None for x in inputs))
