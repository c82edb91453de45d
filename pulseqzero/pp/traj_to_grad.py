"""``traj_to_grad``, PyPulseq 1.4.2's finite differences over numbers or tracers.

A traced trajectory (a vector parameter, or a list of traced numbers) gives a
traced gradient and slew rate: differentiable w.r.t. the k-space points.
"""
from __future__ import annotations

import numpy as np

from .. import tracer as _tr
from ..tracer import Tracer, stack
from .opts import Opts

__all__ = ["traj_to_grad"]


def traj_to_grad(k, raster_time=None):
    """Gradient (Hz/m) and slew rate (Hz/m/s) of the k-space trajectory ``k`` (1/m).

    ``k``'s last axis is time, sampled every ``raster_time`` s (default: the
    default system's gradient raster). The gradient lies between k-space points
    (one sample fewer), the slew rate on the gradient samples (averaged inside,
    one-sided at both ends).
    """
    if raster_time is None:
        raster_time = Opts.default.grad_raster_time
    k = _tr.context().lift(k)
    if isinstance(k, (list, tuple)) and any(isinstance(x, Tracer) for x in k):
        k = stack(k)
    traced = isinstance(k, Tracer) or isinstance(raster_time, Tracer)
    if traced and np.ndim(k) >= 1 and np.shape(k)[-1] <= 2:
        # fewer than three points: no slew rate (numpy's error for `sr0[..., 0]`)
        raise IndexError(f"index 0 is out of bounds for axis {np.ndim(k) - 1} with size 0")
    if traced and np.ndim(k) > 1:  # one trajectory per row, traced row by row
        if len(k) == 0:  # nothing to trace
            return traj_to_grad(np.asarray(_tr.value_of(k)), _tr.value_of(raster_time))
        rows = [traj_to_grad(k[i], raster_time) for i in range(len(k))]
        return stack([g for g, _ in rows]), stack([sr for _, sr in rows])

    # Compute finite difference for gradients in Hz/m
    g = (_last(k, slice(1, None)) - _last(k, slice(None, -1))) / raster_time
    # Compute the slew rate
    sr0 = (_last(g, slice(1, None)) - _last(g, slice(None, -1))) / raster_time

    # Gradient is now sampled between k-space points whilst the slew rate is between gradient points
    if isinstance(sr0, Tracer):
        inner = 0.5 * (sr0[:-1] + sr0[1:])
        sr = np.concatenate((sr0[:1], inner, sr0[-1:]))
    else:
        sr = np.zeros(sr0.shape[:-1] + (sr0.shape[-1] + 1,))
        sr[..., 0] = sr0[..., 0]
        sr[..., 1:-1] = 0.5 * (sr0[..., :-1] + sr0[..., 1:])
        sr[..., -1] = sr0[..., -1]

    return g, sr


def _last(x, index: slice):
    """``x[..., index]``; a traced array here is a vector."""
    if isinstance(x, Tracer):
        if x.ndim == 0:
            raise IndexError("too many indices for array: array is 0-dimensional, but 1 were "
                             "indexed")
        return x[index]
    return x[..., index]
