"""``make_trapezoid``, PyPulseq's algorithm over numbers or tracers: 1.4.2's (0 / -1 sentinels)
or 1.5's (None defaults, a zero amplitude is valid, ramp slew checks), as installed."""
from __future__ import annotations

import math
import warnings

import numpy as np

from .. import tmath as tm
from ..tracer import user_line
from .events import Event, recorded
from .helpers import eps
from .opts import as_opts
from .version import API_15

__all__ = ["make_trapezoid"]


def calculate_shortest_params_for_area(area, max_slew, max_grad, grad_raster_time):
    """Shortest trapezoid (amplitude Hz/m, rise, flat, fall in s) with ``area`` (1/m)."""
    if API_15:
        return _shortest_params_15(area, max_slew, max_grad, grad_raster_time)
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


def _shortest_params_15(area, max_slew, max_grad, grad_raster_time):
    """1.5: the same search, the rise time at least one raster step, ``eps`` tolerance."""
    rise_time = math.ceil(tm.sqrt(abs(area) / max_slew) / grad_raster_time) * grad_raster_time
    rise_time = tm.maximum(rise_time, grad_raster_time)
    amplitude = area / rise_time
    effective_time = rise_time
    if abs(amplitude) > max_grad + eps:
        effective_time = math.ceil(abs(area) / max_grad / grad_raster_time) * grad_raster_time
        amplitude = area / effective_time
        rise_time = math.ceil(abs(amplitude) / max_slew / grad_raster_time) * grad_raster_time
        rise_time = tm.maximum(rise_time, grad_raster_time)
    flat_time = effective_time - rise_time
    fall_time = rise_time
    return amplitude, rise_time, flat_time, fall_time


def _amplitude_for_area_in(duration, area, max_slew, max_grad, raster):
    """(amplitude Hz/m, and the rise, flat and fall times in s of the shortest trapezoid of
    that area) for a trapezoid of ``area`` (1/m) lasting ``duration`` (s) with ramps at
    ``max_slew``; an AssertionError where even the shortest trapezoid of that area is
    longer than ``duration`` (both versions' wording)."""
    _, rise_time, flat_time, fall_time = calculate_shortest_params_for_area(
        area, max_slew, max_grad, raster)
    min_duration = rise_time + flat_time + fall_time
    if not duration >= min_duration:
        raise AssertionError("Requested area is too large for this gradient. Minimum required "
                             f"duration is {round(min_duration * 1e6)} us")
    ramps = 1 / abs(2 * max_slew) + 1 / abs(2 * max_slew)
    amplitude = (duration - tm.sqrt(duration**2 - 4 * abs(area) * ramps)) / (2 * ramps)
    return amplitude, rise_time, flat_time, fall_time


def _shortest_rise_time(amplitude, max_slew, grad_raster_time):
    """1.5: the shortest ramp (s) to ``amplitude`` (Hz/m) at ``max_slew``, on the raster."""
    return (math.ceil(tm.maximum(abs(amplitude) / max_slew, grad_raster_time) / grad_raster_time)
            * grad_raster_time)


def trapezoid_14(channel: str, amplitude=0, area=None, delay=0, duration=0, fall_time=0,
                 flat_area=None, flat_time=-1, max_grad=0, max_slew=0, rise_time=0,
                 system=None) -> Event:
    """Trapezoid gradient event (amplitude Hz/m, areas 1/m, times s), PyPulseq 1.4.2.

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
                amplitude2, rise_time, flat_time, fall_time = _amplitude_for_area_in(
                    duration, area, max_slew, max_grad, system.grad_raster_time)
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


def trapezoid_15(channel: str, amplitude=None, area=None, delay=0.0, duration=None,
                 fall_time=None, flat_area=None, flat_time=None, max_grad=None, max_slew=None,
                 rise_time=None, system=None) -> Event:
    """Trapezoid gradient event (amplitude Hz/m, areas 1/m, times s), PyPulseq 1.5.

    Supply one of: ``area`` (and optionally ``duration``, and ``rise_time``; or
    ``flat_time`` and ``rise_time``); ``amplitude`` and ``duration`` or ``flat_time``;
    ``flat_area`` and ``flat_time``. Raises as PyPulseq 1.5 does.
    """
    system = as_opts(system)
    if channel not in ["x", "y", "z"]:
        raise ValueError(f"Invalid channel. Must be one of `x`, `y` or `z`. Passed: {channel}")
    if max_grad is None:
        max_grad = system.max_grad
    if max_slew is None:
        max_slew = system.max_slew
    # either ramp time given alone stands for both (Python's `or`: a zero counts as missing)
    rise_time = rise_time or fall_time
    fall_time = fall_time or rise_time

    if area is not None and flat_area is None and amplitude is None:
        calc_path = "area"
    elif area is None and flat_area is not None and amplitude is None:
        calc_path = "flat_area"
    elif area is None and flat_area is None and amplitude is not None:
        calc_path = "amplitude"
    elif area is None and flat_area is not None and amplitude is not None:
        raise NotImplementedError("Flat Area + Amplitude input pair is not implemented yet.")
    elif area is not None and flat_area is None and amplitude is not None:
        raise NotImplementedError("Amplitude + Area input pair is not implemented yet.")
    else:
        raise ValueError("Must supply either 'area', 'flat_area' or 'amplitude'.")

    if (flat_time is not None and flat_area is None and amplitude is None
            and (rise_time is None or area is None)):
        raise ValueError("When `flat_time` is provided, either `flat_area`, or `amplitude`, "
                         "or `rise_time` and `area` must be provided as well.")

    if calc_path == "area":
        if duration is not None and flat_time is None:
            if rise_time is None:
                amplitude2, rise_time, flat_time, fall_time = _amplitude_for_area_in(
                    duration, area, max_slew, max_grad, system.grad_raster_time)
            else:
                if duration <= (rise_time + eps):
                    raise ValueError("The `duration` is too short for the given `rise_time`.")
                if fall_time is None:
                    fall_time = rise_time
                amplitude2 = area / (duration - 0.5 * rise_time - 0.5 * fall_time)
                possible = duration >= (rise_time + fall_time) and abs(amplitude2) <= max_grad
                if not possible:
                    raise AssertionError(
                        "Requested area is too large for this gradient. Probably amplitude is "
                        f"violated {round(abs(amplitude2) / max_grad * 100)}")
            flat_time = duration - rise_time - fall_time
            amplitude2 = area / (rise_time / 2 + fall_time / 2 + flat_time)
        elif flat_time is not None:
            if rise_time is None:
                raise ValueError("Must supply `rise_time` when `area` and `flat_time` is provided.")
            amplitude2 = area / (rise_time + flat_time)
        else:
            if rise_time is not None or fall_time is not None:
                warnings.warn("Rise time and fall time is ignored when calculating the shortest "
                              f"duration from `area`. [{user_line()}]", stacklevel=3)
            amplitude2, rise_time, flat_time, fall_time = calculate_shortest_params_for_area(
                area, max_slew, max_grad, system.grad_raster_time)
    elif calc_path == "flat_area":
        if duration is not None:
            raise NotImplementedError("Flat Area + Duration input pair is not implemented yet.")
        elif flat_time is not None:
            amplitude2 = flat_area / flat_time
    elif calc_path == "amplitude":
        if rise_time is None:
            rise_time = abs(amplitude) / max_slew
            rise_time = math.ceil(rise_time / system.grad_raster_time) * system.grad_raster_time
            if rise_time == 0:
                rise_time = system.grad_raster_time
            fall_time = rise_time
        amplitude2 = amplitude
        if duration is not None and flat_time is None:
            flat_time = duration - rise_time - fall_time
        elif flat_time is not None and duration is None:
            pass
        else:
            raise ValueError("Must supply area or duration.")

    if rise_time is None and fall_time is None:
        rise_time = fall_time = _shortest_rise_time(amplitude2, max_slew, system.grad_raster_time)

    if abs(amplitude2) > max_grad + eps:
        raise ValueError(f"Refined amplitude ({abs(amplitude2):0.0f} Hz/m) is larger than max "
                         f"({max_grad:0.0f} Hz/m).")
    if abs(amplitude2) / rise_time > max_slew * (1 + eps):
        raise ValueError(f"Refined slew rate ({abs(amplitude2) / rise_time:0.0f} Hz/m/s) for ramp "
                         f"up is larger than max ({max_slew:0.0f} Hz/m/s).")
    if abs(amplitude2) / fall_time > max_slew * (1 + eps):
        raise ValueError(f"Refined slew rate ({abs(amplitude2) / fall_time:0.0f} Hz/m/s) for ramp "
                         f"down is larger than max ({max_slew:0.0f} Hz/m/s).")

    return Event(
        type="trap", channel=channel, amplitude=amplitude2, rise_time=rise_time,
        flat_time=flat_time, fall_time=fall_time,
        area=amplitude2 * (flat_time + rise_time / 2 + fall_time / 2),
        flat_area=amplitude2 * flat_time, delay=delay, first=0, last=0,
    )


if API_15:
    @recorded()
    def make_trapezoid(channel: str, amplitude=None, area=None, delay=0.0, duration=None,
                       fall_time=None, flat_area=None, flat_time=None, max_grad=None,
                       max_slew=None, rise_time=None, system=None) -> Event:
        """Trapezoid gradient event, PyPulseq 1.5 (amplitude Hz/m, areas 1/m, times s; see
        ``trapezoid_15``)."""
        return trapezoid_15(channel, amplitude, area, delay, duration, fall_time, flat_area,
                            flat_time, max_grad, max_slew, rise_time, system)
else:
    @recorded()
    def make_trapezoid(channel: str, amplitude=0, area=None, delay=0, duration=0, fall_time=0,
                       flat_area=None, flat_time=-1, max_grad=0, max_slew=0, rise_time=0,
                       system=None) -> Event:
        """Trapezoid gradient event, PyPulseq 1.4.2 (amplitude Hz/m, areas 1/m, times s; see
        ``trapezoid_14``)."""
        return trapezoid_14(channel, amplitude, area, delay, duration, fall_time, flat_area,
                            flat_time, max_grad, max_slew, rise_time, system)
