"""``points_to_waveform``: corner points (s, Hz/m) sampled on the gradient raster, traced.

PyPulseq samples the piecewise-linear waveform with ``np.interp`` at the raster
centres. :func:`interp` is ``np.interp`` over numbers or tracers: which segment
each sample falls into is a discrete choice (kept concrete and guarded); the
interpolated values are traced with numpy's arithmetic (``slope * (x - xp[j]) +
fp[j]``), so they equal ``np.interp`` bit for bit and carry gradients.
"""
from __future__ import annotations

import numpy as np

from .. import tracer as _tr
from ..tracer import Tracer, stack, value_of

__all__ = ["points_to_waveform"]


def as_array(x):
    """``np.asarray(x)`` for numbers, arrays and tracers; a list or tuple holding tracers
    (or tensors) becomes one traced vector instead of pinning its items."""
    if isinstance(x, Tracer):
        return x
    if isinstance(x, (list, tuple)):
        ctx = _tr.context()
        items = [ctx.lift(v) for v in x]
        if any(isinstance(v, Tracer) for v in items):
            return stack(items)
        return np.asarray(items)
    x = _tr.context().lift(x)  # a tensor becomes a traced vector
    return x if isinstance(x, (Tracer, np.ndarray)) else np.asarray(x)


def is_traced(*xs) -> bool:
    return any(isinstance(x, Tracer) for x in xs)


def guard_equal(traced_bools, observed) -> None:
    """Guard that a traced truth vector keeps the value it has now (one guard)."""
    if isinstance(traced_bools, Tracer):
        bool(np.all(traced_bools == np.asarray(observed)))


def interp(x, xp, fp):
    """``np.interp(x, xp, fp)`` (no ``left`` / ``right``) over numbers or tracers.

    Traced inputs need an increasing ``x`` and a strictly increasing ``xp``
    (what PyPulseq's callers pass); otherwise the values are pinned and numpy
    interpolates them.
    """
    if not is_traced(x, xp, fp):
        return np.interp(x, xp, fp)
    xv = np.asarray(value_of(x), dtype=float)
    xpv = np.asarray(value_of(xp), dtype=float)
    fpv = value_of(fp)
    if (xv.ndim != 1 or xpv.ndim != 1 or np.ndim(fpv) != 1 or len(xpv) != len(fpv)
            or len(xv) == 0 or len(xpv) == 0 or np.iscomplexobj(fpv)
            or not np.all(np.isfinite(xv)) or not np.all(np.isfinite(xpv))
            or not np.all(np.isfinite(fpv))
            or np.any(np.diff(xv) < 0) or np.any(np.diff(xpv) <= 0)):
        return _tr._leave_trace(np.interp, (x, xp, fp), {})
    if not isinstance(fp, Tracer):
        fp = np.asarray(fp, dtype=float)  # np.interp computes in float64
    n = len(xpv)
    if is_traced(xp):
        bool(np.all(np.diff(xp) > 0))  # the order of the corner points
    # j: the segment xp[j] <= x < xp[j+1] of each sample (-1 left of xp[0]); hit: x == xp[j]
    j = np.searchsorted(xpv, xv, side="right") - 1
    hit = (j >= 0) & (xpv[np.maximum(j, 0)] == xv)
    if is_traced(x, xp):
        for i in range(n):  # the samples on either side of each corner point stay there
            guard_equal(x >= xp[i], xv >= xpv[i])
            guard_equal(x == xp[i], xv == xpv[i])
    # runs of samples that use the same formula, in order
    category = np.where(hit | (j == n - 1), -2 - np.maximum(j, 0), j)
    pieces, start = [], 0
    for stop in list(np.flatnonzero(np.diff(category)) + 1) + [len(xv)]:
        c, k = int(category[start]), stop - start
        if c == -1:  # left of the first point: fp[0]
            pieces.append(fp[0] * np.ones(k))
        elif c <= -2:  # on a corner point (or right of the last): its value
            pieces.append(fp[-2 - c] * np.ones(k))
        else:  # inside segment c: numpy's slope formula
            slope = np.divide(fp[c + 1] - fp[c], xp[c + 1] - xp[c])
            pieces.append(slope * (x[start:stop] - xp[c]) + fp[c])
        start = stop
    return np.concatenate(pieces)


def points_to_waveform(amplitudes, grad_raster_time, times):
    """Waveform (Hz/m) at the raster centres between the first and last time point (s)."""
    amplitudes = as_array(amplitudes)
    times = as_array(times)
    if np.size(amplitudes) == 0:
        return np.array([0])
    start = int(round(np.min(times) / grad_raster_time))
    stop = int(round(np.max(times) / grad_raster_time))
    grd = np.arange(start=start, stop=stop) * grad_raster_time
    return interp(grd + grad_raster_time / 2, times, amplitudes)
