"""``make_arbitrary_grad``, PyPulseq's algorithm (1.4.2 or 1.5) over numbers or tracers.

PyPulseq 1.5 adds explicit ``first`` / ``last`` amplitudes, ``oversampling`` (samples on a
half-raster grid: at the raster edges and centres) and the ``area`` attribute, and checks
the slew of the ramps from ``first`` and to ``last`` too.
"""
from __future__ import annotations

import numpy as np

from ..tracer import Tracer, value_of
from .events import Event, recorded
from .helpers import eps
from .opts import as_opts
from .points_to_waveform import as_array
from .version import API_15

__all__ = ["make_arbitrary_grad"]


def _largest(x):
    """PyPulseq's builtin ``max(x)`` over an array; one traced op (``np.max``) on a tracer.

    The builtin's errors on an empty or a 0-d array are PyPulseq's, so they are kept.
    """
    if isinstance(x, Tracer):
        if np.ndim(value_of(x)) == 0:
            raise TypeError("'numpy.float64' object is not iterable")
        if np.size(value_of(x)) == 0:
            raise ValueError("max() arg is an empty sequence")
        return np.max(x)
    return max(x)


def arbitrary_grad_14(channel, waveform, delay=0, max_grad=0, max_slew=0, system=None) -> Event:
    """Gradient event from ``waveform`` (Hz/m) sampled at the gradient raster centres (1.4.2).

    ``first`` / ``last`` extrapolate the waveform by half a raster step to its ends.
    """
    system = as_opts(system)
    if channel not in ["x", "y", "z"]:
        raise ValueError(f"Invalid channel. Must be one of x, y or z. Passed: {channel}")

    if max_grad <= 0:
        max_grad = system.max_grad
    if max_slew <= 0:
        max_slew = system.max_slew

    g = waveform
    samples = as_array(g)  # pypulseq's np.subtract turns a list into an array here
    slew = np.squeeze(np.subtract(samples[1:], samples[:-1]) / system.grad_raster_time)
    if isinstance(slew, Tracer) and np.ndim(slew.value) == 1 and slew.size == 1:
        raise TypeError("'numpy.float64' object is not iterable")  # squeezed to a scalar
    if _largest(abs(slew)) >= max_slew:
        raise ValueError(f"Slew rate violation {_largest(abs(slew)) / max_slew * 100}")
    if isinstance(g, (list, tuple)):  # pypulseq: max(abs(g)) on the list itself
        raise TypeError(f"bad operand type for abs(): '{type(g).__name__}'")
    if _largest(abs(g)) >= max_grad:
        raise ValueError(f"Gradient amplitude violation {_largest(abs(g)) / max_grad * 100}")

    return Event(
        type="grad", channel=channel, waveform=g, delay=delay,
        tt=(np.arange(1, len(g) + 1) - 0.5) * system.grad_raster_time,
        shape_dur=len(g) * system.grad_raster_time,
        first=(3 * g[0] - g[1]) * 0.5,  # extrapolate by 1/2 gradient raster
        last=(g[-1] * 3 - g[-2]) * 0.5,
    )


def _concatenate_slew(pre, waveform, post):
    """PyPulseq 1.5's ``np.concatenate([[pre], np.diff(waveform), [post]])``, traced."""
    if any(isinstance(v, Tracer) for v in (pre, waveform, post)):
        from ..tracer import stack
        waveform = as_array(waveform)  # np.diff takes a list, with traced items too
        diffs = waveform[1:] - waveform[:-1]
        return stack([pre] + [diffs[i] for i in range(len(value_of(diffs)))] + [post])
    return np.concatenate([[pre], np.diff(waveform), [post]])


def arbitrary_grad_15(channel, waveform, first=None, last=None, delay=0.0, max_grad=None,
                      max_slew=None, system=None, oversampling=False) -> Event:
    """Gradient event from ``waveform`` (Hz/m), PyPulseq 1.5: sampled at the raster centres,
    or with ``oversampling`` at every half raster step (an odd number of samples, edges and
    centres); ``first`` / ``last`` (Hz/m) default to the extrapolated ends."""
    system = as_opts(system)
    if max_grad is None or max_grad == 0:
        max_grad = system.max_grad
    if max_slew is None or max_slew == 0:
        max_slew = system.max_slew
    if channel not in ["x", "y", "z"]:
        raise ValueError(f"Invalid channel. Must be one of x, y or z. Passed: {channel}")
    if isinstance(waveform, Tracer) and (first is None or last is None) and len(waveform) < 2:
        n = len(waveform)  # numpy's message for waveform[0] / waveform[1]
        raise IndexError(f"index {n} is out of bounds for axis 0 with size {n}")
    if first is None or last is None:
        def extrapolate(a, b):  # half a sample beyond a (one sample when oversampled)
            return 2 * a - b if oversampling else 0.5 * (3 * a - b)
        if first is None:
            first = extrapolate(waveform[0], waveform[1])
        if last is None:
            last = extrapolate(waveform[-1], waveform[-2])
    if oversampling:
        edge_scale = system.grad_raster_time * 2
        pre = first - waveform[0]
        post = last - waveform[-1]
    else:
        edge_scale = system.grad_raster_time
        pre = 2 * (first - waveform[0])
        post = 2 * (waveform[-1] - last)
    slew_rate = _concatenate_slew(pre, waveform, post) / edge_scale
    if _largest(abs(slew_rate)) > max_slew * (1 + eps):
        raise ValueError(f"Slew rate violation {_largest(abs(slew_rate)) / max_slew * 100}")
    if isinstance(waveform, (list, tuple)):  # pypulseq: abs() of the list itself
        raise TypeError(f"bad operand type for abs(): '{type(waveform).__name__}'")
    if _largest(abs(waveform)) > max_grad + eps:
        raise ValueError(f"Gradient amplitude violation {_largest(abs(waveform)) / max_grad * 100}")

    grad = Event(type="grad", channel=channel, waveform=waveform, delay=delay)
    raster = system.grad_raster_time
    n = len(waveform)
    if oversampling:
        if n % 2 == 0:
            raise ValueError("When oversampling is active, waveform must have an odd number of "
                             "samples")
        grad.__dict__.update(area=_sum(waveform[::2] * raster),
                             tt=np.arange(1, n + 1) * 0.5 * raster, shape_dur=(n + 1) * 0.5 * raster)
    else:
        grad.__dict__.update(area=_sum(waveform * raster), tt=(np.arange(n) + 0.5) * raster,
                             shape_dur=n * raster)
    grad.__dict__.update(first=first, last=last)
    return grad


def _sum(x):
    """``ndarray.sum()`` (numpy's pairwise sum), one traced op on a tracer."""
    return np.sum(x)


if API_15:
    @recorded()
    def make_arbitrary_grad(channel, waveform, first=None, last=None, delay=0.0, max_grad=None,
                            max_slew=None, system=None, oversampling=False) -> Event:
        """Gradient event from ``waveform`` (Hz/m), PyPulseq 1.5 (see ``arbitrary_grad_15``)."""
        return arbitrary_grad_15(channel, waveform, first, last, delay, max_grad, max_slew,
                                 system, oversampling)
else:
    @recorded()
    def make_arbitrary_grad(channel, waveform, delay=0, max_grad=0, max_slew=0,
                            system=None) -> Event:
        """Gradient event from ``waveform`` (Hz/m), PyPulseq 1.4.2 (see ``arbitrary_grad_14``)."""
        return arbitrary_grad_14(channel, waveform, delay, max_grad, max_slew, system)
