"""The signal of the emitting states at a repetition's ADC samples: the only
(states × samples × voxels) work of the PDG main pass.

For an emitting ``+`` state with magnetisation ``m`` (voxels), dephasing ``k``
(rotations/m) and ``tau`` (s) at a sample, time ``t`` since the pulse and
b-integral ``B`` (s/m²)::

    signal[e, c] = sum_v  sqrt2 m_v exp(-t_e/T2_v - |tau_e|/T2'_v - 1e-9 D_v B_e)
                         exp(-2πi (k_e · r_v + tau_e B0_v)) dephasing(k_e) coil_vc |PD_v|

MRzeroCore 1.2's formula. The sample factors exp(...) are never kept for the
backward pass: :class:`Emission` recomputes them there, in chunks of at most
:data:`CHUNK_ELEMENTS`.
"""
from __future__ import annotations

import torch

#: MRzeroCore's constant (its results are matched to float32 rounding)
SQRT2 = 1.41421356237

#: elements (states × samples × voxels) of one emission chunk: bounds the transient memory
#: of the forward and of each recomputation in backward (complex64: 8 bytes an element)
CHUNK_ELEMENTS = 1 << 22


def emission(rep, mag, traj, b_integral, adc, phantom, return_mag_adc):
    """(signal (samples, coils), mag_adc list) of the emitting states at ``rep``'s ADC samples.

    mag: (states, voxels) their magnetisation after the pulse; traj: (states, events, 4)
    their kx, ky, kz (rotations/m), tau (s) at the end of each event; b_integral:
    (states, events) s/m²; adc: (events,) bool; phantom: ``pdg.Phantom``.
    """
    adc_rot = torch.exp(1j * rep.adc_phase[adc]).unsqueeze(1)
    samples = int(adc.sum())
    n_emit = mag.shape[0]
    signal = torch.zeros(samples, phantom.coils, dtype=torch.cfloat, device=mag.device)
    mag_adc = []
    if n_emit == 0 or (samples == 0 and not return_mag_adc):
        return signal * adc_rot, mag_adc
    traj = traj[:, adc]  # (states, samples, 4): kx, ky, kz, tau
    # time since the pulse: the cumulative event time, as the trajectory's 4th column
    times = torch.cumsum(rep.event_time, 0)[adc].expand(n_emit, samples)
    decay = torch.stack([times, traj[..., 3].abs(), b_integral[:, adc]], -1)
    dephasing = phantom.data.dephasing_func(traj[..., :3].reshape(-1, 3),
                                            phantom.data.nyquist).reshape(n_emit, samples)
    if return_mag_adc:
        pd = torch.abs(phantom.data.PD)
        for s in range(n_emit):
            factors = _factors(decay[s], traj[s], phantom.decay_rates, phantom.phase_map)
            transverse = SQRT2 * mag[s] * factors * dephasing[s, :, None]
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
                part = part + Emission.apply(*args, phantom.decay_rates, phantom.phase_map)
            else:
                part = part + _emit(*args, phantom.decay_rates, phantom.phase_map)
        parts.append(part)
    signal = signal + torch.cat(parts)  # accumulated in complex64, as MRzeroCore's rep_sig
    return signal * adc_rot, mag_adc


def _emit(decay, traj, dephasing, weights, decay_rates, phase_map):
    """sum over states of dephasing · (sample factors @ weights): (samples, coils)."""
    factors = _fast_factors(decay, traj, decay_rates, phase_map, weights.dtype)
    return (_bmm(factors, weights) * dephasing[..., None]).sum(0)


def _bmm(a, b):
    """Batched complex matrix product as one 2D product per batch entry: torch's
    complex ``bmm`` with a batch of more than one is about 4x slower per entry on the
    CPU (0.6 ms instead of 0.07 ms for 64 × 2104 @ 2104 × 1)."""
    if a.shape[0] == 1:
        return (a[0] @ b[0]).unsqueeze(0)
    return torch.stack([x @ y for x, y in zip(a, b)])


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


class Emission(torch.autograd.Function):
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
        from .pdg import release_freed_memory
        release_freed_memory()  # the previous chunk's, before this one's (see there)
        decay, traj, dephasing, weights, decay_rates, phase_map = ctx.saved_tensors
        need = ctx.needs_input_grad
        real = phase_map.dtype
        factors = _fast_factors(decay, traj, decay_rates, phase_map, weights.dtype)
        grad = grad.to(weights.dtype)
        weighted = dephasing[..., None].to(real) * grad  # D: (states, samples, coils)
        g_decay = g_traj = g_dephasing = g_weights = g_rates = g_phase = None
        if need[2]:
            g_dephasing = (grad * _bmm(factors, weights).conj()).real.sum(-1)
            g_dephasing = g_dephasing.to(dephasing.dtype)
        if need[3]:  # Fᴴ D = conj(Fᵀ conj(D))
            g_weights = _bmm(factors.transpose(1, 2), weighted.conj().resolve_conj()).conj()
        if need[0] or need[1] or need[4] or need[5]:
            states, samples, voxels = factors.shape
            w_t = weights.transpose(1, 2)  # (states, coils, voxels)
            d_conj = weighted.conj().resolve_conj()
            if w_t.shape[1] == 1:  # one coil: an outer product, no matmul
                q_conj = d_conj * w_t
            else:
                q_conj = _bmm(d_conj, w_t)
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
