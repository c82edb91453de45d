"""Phantoms to simulate with: a procedural brain (any resolution, 2D or a thin 3D
slab, no download), MRzeroCore ``.npz`` / ``.mat`` phantoms by path, and
:func:`sim_data`, the one call that turns any of them into ``MRzeroCore.SimData``.

The brain is a handful of ellipses (scalp fat, skull, CSF around the brain,
cortex, white matter, deep grey matter, ventricles, a sulcus); the tissue
values are the 3 T values MRzeroCore ships for BrainWeb (``brainweb_data.json``):

* T1 / T2: normal relaxation times at 3 T (mri-q.com compilation, largest
  studies), T2' from T2 and T2* (Magn Reson Imaging 2007, doi
  10.1016/j.mri.2007.03.005), fat T2' at 4.7 T (Appl Magn Reson 2016);
* proton density: gm 0.8, wm 0.7, csf 1.0, fat 1.0 (BrainWeb defaults);
* D (apparent diffusion coefficient) in 10^-3 mm^2/s: gm 0.83, wm 0.65,
  csf 3.19, fat 0.1.

Array axes are (x, y) or (x, y, z), the order MRzeroCore uses; ``x`` is the
first index. Plot with ``imshow(image.T, origin="lower")`` to see x to the
right and y up.
"""
from __future__ import annotations

from pathlib import Path

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

#: the order of the maps in :data:`TISSUES` values
PROPERTIES = ("PD", "T1", "T2", "T2dash", "D")

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

#: half the height (m) of the head ellipsoid a thin 3D slab is cut from
HEAD_HALF_HEIGHT = 0.09


def _shape2(resolution) -> tuple:
    """``64`` or ``(64, 48)`` -> (nx, ny)."""
    if isinstance(resolution, (int, np.integer)):
        return int(resolution), int(resolution)
    nx, ny = resolution
    return int(nx), int(ny)


def _slice_positions(slices: int, slice_thickness: float) -> np.ndarray:
    """z (m) of the centre of each slice of a slab centred on z = 0."""
    return (np.arange(slices) - (slices - 1) / 2) * slice_thickness


def label_map(resolution=64, supersample: int = 4, z: float = 0.0, fov=0.22) -> np.ndarray:
    """Tissue index (into ``list(TISSUES)``) per voxel, shape (nx, ny).

    resolution: voxels per axis, an int or (nx, ny); each voxel takes the tissue
    of the majority of its ``supersample``² sub-voxels. z: height (m) of the
    slice above the centre of the head; off-centre slices of the head
    ellipsoid are smaller (the structures shrink with it). fov: field of view
    (m, one number or (x, y)), only used with ``z``.
    """
    nx, ny = _shape2(resolution)
    fx, fy = (fov, fov) if np.ndim(fov) == 0 else fov
    # cross-section of an ellipsoid: semi-axes scale with sqrt(1 - (z/c)^2)
    scale = np.sqrt(max(1.0 - (z / HEAD_HALF_HEIGHT) ** 2, 0.0))
    cx_ = (np.arange(nx * supersample) + 0.5) / (nx * supersample) - 0.5
    cy_ = (np.arange(ny * supersample) + 0.5) / (ny * supersample) - 0.5
    # ellipses are given in units of a square FOV; keep them round on a rectangular one
    x, y = np.meshgrid(cx_ * fx / max(fx, fy), cy_ * fy / max(fx, fy), indexing="ij")
    names = list(TISSUES)
    labels = np.zeros(x.shape, dtype=np.int64)
    for tissue, cx, cy, ax, ay, angle in _ELLIPSES:
        if scale == 0:
            break
        a = np.deg2rad(angle)
        xr = (x - cx * scale) * np.cos(a) + (y - cy * scale) * np.sin(a)
        yr = -(x - cx * scale) * np.sin(a) + (y - cy * scale) * np.cos(a)
        labels[(xr / (ax * scale)) ** 2 + (yr / (ay * scale)) ** 2 <= 1] = names.index(tissue)
    sub = labels.reshape(nx, supersample, ny, supersample).transpose(0, 2, 1, 3)
    sub = sub.reshape(nx, ny, -1)
    counts = np.stack([(sub == i).sum(-1) for i in range(len(names))], -1)
    return counts.argmax(-1)


def label_volume(resolution=64, slices: int = 1, slice_thickness: float = 5e-3,
                 fov=0.22, supersample: int = 4) -> np.ndarray:
    """Tissue index per voxel of a slab of ``slices`` slices, shape (nx, ny, slices)."""
    return np.stack([label_map(resolution, supersample, z, fov)
                     for z in _slice_positions(slices, slice_thickness)], -1)


def tissue_masks(resolution=64, slices: int = 1, slice_thickness: float = 5e-3,
                 fov=0.22) -> dict:
    """Tissue name -> boolean mask, shape (nx, ny) (or (nx, ny, slices) if slices > 1)."""
    labels = label_volume(resolution, slices, slice_thickness, fov)
    if slices == 1:
        labels = labels[..., 0]
    return {name: labels == i for i, name in enumerate(TISSUES)}


def tissue_maps(resolution=64, slices: int = 1, slice_thickness: float = 5e-3,
                fov=0.22) -> dict:
    """Property name (``PD``, ``T1`` s, ``T2`` s, ``T2dash`` s, ``D``) -> map (numpy float64).

    Shape (nx, ny) for one slice, (nx, ny, slices) for a slab. ``maps["PD"]``
    is what an ideal proton-density image of the phantom looks like.
    """
    labels = label_volume(resolution, slices, slice_thickness, fov)
    if slices == 1:
        labels = labels[..., 0]
    props = np.array(list(TISSUES.values()))[labels]
    return {name: props[..., i] for i, name in enumerate(PROPERTIES)}


def brain_phantom(resolution=64, fov=0.22, slices: int = 1,
                  slice_thickness: float = 5e-3, B0_max: float = 0.0):
    """An ``MRzeroCore.VoxelGridPhantom`` of the procedural brain.

    resolution: voxels per in-plane axis (int or (nx, ny)); fov: field of view
    (m, one number or (x, y)); slices: number of slices of a thin 3D slab
    (each ``slice_thickness`` m thick, cut from the head ellipsoid so the
    outer slices are smaller); B0_max: peak off-resonance (Hz) of a smooth
    field (0: none).
    """
    import MRzeroCore as mr0

    nx, ny = _shape2(resolution)
    fx, fy = (float(fov), float(fov)) if np.ndim(fov) == 0 else map(float, fov)
    maps = tissue_maps((nx, ny), slices, slice_thickness, (fx, fy))
    if slices == 1:
        maps = {k: v[..., None] for k, v in maps.items()}
    PD, T1, T2, T2dash, D = (torch.as_tensor(maps[k], dtype=torch.float32) for k in PROPERTIES)
    x, y = torch.meshgrid(torch.linspace(-1, 1, nx), torch.linspace(-1, 1, ny), indexing="ij")
    B0 = B0_max * torch.exp(-((x - 0.2) ** 2 + (y + 0.3) ** 2) / 0.2)
    B0 = B0[..., None].repeat(1, 1, slices)
    B1 = torch.ones(1, nx, ny, slices)
    coil = torch.ones(1, nx, ny, slices, dtype=torch.complex64)
    affine = torch.diag(torch.tensor([fx / nx * 1000, fy / ny * 1000, slice_thickness * 1000, 1.0]))
    return mr0.VoxelGridPhantom(PD, T1, T2, T2dash, D, B0, B1, coil, affine)


def save_npz(path, resolution=64, fov=0.22, slices: int = 1, slice_thickness: float = 5e-3) -> Path:
    """Write the procedural brain in MRzeroCore's ``.npz`` format (``VoxelGridPhantom.load``)."""
    maps = tissue_maps(resolution, slices, slice_thickness, fov)
    if slices == 1:
        maps = {k: v[..., None] for k, v in maps.items()}
    fx, fy = (fov, fov) if np.ndim(fov) == 0 else fov
    path = Path(path)
    np.savez(path, PD_map=maps["PD"], T1_map=maps["T1"], T2_map=maps["T2"],
             T2dash_map=maps["T2dash"], D_map=maps["D"], B0_map=np.zeros_like(maps["PD"]),
             B1_map=np.ones_like(maps["PD"]), FOV=np.array([fx, fy, slices * slice_thickness]))
    return path


def load_phantom(path, resolution=None, slice_index=None):
    """A ``VoxelGridPhantom`` from a MRzeroCore ``.npz`` (or ``.mat``) file.

    slice_index: keep only this slice (int) or these slices (list) of a 3D
    phantom; resolution: resample in-plane to this many voxels (int or
    (nx, ny)) with ``VoxelGridPhantom.interpolate``.
    """
    import MRzeroCore as mr0

    path = str(path)
    if not Path(path).exists():
        raise FileNotFoundError(f"no phantom file {path!r}")
    phantom = (mr0.VoxelGridPhantom.load_mat(path) if path.endswith(".mat")
               else mr0.VoxelGridPhantom.load(path))
    if slice_index is not None:
        phantom = phantom.slices([slice_index] if np.ndim(slice_index) == 0 else list(slice_index))
    if resolution is not None:
        nx, ny = _shape2(resolution)
        phantom = phantom.interpolate(nx, ny, phantom.PD.shape[2])
    return phantom


def sim_data(phantom=None, resolution=None, device=None, **kwargs):
    """``MRzeroCore.SimData`` to simulate with, in one call.

    phantom: None (the procedural brain at ``resolution``, default 64; extra
    keyword arguments go to :func:`brain_phantom`: ``fov``, ``slices``,
    ``slice_thickness``, ``B0_max``), a path to a MRzeroCore ``.npz`` / ``.mat``
    phantom (``resolution`` resamples it; ``slice_index=`` picks slices), a
    ``VoxelGridPhantom`` / ``CustomVoxelPhantom`` (anything with ``.build()``),
    or SimData (returned as is). device: e.g. ``"cuda"`` to move the data there.
    """
    import MRzeroCore as mr0

    if phantom is None:
        phantom = brain_phantom(64 if resolution is None else resolution, **kwargs)
    elif isinstance(phantom, (str, Path)):
        phantom = load_phantom(phantom, resolution, kwargs.pop("slice_index", None))
    if isinstance(phantom, mr0.SimData):
        data = phantom
    elif hasattr(phantom, "build"):
        data = phantom.build()
    else:
        raise TypeError(f"cannot simulate on {type(phantom).__name__}: give None (the built-in "
                        "brain), a .npz/.mat path, a MRzeroCore phantom or SimData")
    if device is not None and torch.device(device).type == "cuda" and data.device.type != "cuda":
        data = data.cuda()
    return data
