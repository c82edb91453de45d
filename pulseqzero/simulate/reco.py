"""Adjoint reconstruction on a grid, MRzeroCore's ``reco_adjoint`` without its dense matrix.

``MRzeroCore.reco_adjoint`` forms exp(2πi k·r) for every (sample, pixel) pair: at
256 × 256 that is 65 536² complex numbers, 34 GB, more than the simulation it
follows. On a grid of pixels the exponential factors per axis,

    image[x, y, z] = Σ_s signal[s] e^{2πi kx_s x} e^{2πi ky_s y} e^{2πi kz_s z},

so the sum is a product of (samples × nx) and (samples × ny) matrices per z plane:
samples × (nx + ny + nz) exponentials instead of samples × nx·ny·nz, the same
result up to float32 rounding, for any trajectory (Cartesian or not).
"""
from __future__ import annotations

import math

import torch


def reco_adjoint(signal: torch.Tensor, kspace: torch.Tensor, resolution: tuple,
                 fov: tuple) -> torch.Tensor:
    """The adjoint reconstruction of ``signal`` (samples, coils) measured at ``kspace``
    (samples, ≥ 3; rotations per unit of ``fov``) on a ``resolution`` (nx, ny, nz) grid
    spanning ``fov`` (x, y, z): MRzeroCore's ``reco_adjoint`` with both given (its grid,
    its sign; several coils combined by root sum of squares). Differentiable."""
    axes = []
    for axis in range(3):
        grid = fov[axis] * torch.fft.fftshift(torch.fft.fftfreq(resolution[axis],
                                                                device=kspace.device))
        axes.append(torch.exp(2j * math.pi * (kspace[:, axis:axis + 1] * grid[None, :])))
    ex, ey, ez = axes  # (samples, n) each
    images = []
    for coil in range(signal.shape[1]):
        weighted = signal[:, coil:coil + 1] * ex  # (samples, nx)
        planes = [(weighted * ez[:, z:z + 1]).T @ ey for z in range(resolution[2])]
        images.append(torch.stack(planes, -1))  # (nx, ny, nz)
    if len(images) == 1:
        return images[0]
    return torch.sqrt(sum(image.abs() ** 2 for image in images))
