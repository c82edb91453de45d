"""Helpers: run our executor and MRzeroCore's on the same pre-pass graph; small phantoms and
hand-built MRzeroCore sequences (bSSFP, multi-echo TSE, diffusion-weighted spin echo)."""
from __future__ import annotations

import math

import torch

import MRzeroCore as mr0

from pulseqzero.optimize import compute_pdg
from pulseqzero.simulate import execute_graph

#: the issue's tolerances: signal and parameter gradients, relative L2
SIGNAL_TOL = 1e-5
GRAD_TOL = 1e-4


def rel_l2(ours, ref) -> float:
    ref_norm = float(torch.linalg.vector_norm(ref))
    diff = float(torch.linalg.vector_norm(ours - ref))
    return diff / ref_norm if ref_norm > 0 else diff


def both(make_seq, data, params=(), graph=None, direction=None, **kw):
    """Signal and parameter gradients of ``make_seq(*params)`` from both executors.

    The loss is ``sum |s|² + Re(w·s)`` with a fixed complex ``w``, so every gradient
    component (magnitude and phase of the signal) is exercised. Returns
    ``(ours, ref)``, each ``(signal, [grads])``.
    """
    if graph is None:
        graph = compute_pdg(make_seq(*params), data)
    out = []
    for executor in (execute_graph, mr0.execute_graph):
        for p in params:
            p.grad = None
        seq = make_seq(*params)
        signal = executor(graph, seq, data, print_progress=False, **kw)
        grads = []
        if any(p.requires_grad for p in params):
            if direction is None:
                gen = torch.Generator().manual_seed(0)
                direction = torch.randn(signal.shape, dtype=torch.cfloat, generator=gen)
            loss = (signal.abs() ** 2).sum() + (signal * direction).real.sum()
            grads = (torch.autograd.grad(loss, params, allow_unused=True)
                     if loss.requires_grad else [None] * len(params))  # e.g. no ADC sample
            grads = [torch.zeros_like(p) if g is None else g for p, g in zip(params, grads)]
        out.append((signal.detach(), grads))
    return out[0], out[1]


def assert_same(ours, ref, signal_tol=SIGNAL_TOL, grad_tol=GRAD_TOL):
    assert ours[0].shape == ref[0].shape and ours[0].dtype == ref[0].dtype
    assert rel_l2(ours[0], ref[0]) < signal_tol, rel_l2(ours[0], ref[0])
    for i, (g, r) in enumerate(zip(ours[1], ref[1])):
        assert rel_l2(g, r) < grad_tol, (i, rel_l2(g, r))


# ---------------------------------------------------------------- phantoms

def voxel_phantom(n: int = 24, seed: int = 0, coils: int = 1, b1_channels: int = 0,
                  shape: str = "sinc"):
    """``n`` voxels at random positions in [-0.5, 0.5)² with varied tissue, B0 and B1.

    coils: receive coils with random complex sensitivities; b1_channels: > 0 gives that
    many complex transmit maps (pTx), 0 a single real B1 map.
    """
    gen = torch.Generator().manual_seed(seed)

    def uniform(lo, hi, size=(n,)):
        return lo + (hi - lo) * torch.rand(size, generator=gen)

    pos = torch.cat([uniform(-0.5, 0.5, (n, 2)), torch.zeros(n, 1)], 1)
    data = mr0.CustomVoxelPhantom(
        pos.tolist(), PD=uniform(0.5, 1.0).tolist(), T1=uniform(0.3, 2.0).tolist(),
        T2=uniform(0.04, 0.3).tolist(), T2dash=uniform(0.02, 0.2).tolist(),
        D=uniform(0.0, 2.5).tolist(), B0=uniform(-20, 20).tolist(),
        B1=uniform(0.8, 1.2).tolist(), voxel_size=0.05, voxel_shape=shape).build()
    if coils > 1:
        sens = torch.polar(uniform(0.5, 1.5, (coils, n)), uniform(-math.pi, math.pi, (coils, n)))
        data = _with(data, coil_sens=sens)
    if b1_channels:
        b1 = torch.polar(uniform(0.3, 0.7, (b1_channels, n)),
                         uniform(-1.0, 1.0, (b1_channels, n)))
        data = _with(data, B1=b1)
    return data


def _with(data, **fields):
    """A SimData like ``data`` with some fields replaced."""
    args = dict(PD=data.PD, T1=data.T1, T2=data.T2, T2dash=data.T2dash, D=data.D, B0=data.B0,
                B1=data.B1, coil_sens=data.coil_sens, size=data.size, affine=data.affine,
                voxel_pos=data.voxel_pos, nyquist=data.nyquist,
                dephasing_func=data.dephasing_func)
    args.update(fields)
    return mr0.SimData(**args)


# ---------------------------------------------------------------- hand-built sequences

def _rep(seq, events):
    rep = seq.new_rep(events)
    rep.pulse.usage = mr0.PulseUsage.EXCIT
    return rep


def bssfp(flip, n_lines: int = 8, n_read: int = 8, tr_pad=1e-3):
    """Balanced SSFP, alternating RF phase; flip: tensor (rad). Gradient moments in
    units of the phantom size (normalized_grads)."""
    seq = mr0.Sequence()
    for line in range(n_lines + 4):  # 4 dummies
        rep = _rep(seq, n_read + 2)
        rep.pulse.angle = flip * 1.0
        rep.pulse.phase = torch.tensor(math.pi * (line % 2))
        rep.event_time = torch.cat([torch.tensor([tr_pad]), torch.full((n_read,), 5e-5),
                                    torch.tensor([tr_pad])])
        ky = float(line - 4 - n_lines // 2) if line >= 4 else 0.0
        gradm = torch.zeros(n_read + 2, 3)
        gradm[0] = torch.tensor([-n_read / 2, ky, 0.0])
        gradm[1:-1, 0] = 1.0
        gradm[-1] = torch.tensor([-n_read / 2, -ky, 0.0])
        rep.gradm = gradm
        if line >= 4:
            rep.adc_usage[1:-1] = 1
            rep.adc_phase[1:-1] = math.pi * (line % 2)
    return seq


def tse(refocus, echo_spacing=8e-3, n_read: int = 8):
    """Multi-echo turbo spin echo: 90°_y, then one refocusing pulse per echo (refocus:
    tensor of angles, rad), one phase-encode line per echo, crushers around each pulse."""
    seq = mr0.Sequence()
    rep = _rep(seq, 2)
    rep.pulse.angle = torch.tensor(math.pi / 2)
    rep.pulse.phase = torch.tensor(math.pi / 2)
    rep.event_time = torch.tensor([echo_spacing / 2 - 1e-3, 1e-3])
    rep.gradm = torch.tensor([[n_read / 2 + 2.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    n = len(refocus)
    for i in range(n):
        rep = _rep(seq, n_read + 2)
        rep.pulse.usage = mr0.PulseUsage.REFOC
        rep.pulse.angle = refocus[i] * 1.0
        rep.event_time = torch.cat([torch.tensor([echo_spacing / 2 - n_read * 2.5e-5]),
                                    torch.full((n_read,), 5e-5),
                                    torch.tensor([echo_spacing / 2 - n_read * 2.5e-5])])
        ky = float(i - n // 2)
        gradm = torch.zeros(n_read + 2, 3)
        gradm[0] = torch.tensor([2.0, ky, 0.0])  # crusher, phase encode
        gradm[1:-1, 0] = 1.0  # readout from -n_read/2 to n_read/2
        gradm[-1] = torch.tensor([2.0, -ky, 0.0])  # crusher, rewinder
        rep.gradm = gradm
        rep.adc_usage[1:-1] = 1
    return seq


def dwi(diffusion_moment, n_read: int = 8, delta=10e-3):
    """Diffusion-weighted spin echo (one line per shot) with gradient moment
    ``diffusion_moment`` (tensor, rotations/m) on z, through the slice, on both sides of
    the refocusing pulse, so diffusion (D) matters. Gradients not normalized. (On z, the
    axis all ``voxel_phantom`` voxels share, the moment gives no in-plane phase, whose
    float32 cancellation would drown the gradient of the diffusion weighting.)"""
    seq = mr0.Sequence(normalized_grads=False)
    fov = 1.0  # m, the voxel_phantom extent
    for line in range(4):
        ky = (line - 2) / fov
        rep = _rep(seq, 3)
        rep.pulse.angle = torch.tensor(math.pi / 2)
        rep.pulse.phase = torch.tensor(math.pi / 2)
        rep.event_time = torch.tensor([1e-3, delta, 2e-3])
        rep.gradm = torch.stack([torch.zeros(3),
                                 torch.stack([0 * diffusion_moment, 0 * diffusion_moment,
                                              diffusion_moment]),
                                 torch.tensor([n_read / 2 / fov, 0.0, 0.0])])
        rep = _rep(seq, n_read + 3)
        rep.pulse.usage = mr0.PulseUsage.REFOC
        rep.pulse.angle = torch.tensor(math.pi)
        rep.event_time = torch.cat([torch.tensor([2e-3, delta, 1e-3]), torch.full((n_read,), 5e-5)])
        gradm = torch.zeros(n_read + 3, 3)
        gradm[1, 2] = diffusion_moment
        gradm[2, 1] = ky
        gradm[3:, 0] = 1 / fov
        rep.gradm = gradm
        rep.adc_usage[3:] = 1
        rep = _rep(seq, 1)  # spoil and recover
        rep.pulse.angle = torch.tensor(0.0)
        rep.event_time = torch.tensor([1.0])
        rep.gradm = torch.tensor([[40.0 / fov, 0.0, 0.0]])
    return seq
