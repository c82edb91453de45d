"""``make_extended_trapezoid``, PyPulseq's algorithm (1.4.2 or 1.5) over numbers or tracers.

PyPulseq 1.5 checks the slew and amplitude of the result (``eps`` tolerance)."""
from __future__ import annotations

import numpy as np

from .events import Event, recorded
from .make_arbitrary_grad import make_arbitrary_grad
from .opts import as_opts
from .points_to_waveform import as_array, points_to_waveform
from .version import API_15
from .helpers import eps
from .make_arbitrary_grad import _largest

__all__ = ["make_extended_trapezoid"]


def extended_trapezoid(channel, amplitudes=np.zeros(1), convert_to_arbitrary=False,
                       max_grad=0, max_slew=0, skip_check=False, system=None,
                       times=np.zeros(1)) -> Event:
    """Piecewise-linear gradient through ``amplitudes`` (Hz/m) at ``times`` (s, on the raster).

    ``convert_to_arbitrary`` samples it on the raster centres (an arbitrary gradient).
    Times and amplitudes may be lists holding traced values.
    """
    system = as_opts(system)
    if channel not in ["x", "y", "z"]:
        raise ValueError(f"Invalid channel. Must be one of 'x', 'y' or 'z'. Passed: {channel}")

    times = as_array(times)
    amplitudes = as_array(amplitudes)

    if len(times) != len(amplitudes):
        raise ValueError("Times and amplitudes must have the same length.")
    if np.all(times == 0):
        raise ValueError("At least one of the given times must be non-zero")
    if np.any(np.diff(times) <= 0):
        raise ValueError("Times must be in ascending order and all times must be distinct")
    raster = system.grad_raster_time
    if abs(round(times[-1] / raster) * raster - times[-1]) > eps:
        raise ValueError("The last time point must be on a gradient raster")
    if skip_check is False and times[0] > 0 and amplitudes[0] != 0:
        raise ValueError("If first amplitude of a gradient is non-zero, it must connect to "
                         "previous block")

    if max_grad <= 0:
        max_grad = system.max_grad
    if max_slew <= 0:
        max_slew = system.max_slew

    if convert_to_arbitrary:
        # represent the extended trapezoid on the regularly sampled time grid
        waveform = points_to_waveform(times=times, amplitudes=amplitudes, grad_raster_time=raster)
        grad = make_arbitrary_grad(channel=channel, waveform=waveform, system=system,
                                   max_slew=max_slew, max_grad=max_grad, delay=times[0])
    else:
        # keep the original, possibly irregular sampling
        if np.any(np.abs(np.round(times / raster) * raster - times) > eps):
            raise ValueError('All time points must be on a gradient raster or '
                             '"convert_to_arbitrary" option must be used.')
        delay = round(times[0] / raster) * raster
        tt = times - delay
        grad = Event(type="grad", channel=channel, waveform=amplitudes, delay=delay, tt=tt,
                     shape_dur=tt[-1])
        # ndarray.sum() in pypulseq: np.sum is the same pairwise sum
        grad.__dict__["area"] = 0.5 * np.sum((tt[1:] - tt[:-1]) * (amplitudes[1:] + amplitudes[:-1]))
    grad.__dict__.update(first=amplitudes[0], last=amplitudes[-1])
    if API_15:
        slew = _diff(grad.waveform) / _diff(grad.tt)
        if _largest(abs(slew)) > max_slew * (1 + eps):
            raise ValueError(f"Slew rate violation {_largest(abs(slew)) / max_slew * 100:.2f}%")
        if _largest(abs(grad.waveform)) > max_grad + eps:
            raise ValueError("Gradient amplitude violation "
                             f"{_largest(abs(grad.waveform)) / max_grad * 100:.2f}%")
    return grad


def _diff(x):
    """``np.diff`` of a vector, as a traced op on a tracer."""
    return x[1:] - x[:-1]


if API_15:
    @recorded()
    def make_extended_trapezoid(channel, amplitudes=None, convert_to_arbitrary=False,
                                max_grad=0.0, max_slew=0.0, skip_check=False, system=None,
                                times=None) -> Event:
        """Piecewise-linear gradient, PyPulseq 1.5 (see ``extended_trapezoid``)."""
        return extended_trapezoid(channel, np.zeros(1) if amplitudes is None else amplitudes,
                                  convert_to_arbitrary, max_grad, max_slew, skip_check, system,
                                  np.zeros(1) if times is None else times)
else:
    @recorded()
    def make_extended_trapezoid(channel, amplitudes=np.zeros(1), convert_to_arbitrary=False,
                                max_grad=0, max_slew=0, skip_check=False, system=None,
                                times=np.zeros(1)) -> Event:
        """Piecewise-linear gradient, PyPulseq 1.4.2 (see ``extended_trapezoid``)."""
        return extended_trapezoid(channel, amplitudes, convert_to_arbitrary, max_grad, max_slew,
                                  skip_check, system, times)
