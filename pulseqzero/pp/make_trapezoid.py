"""``make_trapezoid``, PyPulseq 1.4.2's algorithm over numbers or tracers."""
from __future__ import annotations

import math

import numpy as np

from .. import tmath as tm
from .events import Event, recorded
from .opts import as_opts

__all__ = ["make_trapezoid"]


def calculate_shortest_params_for_area(area, max_slew, max_grad, grad_raster_time):
    """Shortest trapezoid (amplitude Hz/m, rise, flat, fall in s) with ``area`` (1/m)."""
    rise_time = math.ceil(tm.sqrt(abs(area) / max_slew) / grad_raster_time) * grad_raster_time
    if rise_time < grad_raster_time:  # area was almost 0
        rise_time = grad_raster_time
    amplitude = np.divide(area, rise_time)  # numpy division: nan instead of an exception
    t_eff = rise_time

    if abs(amplitude) > max_grad:
        t_eff = math.ceil(abs(area) / max_grad / grad_raster_time) * grad_raster_time
        amplitude = area / t_eff
        rise_time = math.ceil(abs(amplitude) / max_slew / grad_raster_time) * grad_raster_time
        if rise_time == 0:
            rise_time = grad_raster_time

    flat_time = t_eff - rise_time
    fall_time = rise_time
    return amplitude, rise_time, flat_time, fall_time


@recorded()
def make_trapezoid(channel: str, amplitude=0, area=None, delay=0, duration=0, fall_time=0,
                   flat_area=None, flat_time=-1, max_grad=0, max_slew=0, rise_time=0,
                   system=None) -> Event:
    """Trapezoid gradient event (amplitude Hz/m, areas 1/m, times s).

    Supply one of: ``area``; ``amplitude`` and ``duration``; ``flat_time`` and
    ``flat_area``; ``flat_time`` and ``amplitude``; ``flat_time``, ``area``
    and ``rise_time``. Raises as PyPulseq 1.4.2 does.
    """
    system = as_opts(system)
    if channel not in ["x", "y", "z"]:
        raise ValueError(f"Invalid channel. Must be one of `x`, `y` or `z`. Passed: {channel}")

    if max_grad <= 0:
        max_grad = system.max_grad
    if max_slew <= 0:
        max_slew = system.max_slew
    if rise_time <= 0:
        rise_time = 0.0

    if fall_time > 0:
        if rise_time == 0:
            raise ValueError("Invalid arguments. Must always supply `rise_time` if `fall_time` "
                             "is specified explicitly.")
    else:
        fall_time = 0.0

    if area is None and flat_area is None and amplitude == 0:
        raise ValueError("Must supply either 'area', 'flat_area' or 'amplitude'.")

    if flat_time != -1:
        if amplitude != 0:
            amplitude2 = amplitude
        elif area is not None and rise_time > 0:
            amplitude2 = area / (rise_time + flat_time)
        elif flat_area is not None:
            amplitude2 = flat_area / flat_time
        else:
            raise ValueError("When `flat_time` is provided, either `flat_area`, or `amplitude`, "
                             "or `rise_time` and `area` must be provided as well.")
        if rise_time == 0:
            rise_time = abs(amplitude2) / max_slew
            rise_time = math.ceil(rise_time / system.grad_raster_time) * system.grad_raster_time
            if rise_time == 0:
                rise_time = system.grad_raster_time
        if fall_time == 0:
            fall_time = rise_time
    elif duration > 0:
        if amplitude == 0:
            if rise_time == 0:
                _, rise_time, flat_time, fall_time = calculate_shortest_params_for_area(
                    area, max_slew, max_grad, system.grad_raster_time)
                min_duration = rise_time + flat_time + fall_time
                if not duration >= min_duration:
                    raise AssertionError(
                        "Requested area is too large for this gradient. Minimum required duration "
                        f"is {round(min_duration * 1e6)} us")
                dC = 1 / abs(2 * max_slew) + 1 / abs(2 * max_slew)
                amplitude2 = (duration - tm.sqrt(duration**2 - 4 * abs(area) * dC)) / (2 * dC)
            else:
                if fall_time == 0:
                    fall_time = rise_time
                amplitude2 = area / (duration - 0.5 * rise_time - 0.5 * fall_time)
                possible = duration >= (rise_time + fall_time) and abs(amplitude2) <= max_grad
                if not possible:
                    raise AssertionError(
                        "Requested area is too large for this gradient. Probably amplitude is "
                        f"violated {round(abs(amplitude) / max_grad * 100)}")
        else:
            amplitude2 = amplitude

        if rise_time == 0:
            rise_time = (math.ceil(abs(amplitude2) / max_slew / system.grad_raster_time)
                         * system.grad_raster_time)
            if rise_time == 0:
                rise_time = system.grad_raster_time
        if fall_time == 0:
            fall_time = rise_time
        flat_time = duration - rise_time - fall_time

        if amplitude == 0:
            # adjust the amplitude (after rounding) to match the area
            amplitude2 = area / (rise_time / 2 + fall_time / 2 + flat_time)
    else:
        if area is None:
            raise ValueError("Must supply area or duration.")
        amplitude2, rise_time, flat_time, fall_time = calculate_shortest_params_for_area(
            area, max_slew, max_grad, system.grad_raster_time)

    if not abs(amplitude2) <= max_grad:
        raise AssertionError(f"Refined amplitude ({abs(amplitude2):0.0f} Hz/m) is larger than "
                             f"max ({max_grad:0.0f} Hz/m).")

    return Event(
        type="trap", channel=channel, amplitude=amplitude2, rise_time=rise_time,
        flat_time=flat_time, fall_time=fall_time,
        area=amplitude2 * (flat_time + rise_time / 2 + fall_time / 2),
        flat_area=amplitude2 * flat_time, delay=delay, first=0, last=0,
    )
