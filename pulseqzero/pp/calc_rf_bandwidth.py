"""``calc_rf_bandwidth``: an RF pulse's bandwidth (Hz) from its waveform's spectrum.

The bandwidth is the distance between two points of a 10 Hz frequency grid: a
piecewise-constant function of the pulse parameters, without a gradient. It is
computed with numpy on the waveform's concrete values; a traced waveform is
pinned (guarded: a different pulse re-traces), so the number is always PyPulseq's.
"""
from __future__ import annotations

import math
import warnings
from types import SimpleNamespace

import numpy as np

from ..tracer import Tracer, user_line
from .calc_rf_center import calc_rf_center
from .points_to_waveform import guard_equal
from .version import API_15

__all__ = ["calc_rf_bandwidth"]


def bandwidth(rf, cutoff=0.5, return_axis=False, return_spectrum=False, dw=10, dt=None):
    """Full width (Hz) of the spectrum above ``cutoff`` of its maximum; optionally the
    spectrum and the frequency axis (Hz), as in PyPulseq (1.4.2: a 10 Hz grid and 1 us steps;
    1.5: ``dw`` Hz and ``dt`` s, default the RF raster, and the pulse's offsets)."""
    signal, t = _pinned(rf.signal), _pinned(rf.t)
    if API_15:
        from .opts import Opts
        if dt is None:
            dt = Opts().rf_raster_time
        # 1.5 takes the centre from the event (its `center`) when it has one
        time_center, _ = calc_rf_center(rf)
        time_center = _pinned(time_center)
        freq_ppm = _pinned(rf.freq_ppm)
        if abs(freq_ppm) > np.finfo(float).eps:
            warnings.warn("calc_rf_bandwidth(): relying on the system properties, like B0 and "
                          "gamma, stored in the global environment by calling pypulseq.Opts()")
            system = Opts()
            full_freq_offset = (_pinned(rf.freq_offset)
                                + freq_ppm * 1e-06 * system.gamma * system.B0)
        else:
            full_freq_offset = _pinned(rf.freq_offset)
    else:
        time_center, _ = calc_rf_center(SimpleNamespace(signal=signal, t=t))
        dw, dt = 10, 1e-6  # Hz; for now, 1 MHz

    # resample the pulse to a reasonable time array
    nn = round(1 / dw / dt)
    tt = np.arange(-math.floor(nn / 2), math.ceil(nn / 2) - 1) * dt

    if API_15:
        # PyPulseq 1.5's modulation, as written there (its frequency term is a real exponent)
        signal = signal * np.exp(1j * _pinned(rf.phase_offset)
                                 + 2 * math.pi * full_freq_offset * t)
    rfs = np.interp(xp=t - time_center, fp=signal, x=tt)
    spectrum = np.fft.fftshift(np.fft.fft(np.fft.fftshift(rfs)))
    w = np.arange(-math.floor(nn / 2), math.ceil(nn / 2) - 1) * dw

    w1 = _find_flank(w, spectrum, cutoff)
    w2 = _find_flank(w[::-1], spectrum[::-1], cutoff)
    bw = w2 - w1

    if return_spectrum and not return_axis:
        return bw, spectrum
    if API_15 and return_axis and not return_spectrum:
        return bw, w
    if return_axis:
        return bw, spectrum, w
    return bw


if API_15:
    def calc_rf_bandwidth(rf, cutoff=0.5, return_axis=False, return_spectrum=False, dw=10,
                          dt=None):
        """The RF pulse's bandwidth (Hz), PyPulseq 1.5 (see ``bandwidth``)."""
        return bandwidth(rf, cutoff, return_axis, return_spectrum, dw, dt)
else:
    def calc_rf_bandwidth(rf, cutoff=0.5, return_axis=False, return_spectrum=False):
        """The RF pulse's bandwidth (Hz), PyPulseq 1.4.2 (see ``bandwidth``)."""
        return bandwidth(rf, cutoff, return_axis, return_spectrum)


def _pinned(x):
    """The concrete values of a waveform; a traced one is pinned by one guard."""
    if not isinstance(x, Tracer):
        return x if isinstance(x, (int, float)) else np.asarray(x)
    line = user_line()
    x.ctx.say_once(("calc_rf_bandwidth", line),
                   f"{line}: calc_rf_bandwidth() uses the pulse's waveform as it is now; its "
                   "parameters are pinned (a different pulse re-traces)")
    guard_equal(x, x.value)
    return np.array(x.value) if np.ndim(x.value) else x.value


def _find_flank(x, f, c):
    m = np.max(np.abs(f))
    f = np.abs(f) / m
    i = np.argwhere(f > c)[0]
    return x[i]
