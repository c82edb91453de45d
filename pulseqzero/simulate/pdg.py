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
  samples (emitting states × samples × voxels, the minimum), the others need
  one number per state for diffusion (their b-value at the repetition's end);
* **lean autograd**: the emission, the only events × voxels work, is a custom
  autograd function over chunks whose backward recomputes its big tensors
  instead of keeping them, so autograd memory is O(states × voxels).

The emitted signal of a ``+`` state with magnetisation ``m`` (voxels), dephasing
``k`` (rotations/m, per sample), ``tau`` (s) and b-integral ``B`` is::

    signal[e, c] = sum_v  sqrt2 m_v exp(-t_e/T2_v - |tau_e|/T2'_v - 1e-9 D_v B_e)
                         exp(-2πi (tau_e B0_v + k_e · r_v)) dephasing(k_e) coil_vc |PD_v|

which is MRzeroCore 1.2's formula; ``tests/simulate`` compares signal and
gradients with MRzeroCore's executor on the same pre-pass graph.
"""
from __future__ import annotations

import math
import warnings

import torch

from .plan import plan_of

__all__ = ["execute_graph"]

#: MRzeroCore's constants (its results are matched to float32 rounding)
SQRT2 = 1.41421356237
INV_SQRT2 = 0.70710678118
#: b-value factor (2π)²/3 of a linearly interpolated k-space segment
_B_FACTOR = 1 / 3 * (2 * math.pi) ** 2

#: elements (states × samples × voxels) of one emission chunk: bounds the transient memory
#: of the forward and of each recomputation in backward (complex64: 8 bytes an element)
CHUNK_ELEMENTS = 1 << 22

_warned = set()


def _warn_once(key: str, message: str) -> None:
    if key not in _warned:
        _warned.add(key)
        warnings.warn(message, RuntimeWarning, stacklevel=3)


def execute_graph(graph, seq, data, min_emitted_signal: float = 1e-2,
                  min_latent_signal: float = 1e-2, print_progress: bool = True,
                  return_mag_adc: bool = False, clear_state_mag: bool = True,
                  initial_mag: torch.Tensor | None = None, *, intitial_mag=None):
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

    Returns the signal, complex (ADC samples, coils), or ``(signal, mag_adc)``.

    Phantom motion (``data.phantom_motion`` / ``data.voxel_motion``) is not
    supported here: then MRzeroCore's executor runs, with a warning (once).
    """
    if intitial_mag is not None:
        if initial_mag is not None:
            raise TypeError("execute_graph: give initial_mag or intitial_mag, not both")
        initial_mag = intitial_mag
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
    phantom = _Phantom(data, seq.normalized_grads)

    if initial_mag is None:
        mag = torch.ones(1, phantom.voxels, dtype=torch.cfloat, device=device)
    else:
        mag = torch.as_tensor(initial_mag).reshape(1, -1)
    kt = torch.zeros(1, 4, device=device)

    bar = None
    if print_progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=len(seq), desc="Calculating repetitions")
    signal, mag_adc = [], []
    for rep_plan, rep in zip(plan.repetitions, seq):
        mag, kt, rep_signal, rep_mag_adc = _repetition(rep_plan, rep, mag, kt, phantom,
                                                        return_mag_adc)
        signal.append(rep_signal)
        mag_adc.append(rep_mag_adc)
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
        print("Done.")
    signal = torch.cat(signal) if signal else torch.zeros(0, phantom.coils, dtype=torch.cfloat,
                                                          device=device)
    return (signal, mag_adc) if return_mag_adc else signal


class _Phantom:
    """What the main pass needs of ``SimData``, computed once per call."""

    def __init__(self, data, normalized_grads: bool):
        self.data = data
        self.voxels = data.PD.numel()
        if normalized_grads:
            # axes without extent are not scaled (1 / 0 would turn the trajectory to NaN)
            self.grad_scale = torch.where(data.size > 0, 1 / data.size,
                                          torch.zeros_like(data.size))
        else:
            self.grad_scale = torch.ones_like(data.size)
        # proton density baked into the coil sensitivities, (voxels, coils)
        self.coil = data.coil_sens.t().to(torch.cfloat) * torch.abs(data.PD).unsqueeze(1)
        self.coils = int(self.coil.shape[1])
        self.T1 = torch.abs(data.T1)
        self.T2 = torch.abs(data.T2)
        # exponent of the decay at a sample: [t, |tau|, B] @ decay_rates, (3, voxels)
        self.decay_rates = -torch.stack([1 / self.T2, 1 / torch.abs(data.T2dash), 1e-9 * data.D])
        # phase (rad) at a sample: [kx, ky, kz, tau] @ phase_map, (4, voxels)
        self.phase_map = (-2 * math.pi) * torch.cat([data.voxel_pos.T, data.B0.unsqueeze(0)])
        self.diffusion_rate = -1e-9 * data.D
        self._b1 = None

    def b1(self, shim_array):
        """|B1| and its phase (voxels) for a pulse's shim: the coils' sum for one
        transmit channel, the shim-weighted sum for pTx (MRzeroCore's convention)."""
        B1 = self.data.B1
        if shim_array.shape[0] == 1:
            if self._b1 is None:
                total = B1.sum(0)
                self._b1 = (total.abs(), total.angle())
            return self._b1
        if shim_array.shape[0] != B1.shape[0]:
            raise ValueError(f"the pulse has {shim_array.shape[0]} shim channels, the phantom "
                             f"{B1.shape[0]} B1 maps")
        shim = shim_array[:, 0] * torch.exp(-1j * shim_array[:, 1])
        total = (B1 * shim[:, None]).sum(0)
        return total.abs(), total.angle()


def _rf_transforms(rep, phantom):
    """The six RF transforms of ``plan.EDGE_KINDS`` per voxel, (6, voxels) complex."""
    pulse = rep.pulse
    b1_abs, b1_phase = phantom.b1(torch.as_tensor(pulse.shim_array))
    angle = torch.as_tensor(pulse.angle) * b1_abs
    phase = torch.as_tensor(pulse.phase) + b1_phase
    z_to_z = torch.cos(angle)
    p_to_p = torch.cos(angle / 2) ** 2
    z_to_p = -INV_SQRT2 * 1j * torch.sin(angle) * torch.exp(1j * phase)
    m_to_p = (1 - p_to_p) * torch.exp(2j * phase)
    return torch.stack([z_to_z.to(z_to_p.dtype), p_to_p.to(z_to_p.dtype), z_to_p,
                        z_to_p.conj().neg(), -z_to_p, m_to_p])


def _repetition(plan, rep, mag, kt, phantom, return_mag_adc):
    """One repetition: (states' magnetisation, their kt, signal, mag_adc) after it."""
    # magnetisation after the pulse: the pre-pass edges as gather, multiply, scatter-add
    source = torch.cat([mag, mag.conj()]) if plan.any_conjugated else mag
    contribution = (source.index_select(0, plan.edge_source)
                    * _rf_transforms(rep, phantom).index_select(0, plan.edge_kind))
    mag = torch.zeros((plan.n_states, mag.shape[1]), dtype=contribution.dtype,
                      device=mag.device).index_add(0, plan.edge_child, contribution)
    kt = torch.cat([kt, -kt, kt.new_zeros(1, 4)]).index_select(0, plan.kt_source)

    # trajectory of the repetition: cumulative gradient moment (x, y, z) and time, (events, 4)
    dt = rep.event_time
    trajectory = torch.cumsum(torch.cat([rep.gradm * phantom.grad_scale[None, :],
                                         dt[:, None]], 1), 0)
    total_time = dt.sum()
    n_plus = plan.n_plus
    # + states: their dephasing at the end of every event, (n_plus, events, 4)
    plus_traj = kt[:n_plus, None, :] + trajectory[None, :, :]
    k_end = plus_traj[..., :3]
    k_start = torch.cat([kt[:n_plus, None, :3], k_end[:, :-1]], 1)
    # b-integral of each event (linear k between its ends), accumulated: (n_plus, events)
    b = _B_FACTOR * dt * (k_start ** 2 + k_start * k_end + k_end ** 2).sum(-1)
    b_integral = torch.cumsum(b, 1)

    adc = rep.adc_usage > 0
    rep_signal, rep_mag_adc = _emission(plan, rep, mag[:plan.n_emit], plus_traj[:plan.n_emit],
                                        b_integral[:plan.n_emit], trajectory, adc, phantom,
                                        return_mag_adc)

    # relaxation and diffusion to the end of the repetition
    r1 = torch.exp(-total_time / phantom.T1)
    r2 = torch.exp(-total_time / phantom.T2)
    plus = mag[:n_plus] * r2 * torch.exp(b_integral[:, -1:] * phantom.diffusion_rate)
    k_z = 2 * math.pi * torch.linalg.vector_norm(kt[n_plus:, :3], dim=1)
    z = mag[n_plus:] * r1 * torch.exp((total_time * k_z ** 2)[:, None] * phantom.diffusion_rate)
    if plan.has_z0:
        z = z + plan.z0_mask[n_plus:] * (1 - r1)
    mag = torch.cat([plus, z])
    kt = torch.cat([plus_traj[:, -1], kt[n_plus:]])
    return mag, kt, rep_signal, rep_mag_adc


def _emission(plan, rep, mag, traj, b_integral, trajectory, adc, phantom, return_mag_adc):
    """Signal (samples, coils) of the emitting states at the repetition's ADC samples."""
    adc_rot = torch.exp(1j * rep.adc_phase[adc]).unsqueeze(1)
    samples = int(adc.sum())
    n_emit = plan.n_emit
    signal = torch.zeros(samples, phantom.coils, dtype=torch.cfloat, device=mag.device)
    mag_adc = []
    if n_emit == 0 or (samples == 0 and not return_mag_adc):
        return signal * adc_rot, mag_adc
    traj = traj[:, adc]  # (states, samples, 4): kx, ky, kz, tau
    times = trajectory[adc, 3].expand(n_emit, samples)
    decay = torch.stack([times, traj[..., 3].abs(), b_integral[:, adc]], -1)
    dephasing = phantom.data.dephasing_func(traj[..., :3].reshape(-1, 3),
                                            phantom.data.nyquist).reshape(n_emit, samples)
    if return_mag_adc:
        pd = torch.abs(phantom.data.PD)
        for s in range(n_emit):
            transverse = (SQRT2 * mag[s] * _factors(decay[s], traj[s], phantom.decay_rates, phantom.phase_map)
                          * dephasing[s, :, None])
            mag_adc.append(adc_rot * transverse * pd)
    if samples == 0:
        return signal * adc_rot, mag_adc
    weights = (SQRT2 * mag).unsqueeze(-1) * phantom.coil  # (states, voxels, coils)
    grad = torch.is_grad_enabled() and any(
        t.requires_grad for t in (weights, decay, traj, dephasing, phantom.decay_rates,
                                  phantom.phase_map))
    step_s, step_e = _chunks(n_emit, samples, phantom.voxels)
    parts = []
    for e0 in range(0, samples, step_e):
        part = 0
        for s0 in range(0, n_emit, step_s):
            args = (decay[s0:s0 + step_s, e0:e0 + step_e], traj[s0:s0 + step_s, e0:e0 + step_e],
                    dephasing[s0:s0 + step_s, e0:e0 + step_e], weights[s0:s0 + step_s])
            if grad:  # recomputed in backward: no (states, samples, voxels) tensor is kept
                part = part + _Emission.apply(*args, phantom.decay_rates, phantom.phase_map)
            else:
                part = part + _emit(*args, phantom.decay_rates, phantom.phase_map)
        parts.append(part)
    signal = signal + torch.cat(parts)  # accumulated in complex64, as MRzeroCore's rep_sig
    return signal * adc_rot, mag_adc


def _emit(decay, traj, dephasing, weights, decay_rates, phase_map):
    """sum over states of dephasing · (sample factors @ weights): (samples, coils)."""
    factors = _fast_factors(decay, traj, decay_rates, phase_map, weights.dtype)
    return (torch.bmm(factors, weights) * dephasing[..., None]).sum(0)


def _factors(decay, traj, decay_rates, phase_map):
    """exp(decay @ decay_rates + i · traj @ phase_map), (states, samples, voxels) complex,
    differentiable (for ``return_mag_adc``)."""
    real = phase_map.dtype
    return torch.polar(torch.exp(decay.to(real) @ decay_rates), traj.to(real) @ phase_map)


def _fast_factors(decay, traj, decay_rates, phase_map, dtype):
    """:func:`_factors` without autograd, about 2.5x faster on the CPU: the real and the
    imaginary part written in place (torch.polar and complex exp are not vectorised)."""
    real = phase_map.dtype
    magnitude = torch.exp(decay.to(real) @ decay_rates)
    angle = traj.to(real) @ phase_map
    parts = torch.empty(magnitude.shape + (2,), dtype=real, device=magnitude.device)
    torch.mul(magnitude, torch.cos(angle), out=parts[..., 0])
    torch.mul(magnitude, torch.sin(angle, out=angle), out=parts[..., 1])
    return torch.view_as_complex(parts).to(dtype)


class _Emission(torch.autograd.Function):
    """:func:`_emit` whose backward recomputes the sample factors instead of keeping them.

    With F = exp(z), z = x + iθ (x = decay @ decay_rates, θ = traj @ phase_map),
    P = F @ W and out = Σ_s d_s P_s, the gradients in torch's convention (G = dL/d out,
    D = d G per state) are dL/dW = Fᴴ D, dL/dd = Re(G · conj(P)) summed over coils and
    dL/dz = (D Wᴴ) · conj(F), whose real part flows to x and imaginary part to θ, then
    through the two small matmuls. We form conj(dL/dz) = (conj(D) Wᵀ) · F, which needs
    no conjugated copy of F, and read its real and imaginary parts through one real
    matmul over the interleaved (real, imaginary) pairs.
    """

    @staticmethod
    def forward(ctx, decay, traj, dephasing, weights, decay_rates, phase_map):
        ctx.save_for_backward(decay, traj, dephasing, weights, decay_rates, phase_map)
        return _emit(decay, traj, dephasing, weights, decay_rates, phase_map)

    @staticmethod
    def backward(ctx, grad):
        decay, traj, dephasing, weights, decay_rates, phase_map = ctx.saved_tensors
        need = ctx.needs_input_grad
        real = phase_map.dtype
        factors = _fast_factors(decay, traj, decay_rates, phase_map, weights.dtype)
        grad = grad.to(weights.dtype)
        weighted = dephasing[..., None].to(real) * grad  # D: (states, samples, coils)
        g_decay = g_traj = g_dephasing = g_weights = g_rates = g_phase = None
        if need[2]:
            g_dephasing = (grad * torch.bmm(factors, weights).conj()).real.sum(-1)
            g_dephasing = g_dephasing.to(dephasing.dtype)
        if need[3]:  # Fᴴ D = conj(Fᵀ conj(D))
            g_weights = torch.bmm(factors.transpose(1, 2), weighted.conj().resolve_conj()).conj()
        if need[0] or need[1] or need[4] or need[5]:
            states, samples, voxels = factors.shape
            w_t = weights.transpose(1, 2)  # (states, coils, voxels)
            d_conj = weighted.conj().resolve_conj()
            if w_t.shape[1] == 1:  # one coil: an outer product, no matmul
                q_conj = d_conj * w_t
            else:
                q_conj = torch.bmm(d_conj, w_t)
            q_conj.mul_(factors)  # conj(dL/dz)
            pairs = torch.view_as_real(q_conj).reshape(states * samples, 2 * voxels)
            # interleaved map: column 2v holds decay_rates[:, v], column 2v+1 phase_map[:, v]
            # (negated: the pairs hold -Im dL/dz)
            zeros_d = decay_rates.new_zeros(4, voxels)
            zeros_r = decay_rates.new_zeros(3, voxels)
            table = torch.cat([torch.stack([decay_rates, zeros_r], -1),
                               torch.stack([zeros_d, -phase_map], -1)]).reshape(7, 2 * voxels)
            if need[0] or need[1]:
                g_features = (pairs @ table.T).reshape(states, samples, 7)
                if need[0]:
                    g_decay = g_features[..., :3].to(decay.dtype)
                if need[1]:
                    g_traj = g_features[..., 3:].to(traj.dtype)
            if need[4] or need[5]:
                features = torch.cat([decay.to(real), traj.to(real)], -1).reshape(-1, 7)
                g_table = (features.T @ pairs).reshape(7, voxels, 2)
                g_rates = g_table[:3, :, 0]
                g_phase = -g_table[3:, :, 1]
        return g_decay, g_traj, g_dephasing, g_weights, g_rates, g_phase


def _chunks(states: int, samples: int, voxels: int) -> tuple:
    """(states, samples) per emission chunk so that a chunk holds <= CHUNK_ELEMENTS."""
    per_state = samples * voxels
    if states * per_state <= CHUNK_ELEMENTS:
        return states, samples
    if per_state <= CHUNK_ELEMENTS:
        return max(1, CHUNK_ELEMENTS // per_state), samples
    return 1, max(1, CHUNK_ELEMENTS // voxels)
