"""``split_gradient``, PyPulseq 1.4.2's algorithm over numbers or tracers."""
from __future__ import annotations

from .calc_duration import calc_duration
from .events import recorded
from .make_extended_trapezoid import make_extended_trapezoid
from .opts import as_opts
from ..tracer import stack

__all__ = ["split_gradient"]


@recorded()
def split_gradient(grad, system=None):
    """A trapezoid as three extended trapezoids: ramp up, flat top, ramp down (a tuple).

    Their delays (s) place them so that ``add_gradients`` gives back ``grad``.
    As in PyPulseq 1.4.2 the trapezoid's own ``delay``, ``rise_time``,
    ``flat_time`` and ``fall_time`` are rounded to the gradient raster *in
    place* (recorded as the script's assignments to it), and a triangle (no
    flat top) raises ``make_extended_trapezoid``'s error.
    """
    system = as_opts(system)

    grad_raster_time = system.grad_raster_time
    total_length = calc_duration(grad)

    if grad.type == "trap":
        channel = grad.channel
        grad.delay = round(grad.delay / grad_raster_time) * grad_raster_time
        grad.rise_time = round(grad.rise_time / grad_raster_time) * grad_raster_time
        grad.flat_time = round(grad.flat_time / grad_raster_time) * grad_raster_time
        grad.fall_time = round(grad.fall_time / grad_raster_time) * grad_raster_time

        times = stack([0, grad.rise_time])
        amplitudes = stack([0, grad.amplitude])
        ramp_up = make_extended_trapezoid(channel=channel, system=system, times=times,
                                          amplitudes=amplitudes, skip_check=True)
        ramp_up.__dict__["delay"] = grad.delay

        times = stack([0, grad.fall_time])
        amplitudes = stack([grad.amplitude, 0])
        ramp_down = make_extended_trapezoid(channel=channel, system=system, times=times,
                                            amplitudes=amplitudes, skip_check=True)
        ramp_down.__dict__["delay"] = total_length - grad.fall_time

        times = stack([0, grad.flat_time])
        amplitudes = stack([grad.amplitude, grad.amplitude])
        flat_top = make_extended_trapezoid(channel=channel, system=system, times=times,
                                           amplitudes=amplitudes, skip_check=True)
        flat_top.__dict__["delay"] = grad.delay + grad.rise_time

        return ramp_up, flat_top, ramp_down
    elif grad.type == "grad":
        raise ValueError("Splitting of arbitrary gradients is not implemented yet.")
    else:
        raise ValueError("Splitting of unsupported event.")
