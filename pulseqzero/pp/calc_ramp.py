"""``calc_ramp``, PyPulseq 1.4.2's algorithm over numbers or tracers.

A faithful port, including what PyPulseq 1.4.2 does in practice:

* ``max_grad`` / ``max_slew`` are replaced by the system's limits unless
  their first entry is <= 0 (``np.all(np.where(limit <= 0))``), so the
  per-axis mode (3 limits) is only reached with such limits, and there the
  first ``if`` on a 3-vector raises numpy's "truth value ... is ambiguous".
* ``__joinleft0`` passes its arguments to ``__joinright0`` positionally in
  the wrong order (a gradient vector lands in ``use_points``): every attempt
  with one or more intermediate points raises the same ``ValueError``.

So the result is ``(zeros((3, 0)), success)`` when the two ends connect
directly within the limits, ``(zeros((3, 0)), 0)`` when an end gradient
already exceeds ``max_grad`` (or ``max_points < 0``), and numpy's
``ValueError`` otherwise — the same here as in PyPulseq (with a single k-space
row, [1, 2], the misplaced argument is a 1-vector and both recurse until
Python's ``RecursionError``). The limit checks are traced comparisons
(guards); the limits themselves are structural and pinned when traced.
"""
from __future__ import annotations

import numpy as np

from ..tracer import Tracer, stack, value_of
from .opts import as_opts

__all__ = ["calc_ramp"]


def calc_ramp(k0, k_end, max_grad=np.zeros(0), max_points: int = 500, max_slew=np.zeros(0),
              system=None):
    """Join ``k0`` and ``k_end`` (k-space points, 1/m, shape [3, 2]: two points each) in
    minimal time within the gradient (Hz/m) and slew (Hz/m/s) limits.

    Returns ``(k_out, success)``: the connecting k-space points ([3, N]) and
    whether the ends could be joined (see the module docstring for what
    PyPulseq 1.4.2 actually computes).
    """
    system = as_opts(system)

    def inside_limits(G, S):
        # G: the three gradient columns (G0, connection, G_end), S: the two slew columns;
        # numpy sums each axis over the columns, in column order
        grad2 = np.square(G[0]) + np.square(G[1]) + np.square(G[2])
        slew2 = np.square(S[0]) + np.square(S[1])
        ok = bool(np.max(grad2) <= np.square(max_grad)) and bool(
            np.max(slew2) <= np.square(max_slew))
        return np.bool_(ok)

    def joinleft0(k0, k_end, use_points, G0, G_end):
        if _is_zero(use_points):
            G = [G0, (k_end - k0) / grad_raster, G_end]
            S = [(G[1] - G[0]) / grad_raster, (G[2] - G[1]) / grad_raster]
            return inside_limits(G, S), _Columns(3, [])

        dk = (k_end - k0) / (use_points + 1)
        kopt = k0 + dk
        Gopt = (kopt - k0) / grad_raster
        Sopt = (Gopt - G0) / grad_raster

        okGopt = np.sum(np.square(Gopt)) <= np.square(max_grad)
        okSopt = np.sum(np.square(Sopt)) <= np.square(max_slew)

        if okGopt and okSopt:
            k_left = kopt
        else:
            a = np.multiply(max_grad, grad_raster)
            b = np.multiply(max_slew, grad_raster**2)

            dkprol = G0 * grad_raster
            dkconn = dk - dkprol

            ksl = k0 + dkprol + dkconn / np.linalg.norm(dkconn) * b
            Gsl = (ksl - k0) / grad_raster
            okGsl = np.sum(np.square(Gsl)) <= np.square(max_grad)

            kgl = k0 + np.multiply(dk / np.linalg.norm(dk), a)
            Ggl = (kgl - k0) / grad_raster
            Sgl = (Ggl - G0) / grad_raster
            okSgl = np.sum(np.square(Sgl)) <= np.square(max_slew)

            if okGsl:
                k_left = ksl
            elif okSgl:
                k_left = kgl
            else:
                c = np.linalg.norm(dkprol)
                c1 = np.divide(np.square(a) - np.square(b) + np.square(c), (2 * c))
                h = np.sqrt(np.square(a) - np.square(c1))
                kglsl = k0 + np.multiply(c1, np.divide(dkprol, np.linalg.norm(dkprol)))
                projondkprol = (kgl * dkprol) * (dkprol / np.linalg.norm(dkprol))
                hdirection = kgl - projondkprol
                kglsl = kglsl + h * hdirection / np.linalg.norm(hdirection)
                k_left = kglsl

        # PyPulseq 1.4.2 passes these positionally in the wrong order (see the module docstring)
        success, k = joinright0(k_left, k_end, (k_left - k0) / grad_raster, G_end, use_points - 1)
        return success, _Columns(len(k_left), [k_left]).hstack(k)

    def joinright0(k0, k_end, use_points, G0, G_end):
        if _is_zero(use_points):
            G = [G0, (k_end - k0) / grad_raster, G_end]
            S = [(G[1] - G[0]) / grad_raster, (G[2] - G[1]) / grad_raster]
            return inside_limits(G, S), _Columns(3, [])

        dk = (k0 - k_end) / (use_points + 1)
        kopt = k_end + dk
        Gopt = (k_end - kopt) / grad_raster
        Sopt = (G_end - Gopt) / grad_raster

        okGopt = np.sum(np.square(Gopt)) <= np.square(max_grad)
        okSopt = np.sum(np.square(Sopt)) <= np.square(max_slew)

        if okGopt and okSopt:
            k_right = kopt
        else:
            a = np.multiply(max_grad, grad_raster)
            b = np.multiply(max_slew, grad_raster**2)

            dkprol = -G_end * grad_raster
            dkconn = dk - dkprol

            ksl = k_end + dkprol + dkconn / np.linalg.norm(dkconn) * b
            Gsl = (k_end - ksl) / grad_raster
            okGsl = np.sum(np.square(Gsl)) <= np.square(max_grad)

            kgl = k_end + np.multiply(dk / np.linalg.norm(dk), a)
            Ggl = (k_end - kgl) / grad_raster
            Sgl = (G_end - Ggl) / grad_raster
            okSgl = np.sum(np.square(Sgl)) <= np.square(max_slew)

            if okGsl:
                k_right = ksl
            elif okSgl:
                k_right = kgl
            else:
                c = np.linalg.norm(dkprol)
                c1 = np.divide(np.square(a) - np.square(b) + np.square(c), (2 * c))
                h = np.sqrt(np.square(a) - np.square(c1))
                kglsl = k_end + np.multiply(c1, np.divide(dkprol, np.linalg.norm(dkprol)))
                projondkprol = (kgl * dkprol) * (dkprol / np.linalg.norm(dkprol))
                hdirection = kgl - projondkprol
                kglsl = kglsl + h * hdirection / np.linalg.norm(hdirection)
                k_right = kglsl

        success, k = joinleft0(k0=k0, k_end=k_right, G0=G0,
                               G_end=(k_end - k_right) / grad_raster, use_points=use_points - 1)
        return success, k.hstack(_Columns(len(k_right), [k_right]))

    # =========
    # MAIN FUNCTION
    # =========
    # the limits decide the mode and the branches: structural, pinned when traced
    max_grad, max_slew = _pinned(max_grad), _pinned(max_slew)
    if np.all(np.where(max_grad <= 0)):
        max_grad = [system.max_grad]
    if np.all(np.where(max_slew <= 0)):
        max_slew = [system.max_slew]

    grad_raster = system.grad_raster_time

    if len(max_grad) == 1 and len(max_slew) == 1:
        mode = 0
        max_grad, max_slew = max_grad[0], max_slew[0]  # PyPulseq broadcasts a 1-element array
    elif len(max_grad) == 3 and len(max_slew) == 3:
        mode = 1
    else:
        raise ValueError("Input value max grad or max slew in invalid format.")

    G0 = (_column(k0, 1) - _column(k0, 0)) / grad_raster
    G_end = (_column(k_end, 1) - _column(k_end, 0)) / grad_raster
    k0 = _column(k0, 1)
    k_end = _column(k_end, 0)

    success = 0
    k_out = _Columns(3, [])
    use_points = 0

    while success == 0 and use_points <= max_points:
        if mode == 0:
            if np.linalg.norm(G0) > max_grad or np.linalg.norm(G_end) > max_grad:
                break
            success, k_out = joinleft0(k0=k0, k_end=k_end, G0=G0, G_end=G_end,
                                       use_points=use_points)
        else:
            # PyPulseq tests 3-vectors with `if`: numpy refuses (the same error here)
            bool(np.abs(value_of(G0)) > np.abs(max_grad))
            raise NotImplementedError("calc_ramp with per-axis limits")  # not reached
        use_points += 1

    return k_out.matrix(), success


class _Columns:
    """A k-space matrix as its columns (vectors that may be traced): ``rows`` x ``len(cols)``."""

    def __init__(self, rows: int, cols: list):
        self.rows, self.cols = rows, cols

    def __len__(self):  # numpy's len() of a matrix: its number of rows
        return self.rows

    def hstack(self, other: "_Columns") -> "_Columns":
        if self.rows != other.rows:  # numpy's own error for these shapes
            np.hstack((np.zeros((self.rows, len(self.cols))),
                       np.zeros((other.rows, len(other.cols)))))
        return _Columns(self.rows, self.cols + other.cols)

    def matrix(self):
        if not self.cols:
            return np.zeros((self.rows, 0))
        return stack([stack([col[r] for col in self.cols]) for r in range(self.rows)])


def _is_zero(use_points) -> bool:
    """``if use_points == 0`` with numpy's truth rules (a vector here is PyPulseq's bug)."""
    if np.ndim(use_points) == 0:
        return bool(use_points == 0)
    concrete = np.asarray(value_of(use_points)) == 0
    bool(concrete)  # numpy raises for more than one element, as in PyPulseq
    return bool((use_points == 0)[0]) if isinstance(use_points, Tracer) else bool(concrete)


def _column(k, j):
    """``k[:, j]``: a vector, traced when ``k`` holds traced values."""
    if isinstance(k, Tracer):
        return stack([k[r][j] for r in range(len(k))])
    if isinstance(k, (list, tuple)) and any(
            isinstance(x, Tracer) for row in k
            for x in (row if isinstance(row, (list, tuple)) else [row])):
        return stack([row[j] for row in k])
    return k[:, j]


def _pinned(limit):
    """A limit as a concrete value (guarded when traced): it decides PyPulseq's branches."""
    if isinstance(limit, Tracer):
        return np.asarray(limit) if limit.ndim else float(limit)
    if isinstance(limit, (list, tuple)) and any(isinstance(x, Tracer) for x in limit):
        return type(limit)(float(x) if isinstance(x, Tracer) else x for x in limit)
    return limit
