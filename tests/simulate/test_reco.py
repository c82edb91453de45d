"""The separable adjoint reconstruction against MRzeroCore's ``reco_adjoint`` (dense)."""
from __future__ import annotations

import math

import pytest
import torch

import MRzeroCore as mr0

from pulseqzero.simulate.reco import reco_adjoint


def _case(samples, coils, seed=0):
    gen = torch.Generator().manual_seed(seed)
    signal = torch.randn(samples, coils, dtype=torch.cfloat, generator=gen)
    # a non-Cartesian trajectory: spiral-like, with kz too
    t = torch.linspace(0, 1, samples)
    kspace = torch.stack([8 * t * torch.cos(20 * t), 8 * t * torch.sin(20 * t),
                          3 * t - 1.5, t], 1)
    return signal.requires_grad_(), kspace.requires_grad_()


@pytest.mark.filterwarnings("ignore:torch.meshgrid")  # inside MRzeroCore's reco_adjoint
@pytest.mark.parametrize("coils, resolution, fov", [
    (1, (12, 10, 1), (0.2, 0.25, 1.0)),
    (3, (8, 6, 3), (0.2, 0.2, 0.01)),
])
def test_the_same_image_and_gradients_as_mrzerocore(coils, resolution, fov):
    signal, kspace = _case(200, coils)
    ours = reco_adjoint(signal, kspace, resolution, fov)
    ref = mr0.reco_adjoint(signal, kspace, resolution=resolution, FOV=fov)
    assert ours.shape == ref.shape
    assert float((ours - ref).detach().norm() / ref.detach().norm()) < 1e-5
    weights = torch.linspace(0.5, 1.5, ref.numel()).reshape(ref.shape)
    grads = [torch.autograd.grad((image.abs() * weights).sum(), [signal, kspace])
             for image in (ours, ref)]
    for g, r in zip(*grads):
        assert float((g - r).norm() / r.norm()) < 1e-4


def test_a_256_square_image_needs_no_dense_matrix():
    """65 536 samples onto 256 × 256 pixels: the dense matrix would be 34 GB."""
    n = 256
    ky, kx = torch.meshgrid(torch.arange(n) - n / 2, torch.arange(n) - n / 2, indexing="ij")
    kspace = torch.stack([kx.flatten() / 0.2, ky.flatten() / 0.2, 0 * kx.flatten(),
                          0 * kx.flatten()], 1)
    signal = torch.zeros(n * n, 1, dtype=torch.cfloat)
    signal[(n // 2) * n + n // 2] = 1.0  # the k-space centre: a flat image
    image = reco_adjoint(signal, kspace, (n, n, 1), (0.2, 0.2, 1.0))
    assert image.shape == (n, n, 1)
    assert torch.allclose(image, torch.ones_like(image), atol=1e-5)
    assert math.isclose(float(image.abs().mean()), 1.0, rel_tol=1e-6)
