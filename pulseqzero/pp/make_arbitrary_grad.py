"""``make_arbitrary_grad``, PyPulseq 1.4.2's algorithm over numbers or tracers."""
from __future__ import annotations

import numpy as np

from ..tracer import Tracer, value_of
from .events import Event, recorded
from .opts import as_opts
from .points_to_waveform import as_array

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


@recorded()
def make_arbitrary_grad(channel, waveform, delay=0, max_grad=0, max_slew=0, system=None) -> Event:
    """Gradient event from ``waveform`` (Hz/m) sampled at the gradient raster centres.

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
