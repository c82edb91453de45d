"""``make_extended_trapezoid_area``, PyPulseq's search (1.4.2 or 1.5), differentiable in the
amplitudes.

PyPulseq searches the shortest timing (integer numbers of raster steps for the
ramps and the plateau) for which a gradient from ``grad_start`` to ``grad_end``
(Hz/m) with ``area`` (1/m) respects the limits, then solves for the plateau
amplitude. Here the search runs exactly as in PyPulseq, and every decision it
takes on traced values (is a timing valid? which one has the lowest slew?) is a
guard: the timing is concrete, the amplitude stays a traced function of
``area``, ``grad_start`` and ``grad_end``. Values that would change the timing
fail a guard (a traced function re-traces).
"""
from __future__ import annotations

import numpy as np

from ..tracer import Tracer, stack, value_of
from .events import recorded
from .make_extended_trapezoid import make_extended_trapezoid
from .opts import Opts, as_opts
from .helpers import eps
from .version import API_15

__all__ = ["make_extended_trapezoid_area"]


def _cumsum(*steps):
    """pypulseq.utils.cumsum: running sums, added left to right."""
    out, s = [steps[0]], steps[0]
    for step in steps[1:]:
        s = s + step
        out.append(s)
    return tuple(out)


def _guard_chosen(values, valid, k) -> None:
    """Guard what the choice depends on, no more: timing ``k`` stays valid and the first of
    the smallest ``values`` among the valid ones (another timing turning valid or invalid
    without beating it changes nothing)."""
    if not isinstance(values, Tracer) and not isinstance(valid, Tracer):
        return
    index = np.arange(len(np.asarray(value_of(valid))))
    best = values[k]
    beaten = np.where(index < k, values > best, values >= best)
    beaten = np.where(index == k, True, beaten)
    bool(np.all(np.logical_and(valid[k], np.logical_or(np.logical_not(valid), beaten))))


def extended_trapezoid_area(area, channel, grad_start, grad_end, system=None,
                            convert_to_arbitrary=False):
    """Shortest extended trapezoid from ``grad_start`` to ``grad_end`` (Hz/m) with ``area``
    (1/m): returns ``(grad, times, amplitudes)`` like PyPulseq (1.5: the gradient's ``tt`` and
    ``waveform``; ``convert_to_arbitrary`` samples it on the raster)."""
    if API_15:
        system = as_opts(system)  # 1.5: None is Opts.default
    elif not system:
        system = Opts()
    system = as_opts(system)
    tolerance = eps if API_15 else 0  # 1.5 compares the amplitude limit with eps

    max_slew = system.max_slew * 0.99
    max_grad = system.max_grad * 0.99
    raster_time = system.grad_raster_time

    def _to_raster(time):
        return np.ceil(time / raster_time) * raster_time

    def _calc_ramp_time(grad_1, grad_2):
        return _to_raster(abs(grad_1 - grad_2) / max_slew)

    def _find_solution(duration: int):
        """(ramp up, flat, ramp down) in raster steps and the amplitude, or None."""
        ramp_up_times = []
        ramp_down_times = []

        # First, solutions at the maximum slew rate. The point where
        #   grad_start + ramp_up_time * max_slew == grad_end + ramp_down_time * max_slew
        ramp_up_time = (duration * max_slew * raster_time - grad_start + grad_end) / (
            2 * max_slew * raster_time)
        ramp_up_time = int(round(ramp_up_time))
        # if the amplitude would exceed max_grad: a trapezoid at the maximum slew rate
        if grad_start + ramp_up_time * max_slew * raster_time > max_grad + tolerance:
            ramp_up_time = int(round(_calc_ramp_time(grad_start, max_grad) / raster_time))
            ramp_down_time = int(round(_calc_ramp_time(grad_end, max_grad) / raster_time))
        else:
            ramp_down_time = duration - ramp_up_time
        if ramp_up_time > 0 and ramp_down_time > 0 and ramp_up_time + ramp_down_time <= duration:
            ramp_up_times.append(ramp_up_time)
            ramp_down_times.append(ramp_down_time)

        # The point where
        #   grad_start - ramp_up_time * max_slew == grad_end - ramp_down_time * max_slew
        ramp_up_time = (duration * max_slew * raster_time + grad_start - grad_end) / (
            2 * max_slew * raster_time)
        ramp_up_time = int(round(ramp_up_time))
        if grad_start - ramp_up_time * max_slew * raster_time < -max_grad - tolerance:
            ramp_up_time = int(round(_calc_ramp_time(grad_start, -max_grad) / raster_time))
            ramp_down_time = int(round(_calc_ramp_time(grad_end, -max_grad) / raster_time))
        else:
            ramp_down_time = duration - ramp_up_time
        if ramp_up_time > 0 and ramp_down_time > 0 and ramp_up_time + ramp_down_time <= duration:
            ramp_up_times.append(ramp_up_time)
            ramp_down_times.append(ramp_down_time)

        # Second, any solution with flat_time == 0
        for ramp_up_time in range(1, duration):
            ramp_up_times.append(ramp_up_time)
            ramp_down_times.append(duration - ramp_up_time)

        time_ramp_up = np.array(ramp_up_times)
        time_ramp_down = np.array(ramp_down_times)
        flat_time = duration - time_ramp_up - time_ramp_down
        valid_indices = flat_time >= 0
        time_ramp_up = time_ramp_up[valid_indices]
        time_ramp_down = time_ramp_down[valid_indices]
        flat_time = flat_time[valid_indices]

        # the amplitude for each timing (traced), and the slew rates it needs
        grad_amp = -(time_ramp_up * raster_time * grad_start
                     + time_ramp_down * raster_time * grad_end - 2 * area) / (
            (time_ramp_up + 2 * flat_time + time_ramp_down) * raster_time)
        slew_rate1 = abs(grad_start - grad_amp) / (time_ramp_up * raster_time)
        slew_rate2 = abs(grad_end - grad_amp) / (time_ramp_down * raster_time)

        # pypulseq's `&` of boolean arrays, as the traced logical_and
        valid = np.logical_and(np.logical_and(abs(grad_amp) <= max_grad + 1e-8,
                                              slew_rate1 <= max_slew + 1e-8),
                               slew_rate2 <= max_slew + 1e-8)
        observed = np.asarray(value_of(valid), dtype=bool)
        solutions = np.flatnonzero(observed)
        if solutions.shape[0] == 0:
            if isinstance(valid, Tracer):
                bool(np.any(valid))  # guard: no timing of this duration is valid
            return None

        # the solution with the lowest slew rate (the first one of them)
        slew = slew_rate1 + slew_rate2
        ind = solutions[np.argmin(np.asarray(value_of(slew))[observed])]
        _guard_chosen(slew, valid, ind)
        return (int(time_ramp_up[ind]), int(flat_time[ind]), int(time_ramp_down[ind]),
                grad_amp[ind])

    # Linear search from the shortest conceivable duration (pypulseq's comment: solutions
    # can be missing for some durations beyond the optimum, a binary search would miss it)
    min_duration = max(int(round(_calc_ramp_time(grad_end, grad_start) / raster_time)), 2)
    # from the duration needed to ramp down to zero on, a solution always exists
    max_duration = max(int(round(_calc_ramp_time(0, grad_start) / raster_time)),
                       int(round(_calc_ramp_time(0, grad_end) / raster_time)),
                       min_duration)

    solution = None
    for duration in range(min_duration, max_duration + 1):
        solution = _find_solution(duration)
        if solution:
            break

    if not solution:
        # expand the duration exponentially until a solution exists, then bisect
        while not solution:
            max_duration *= 2
            solution = _find_solution(max_duration)

        def binary_search(fun, lower_limit, upper_limit):
            if lower_limit == upper_limit - 1:
                return fun(upper_limit)
            test_value = (upper_limit + lower_limit) // 2
            if fun(test_value):
                return binary_search(fun, lower_limit, test_value)
            return binary_search(fun, test_value, upper_limit)

        solution = binary_search(_find_solution, max_duration // 2, max_duration)

    time_ramp_up = solution[0] * raster_time
    flat_time = solution[1] * raster_time
    time_ramp_down = solution[2] * raster_time
    grad_amp = solution[3]

    if flat_time > 0:
        times = _cumsum(0, time_ramp_up, flat_time, time_ramp_down)
        amplitudes = stack([grad_start, grad_amp, grad_amp, grad_end])
    else:
        times = _cumsum(0, time_ramp_up, time_ramp_down)
        amplitudes = stack([grad_start, grad_amp, grad_end])

    if API_15:
        grad = make_extended_trapezoid(channel=channel, amplitudes=amplitudes,
                                       convert_to_arbitrary=convert_to_arbitrary, system=system,
                                       times=times)
    else:
        grad = make_extended_trapezoid(channel=channel, system=system, times=times,
                                       amplitudes=amplitudes)
    if not abs(grad.area - area) < 1e-8:
        raise ValueError(f"Could not find a solution for area={area}.")
    if API_15:
        return grad, grad.tt, grad.waveform
    return grad, np.array(times), amplitudes


if API_15:
    @recorded()
    def make_extended_trapezoid_area(area, channel, grad_start, grad_end,
                                     convert_to_arbitrary=False, system=None):
        """Shortest extended trapezoid with ``area`` (1/m), PyPulseq 1.5 (see
        ``extended_trapezoid_area``)."""
        return extended_trapezoid_area(area, channel, grad_start, grad_end, system,
                                       convert_to_arbitrary)
else:
    @recorded()
    def make_extended_trapezoid_area(area, channel, grad_start, grad_end, system=None):
        """Shortest extended trapezoid with ``area`` (1/m), PyPulseq 1.4.2 (see
        ``extended_trapezoid_area``)."""
        return extended_trapezoid_area(area, channel, grad_start, grad_end, system)
