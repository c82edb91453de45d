"""``calc_rf_bandwidth``: an RF pulse's bandwidth (Hz) from its waveform's spectrum.

The bandwidth is the distance between two points of a 10 Hz frequency grid: a
piecewise-constant function of the pulse parameters, without a gradient. It is
computed with numpy on the waveform's concrete values; a traced waveform is
pinned (guarded: a different pulse re-traces), so the number is always PyPulseq's.
"""
from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np

from ..tracer import Tracer, user_line
from .calc_rf_center import calc_rf_center
from .points_to_waveform import guard_equal

__all__ = ["calc_rf_bandwidth"]


def calc_rf_bandwidth(rf, cutoff=0.5, return_axis=False, return_spectrum=False):
    """Full width (Hz) of the spectrum above ``cutoff`` of its maximum; optionally the
    spectrum and the frequency axis (Hz), as in PyPulseq 1.4.2."""
    rf = SimpleNamespace(signal=_pinned(rf.signal), t=_pinned(rf.t))
    time_center, _ = calc_rf_center(rf)

    # resample the pulse to a reasonable time array
    dw = 10  # Hz
    dt = 1e-6  # for now, 1 MHz
    nn = round(1 / dw / dt)
    tt = np.arange(-math.floor(nn / 2), math.ceil(nn / 2) - 1) * dt

    rfs = np.interp(xp=rf.t - time_center, fp=rf.signal, x=tt)
    spectrum = np.fft.fftshift(np.fft.fft(np.fft.fftshift(rfs)))
    w = np.arange(-math.floor(nn / 2), math.ceil(nn / 2) - 1) * dw

    w1 = _find_flank(w, spectrum, cutoff)
    w2 = _find_flank(w[::-1], spectrum[::-1], cutoff)
    bw = w2 - w1

    if return_spectrum and not return_axis:
        return bw, spectrum
    if return_axis:
        return bw, spectrum, w
    return bw


def _pinned(x):
    """The concrete values of a waveform; a traced one is pinned by one guard."""
    if not isinstance(x, Tracer):
        return np.asarray(x)
    line = user_line()
    x.ctx.say_once(("calc_rf_bandwidth", line),
                   f"{line}: calc_rf_bandwidth() uses the pulse's waveform as it is now; its "
                   "parameters are pinned (a different pulse re-traces)")
    guard_equal(x, x.value)
    return np.array(x.value)


def _find_flank(x, f, c):
    m = np.max(np.abs(f))
    f = np.abs(f) / m
    i = np.argwhere(f > c)[0]
    return x[i]
