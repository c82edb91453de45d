"""A procedural 2D brain phantom: ellipses with literature tissue values, any resolution.

No download: the geometry is a handful of ellipses (scalp fat, skull, cortex,
white matter, ventricles, CSF around the brain), the tissue values are the 3 T
values MRzeroCore ships for BrainWeb (``brainweb_data.json``):

* T1 / T2: normal relaxation times at 3 T (mri-q.com compilation, largest
  studies), T2' from T2 and T2* (Magn Reson Imaging 2007, doi
  10.1016/j.mri.2007.03.005), fat T2' at 4.7 T (Appl Magn Reson 2016);
* proton density: gm 0.8, wm 0.7, csf 1.0, fat 1.0 (BrainWeb defaults);
* D (apparent diffusion coefficient) in 10^-3 mm^2/s: gm 0.83, wm 0.65,
  csf 3.19, fat 0.1.
"""
from __future__ import annotations

import numpy as np
import torch

#: tissue -> (PD, T1 s, T2 s, T2' s, D 10^-3 mm^2/s)
TISSUES = {
    "air": (0.0, 1.0, 0.1, 0.1, 0.0),
    "fat": (1.0, 0.37, 0.125, 0.012, 0.1),
    "bone": (0.0, 1.0, 0.1, 0.1, 0.0),
    "csf": (1.0, 4.16, 1.65, 0.059, 3.19),
    "gm": (0.8, 1.56, 0.083, 0.32, 0.83),
    "wm": (0.7, 0.83, 0.075, 0.18, 0.65),
}

# (tissue, centre x, centre y, semi-axis x, semi-axis y, angle deg), in units of the FOV,
# painted in order (later ellipses cover earlier ones)
_ELLIPSES = [
    ("fat", 0.0, 0.0, 0.40, 0.46, 0),
    ("bone", 0.0, 0.0, 0.37, 0.43, 0),
    ("csf", 0.0, 0.0, 0.345, 0.405, 0),
    ("gm", 0.0, 0.0, 0.33, 0.39, 0),
    ("wm", 0.0, 0.02, 0.27, 0.33, 0),
    ("gm", -0.10, 0.20, 0.05, 0.07, 20),  # deep grey matter islands
    ("gm", 0.10, 0.20, 0.05, 0.07, -20),
    ("csf", -0.06, -0.02, 0.035, 0.15, 15),  # lateral ventricles
    ("csf", 0.06, -0.02, 0.035, 0.15, -15),
    ("csf", 0.0, -0.30, 0.02, 0.04, 0),  # a sulcus
]


def label_map(resolution: int = 64, supersample: int = 4) -> np.ndarray:
    """Tissue index per voxel (majority of ``supersample``² sub-voxels), shape (res, res)."""
    n = resolution * supersample
    c = (np.arange(n) + 0.5) / n - 0.5
    x, y = np.meshgrid(c, c, indexing="ij")
    names = list(TISSUES)
    labels = np.zeros((n, n), dtype=np.int64)
    for tissue, cx, cy, ax, ay, angle in _ELLIPSES:
        a = np.deg2rad(angle)
        xr = (x - cx) * np.cos(a) + (y - cy) * np.sin(a)
        yr = -(x - cx) * np.sin(a) + (y - cy) * np.cos(a)
        labels[(xr / ax) ** 2 + (yr / ay) ** 2 <= 1] = names.index(tissue)
    sub = labels.reshape(resolution, supersample, resolution, supersample).transpose(0, 2, 1, 3)
    sub = sub.reshape(resolution, resolution, -1)
    counts = np.stack([(sub == i).sum(-1) for i in range(len(names))], -1)
    return counts.argmax(-1)


def brain_phantom(resolution: int = 64, fov: float = 0.22, slices: int = 1,
                  slice_thickness: float = 5e-3, B0_max: float = 0.0):
    """An ``MRzeroCore.VoxelGridPhantom`` of the procedural brain.

    resolution: voxels per in-plane axis; fov: field of view (m); slices: number
    of identical slices (a thin 3D slab if > 1); B0_max: peak off-resonance (Hz)
    of a smooth field (0: none).
    """
    import MRzeroCore as mr0

    labels = label_map(resolution)
    props = np.array(list(TISSUES.values()))[labels]  # (res, res, 5)
    maps = [torch.as_tensor(np.repeat(props[..., i][..., None], slices, 2), dtype=torch.float32)
            for i in range(5)]
    PD, T1, T2, T2dash, D = maps
    c = torch.linspace(-1, 1, resolution)
    x, y = torch.meshgrid(c, c, indexing="ij")
    B0 = (B0_max * torch.exp(-((x - 0.2) ** 2 + (y + 0.3) ** 2) / 0.2))[..., None].repeat(1, 1, slices)
    B1 = torch.ones(1, resolution, resolution, slices)
    coil = torch.ones(1, resolution, resolution, slices, dtype=torch.complex64)
    voxel_mm = fov / resolution * 1000
    affine = torch.diag(torch.tensor([voxel_mm, voxel_mm, slice_thickness * 1000, 1.0]))
    return mr0.VoxelGridPhantom(PD, T1, T2, T2dash, D, B0, B1, coil, affine)


def sim_data(phantom=None, resolution: int = 64, **kwargs):
    """SimData to simulate with: the built-in brain (default), a MRzeroCore phantom
    (VoxelGridPhantom / CustomVoxelPhantom), a ``.npz`` / ``.mat`` phantom path, or SimData."""
    import MRzeroCore as mr0

    if phantom is None:
        phantom = brain_phantom(resolution, **kwargs)
    if isinstance(phantom, str):
        phantom = (mr0.VoxelGridPhantom.load_mat(phantom) if phantom.endswith(".mat")
                   else mr0.VoxelGridPhantom.load(phantom))
    if isinstance(phantom, mr0.SimData):
        return phantom
    return phantom.build()
