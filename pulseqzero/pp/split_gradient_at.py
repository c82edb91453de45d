"""``split_gradient_at``, PyPulseq 1.4.2's algorithm over numbers or tracers (differentiable).

The cut is traced: the sampled amplitude at the cut and the corner points of
both parts follow the gradient's parameters (and the cut time, through
straight-through rounding to the raster). Which corners lie before or after
the cut is guarded.

PyPulseq 1.4.2's behaviour is kept where it fails: a cut inside the
gradient's delay raises (``TypeError`` for a trapezoid, numpy's
``ValueError`` for an extended trapezoid), and the "arbitrary gradient" branch
needs an attribute ``t`` that PyPulseq's gradients do not have
(``AttributeError``).
"""
from __future__ import annotations

from copy import deepcopy

import numpy as np

from ..tracer import Tracer, stack, value_of
from .add_gradients import select
from .events import Event, recorded
from .make_extended_trapezoid import make_extended_trapezoid
from .opts import as_opts
from .points_to_waveform import as_array, interp

__all__ = ["split_gradient_at"]


@recorded()
def split_gradient_at(grad, time_point, system=None):
    """Cut ``grad`` at ``time_point`` (s, rounded to the gradient raster) into two extended
    trapezoids; their delays place them so that ``add_gradients`` gives back ``grad``.

    Returns ``(grad1, grad2)``, or a copy of an arbitrary gradient when the cut
    lies outside it.
    """
    system = as_opts(system)

    # copy() to emulate pass-by-value; otherwise passed grad is modified
    grad = deepcopy(grad)
    if isinstance(grad, Event):
        object.__setattr__(grad, "_snap", None)  # its fields change below
    fields = grad.__dict__

    grad_raster_time = system.grad_raster_time

    time_index = round(time_point / grad_raster_time)
    # Work around floating-point arithmetic limitation
    time_point = round(time_index * grad_raster_time, 6)
    channel = grad.channel

    if grad.type == "grad":
        # Check if we have an arbitrary gradient or an extended trapezoid
        if abs(grad.tt[-1] - 0.5 * grad_raster_time) < 1e-10 and np.all(
                abs(grad.tt[1:] - grad.tt[:-1] - grad_raster_time) < 1e-10):
            # Arbitrary gradient -- trivial conversion
            # If time point is out of range we have nothing to do
            if time_index == 0 or time_index >= len(grad.tt):
                return grad
            else:
                grad1 = grad
                grad2 = grad
                fields["last"] = 0.5 * (grad.waveform[time_index - 1] + grad.waveform[time_index])
                fields["first"] = grad1.last
                if "t" not in fields:  # PyPulseq's gradients have no `t`
                    raise AttributeError("'types.SimpleNamespace' object has no attribute 't'")
                fields["delay"] = grad.delay + grad.t[time_index]
                fields["t"] = grad.t[:time_index]
                fields["waveform"] = grad.waveform[:time_index]
                fields["t"] = grad.t[time_index:] - time_point
                fields["waveform"] = grad.waveform[time_index:]
                return grad1, grad2
        else:
            # Extended trapezoid
            times = grad.tt
            amplitudes = grad.waveform
    elif grad.type == "trap":
        fields["delay"] = round(grad.delay / grad_raster_time) * grad_raster_time
        fields["rise_time"] = round(grad.rise_time / grad_raster_time) * grad_raster_time
        fields["flat_time"] = round(grad.flat_time / grad_raster_time) * grad_raster_time
        fields["fall_time"] = round(grad.fall_time / grad_raster_time) * grad_raster_time

        # Prepare the extended trapezoid structure
        if grad.flat_time == 0:
            times = [0, grad.rise_time, grad.rise_time + grad.fall_time]
            amplitudes = [0, grad.amplitude, 0]
        else:
            times = [
                0,
                grad.rise_time,
                grad.rise_time + grad.flat_time,
                grad.rise_time + grad.flat_time + grad.fall_time,
            ]
            amplitudes = [0, grad.amplitude, grad.amplitude, 0]
    else:
        raise ValueError("Splitting of unsupported event.")

    # If the split line is behind the gradient, there is no second gradient to create
    if time_point >= grad.delay + times[-1]:
        raise ValueError("Splitting of gradient at time point after the end of gradient.")

    # If the split line goes through the delay
    if time_point < grad.delay:
        # PyPulseq 1.4.2 fails here: float + list (a trapezoid), or a ragged np.array
        times = np.concatenate(([0], _concrete(grad.delay) + _concrete(times)))
        np.array([0, _concrete(amplitudes)])
        raise NotImplementedError("split_gradient_at inside the delay")  # not reached
    else:
        time_point -= grad.delay

    amplitudes = as_array(amplitudes)
    times = np.round(as_array(times), 6)  # Work around floating-point arithmetic limitation

    # Sample at time point
    amp_tp = _interp_at(time_point, times, amplitudes)
    t_eps = 1e-10
    times1 = _concat(select(_items(times), _items(times < time_point - t_eps)), time_point)
    amplitudes1 = _concat(select(_items(amplitudes), _items(times < time_point - t_eps)), amp_tp)
    times2 = _concat(time_point, select(_items(times), _items(times > time_point + t_eps))) \
        - time_point
    amplitudes2 = _concat(amp_tp, select(_items(amplitudes), _items(times > time_point + t_eps)))

    # Recreate gradients
    grad1 = make_extended_trapezoid(channel=channel, system=system, times=times1,
                                    amplitudes=amplitudes1, skip_check=True)
    grad1.__dict__["delay"] = grad.delay
    grad2 = make_extended_trapezoid(channel=channel, system=system, times=times2,
                                    amplitudes=amplitudes2, skip_check=True)
    grad2.__dict__["delay"] = time_point

    return grad1, grad2


def _items(vector) -> list:
    return list(vector)


def _concrete(x):
    """The value PyPulseq would hold (Python floats, lists stay lists: its errors are ours)."""
    if isinstance(x, list):
        return [_concrete(v) for v in x]
    if isinstance(x, Tracer):
        return float(x.value) if np.ndim(x.value) == 0 else np.asarray(x.value)
    return x


def _concat(*parts):
    """``np.concatenate`` of vectors and single values (traced or not)."""
    parts = [as_array(p) if np.ndim(value_of(p)) else stack([p]) for p in parts]
    if any(isinstance(p, Tracer) for p in parts):
        return np.concatenate([p if isinstance(p, Tracer) else np.asarray(p, dtype=float)
                               for p in parts])
    return np.concatenate(parts)


def _interp_at(x, xp, fp):
    """``np.interp`` at one point."""
    if not any(isinstance(v, Tracer) for v in (x, xp, fp)):
        return np.interp(x=x, xp=xp, fp=fp)
    return interp(stack([x]), xp, fp)[0]
