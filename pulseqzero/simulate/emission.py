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

from .memory import release_freed_memory

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
    dL/dz = (D Wᴴ) · conj(F), whose real part flows to x and imaginary part to θ.
    dL/dz is never formed: its products with the rates and the phase map are
    Σ_v Re dL/dz[e, v] rates[j, v] = Re Σ_c conj(D[e, c]) (F @ (W[:, c] · rates[j]))[e]
    (and minus Im for the phase map), so one product of F with the 8 columns
    [W, W · rates, W · phase_map] per coil gives P and both feature gradients. The
    backward costs one recomputation of F and a few products with it.
    """

    @staticmethod
    def forward(ctx, decay, traj, dephasing, weights, decay_rates, phase_map):
        ctx.save_for_backward(decay, traj, dephasing, weights, decay_rates, phase_map)
        return _emit(decay, traj, dephasing, weights, decay_rates, phase_map)

    @staticmethod
    def backward(ctx, grad):
        release_freed_memory()  # the previous chunk's, before this one's (see there)
        decay, traj, dephasing, weights, decay_rates, phase_map = ctx.saved_tensors
        need = ctx.needs_input_grad
        real = phase_map.dtype
        factors = _fast_factors(decay, traj, decay_rates, phase_map, weights.dtype)
        states, samples, voxels = factors.shape
        coils = weights.shape[2]
        grad = grad.to(weights.dtype)
        d_conj = (dephasing[..., None].to(real) * grad).conj().resolve_conj()  # conj(D)
        g_decay = g_traj = g_dephasing = g_weights = g_rates = g_phase = None

        # F @ [W, W · rates_j, W · phase_map_j]: (states, samples, (1 + 3 + 4) coils)
        columns = [weights]
        if need[0]:
            columns.append((weights[:, :, None, :] * decay_rates.T[None, :, :, None])
                           .reshape(states, voxels, 3 * coils))
        if need[1]:
            columns.append((weights[:, :, None, :] * phase_map.T[None, :, :, None])
                           .reshape(states, voxels, 4 * coils))
        products = _bmm(factors, torch.cat(columns, -1))
        if need[2]:
            g_dephasing = (grad * products[..., :coils].conj()).real.sum(-1).to(dephasing.dtype)
        column = coils
        if need[0]:
            part = products[..., column:column + 3 * coils].reshape(states, samples, 3, coils)
            g_decay = (d_conj[:, :, None, :] * part).sum(-1).real.to(decay.dtype)
            column += 3 * coils
        if need[1]:
            part = products[..., column:column + 4 * coils].reshape(states, samples, 4, coils)
            g_traj = -(d_conj[:, :, None, :] * part).sum(-1).imag.to(traj.dtype)
        if need[3]:  # Fᴴ D = conj(Fᵀ conj(D))
            g_weights = _bmm(factors.transpose(1, 2), d_conj).conj()
        if need[4] or need[5]:  # Σ_c W[v, c] ((features_j · conj(D_c))ᵀ @ F)[v], per state
            features = torch.cat([decay.to(real), traj.to(real)], -1)  # (states, samples, 7)
            rows = (features[..., None] * d_conj[:, :, None, :]).reshape(states, samples,
                                                                       7 * coils)
            table = (_bmm(rows.transpose(1, 2), factors).reshape(states, 7, coils, voxels)
                     * weights.transpose(1, 2)[:, None]).sum((0, 2))  # (7, voxels)
            g_rates = table[:3].real if need[4] else None
            g_phase = -table[3:].imag if need[5] else None
        return g_decay, g_traj, g_dephasing, g_weights, g_rates, g_phase


def _chunks(states: int, samples: int, voxels: int) -> tuple:
    """(states, samples) per emission chunk so that a chunk holds <= CHUNK_ELEMENTS."""
    per_state = samples * voxels
    if states * per_state <= CHUNK_ELEMENTS:
        return states, samples
    if per_state <= CHUNK_ELEMENTS:
        return max(1, CHUNK_ELEMENTS // per_state), samples
    return 1, max(1, CHUNK_ELEMENTS // voxels)
