"""``add_gradients``, PyPulseq's algorithm (1.4.2 or 1.5) over numbers or tracers
(differentiable).

The superposition is traced: amplitudes, times and delays of the summed
gradients may be parameters. Where PyPulseq makes a discrete choice (which
branch, the order of the merged time points, which samples lie left or right
of a corner), the choice is kept concrete and guarded; the values are traced
with PyPulseq's arithmetic, so they equal PyPulseq's floats bit for bit.

PyPulseq 1.4.2's own quirks are kept: the "arbitrary gradient" test is true
when *any* raster-centre time is exact, the merge of time points closer than
``eps`` uses shifted indices, and a regularly sampled gradient with a larger
delay than the others raises numpy's ``concatenate`` error.

PyPulseq 1.5 (named branches on ``API_15``): ``eps`` is 1e-9, a trapezoid's first / last
count as 0, oversampled arbitrary gradients (samples every half raster step) are summed on
the half raster, a delayed regularly sampled gradient is padded with zeros, and the sum is
made with the summed first / last amplitudes.
"""
from __future__ import annotations

from copy import deepcopy

import numpy as np

from ..tracer import Tracer, stack, value_of
from .calc_duration import calc_duration
from .events import Event, recorded
from .make_arbitrary_grad import make_arbitrary_grad
from .make_extended_trapezoid import make_extended_trapezoid
from .make_trapezoid import make_trapezoid
from .opts import as_opts
from .points_to_waveform import as_array, guard_equal, interp, points_to_waveform
from .helpers import eps
from .scale_grad import derived_copy
from .version import API_15

__all__ = ["add_gradients"]


@recorded()
def add_gradients(grads, max_grad=0, max_slew=0, system=None):
    """The superposition of gradient events ``grads`` on one channel (Hz/m, s).

    Trapezoids with identical timing give a trapezoid; trapezoids and
    extended trapezoids give an extended trapezoid on the union of their
    corner times; otherwise the sum is sampled on the gradient raster (an
    arbitrary gradient). Raises as PyPulseq 1.4.2 does.
    """
    system = as_opts(system)

    if max_grad <= 0:
        max_grad = system.max_grad
    if max_slew <= 0:
        max_slew = system.max_slew

    if len(grads) == 0:
        raise ValueError("No gradients specified")
    if len(grads) == 1:
        # Trapezoids only require a shallow copy
        if grads[0].type == "trap":
            return derived_copy(grads[0])
        return _deep_copy(grads[0])

    # First gradient defines channel
    channel = grads[0].channel

    # Check if we have a set of traps with the same timing
    if (all(g.type == "trap" for g in grads)
            and all(g.rise_time == grads[0].rise_time for g in grads)
            and all(g.flat_time == grads[0].flat_time for g in grads)
            and all(g.fall_time == grads[0].fall_time for g in grads)
            and all(g.delay == grads[0].delay for g in grads)):
        return make_trapezoid(grads[0].channel,
                              amplitude=sum(g.amplitude for g in grads) + eps,
                              rise_time=grads[0].rise_time,
                              flat_time=grads[0].flat_time,
                              fall_time=grads[0].fall_time,
                              delay=grads[0].delay,
                              system=system)

    # Find out the general delay of all gradients and other statistics
    delays, firsts, lasts, durs, is_trap, is_arb, is_osa = [], [], [], [], [], [], []
    for ii in range(len(grads)):
        if grads[ii].channel != channel:
            raise ValueError("Cannot add gradients on different channels.")

        delays.append(grads[ii].delay)
        if not API_15:
            firsts.append(grads[ii].first)
            lasts.append(grads[ii].last)
        durs.append(calc_duration(grads[ii]))
        is_trap.append(grads[ii].type == "trap")
        if is_trap[-1]:
            is_arb.append(False)
            is_osa.append(False)
            if API_15:  # 1.5: a trapezoid starts and ends at zero
                firsts.append(0.0)
                lasts.append(0.0)
        elif API_15:
            tt_rast = grads[ii].tt / system.grad_raster_time
            n = np.arange(1, len(tt_rast) + 1)
            # as in 1.4.2, true when any sample sits exactly on its raster centre
            is_arb.append(bool(np.all(np.abs(tt_rast + 0.5 - n)) < eps))
            is_osa.append(bool(np.all(np.abs(tt_rast - 0.5 * n) < eps)))
            firsts.append(grads[ii].first)
            lasts.append(grads[ii].last)
        else:
            tt_rast = grads[ii].tt / system.grad_raster_time - 0.5
            # PyPulseq 1.4.2: true when any sample sits exactly on its raster centre
            is_arb.append(bool(np.all(np.abs(tt_rast - np.arange(len(tt_rast)))) < eps))
            is_osa.append(False)

    # Check if we only have arbitrary grads on irregular time samplings, optionally mixed with
    # trapezoids
    is_etrap = np.logical_not(is_arb) & np.logical_not(is_osa) & np.logical_not(is_trap)
    only_points = (np.all(np.logical_or(is_trap, is_etrap)) if API_15
                   else np.all(np.logical_or(is_trap, np.logical_not(is_arb))))
    if only_points:
        # Keep shapes still rather simple
        times = []
        for ii in range(len(grads)):
            g = grads[ii]
            if g.type == "trap":
                times.extend(_cumsum(g.delay, g.rise_time, g.flat_time, g.fall_time))
            else:
                times.extend(_items(g.delay + g.tt))

        times = unique(times)
        dt = times[1:] - times[:-1]
        ieps = flatnonzero(dt < eps)
        if np.any(ieps):  # (PyPulseq: an index list [0] alone counts as "none")
            dtx = [times[0], *_items(dt)]
            # PyPulseq adds dtx[i + 1] to dtx[i] for i in ieps (indices into dt, used on dtx);
            # assumes that no more than two too similar values can occur
            summed = {int(i): dtx[i] + dtx[i + 1] for i in ieps}
            dtx = [summed.get(i, v) for i, v in enumerate(dtx)]
            dropped = {int(i) + 1 for i in ieps}
            dtx = [v for i, v in enumerate(dtx) if i not in dropped]
            times = np.cumsum(stack(dtx))

        amplitudes = np.zeros_like(value_of(times))
        for ii in range(len(grads)):
            g = grads[ii]
            if g.type == "trap":
                if g.flat_time > 0:  # Trapezoid or triangle
                    tt = list(_cumsum(g.delay, g.rise_time, g.flat_time, g.fall_time))
                    waveform = [0, g.amplitude, g.amplitude, 0]
                else:
                    tt = list(_cumsum(g.delay, g.rise_time, g.fall_time))
                    waveform = [0, g.amplitude, 0]
            else:
                tt = _items(g.delay + g.tt)
                waveform = g.waveform

            # Fix rounding for the first and last time points
            distance = np.abs(tt[0] - times)
            i_min = argmin(distance)
            t_min = distance[i_min]
            if t_min < eps:
                tt[0] = times[i_min]
            distance = np.abs(tt[-1] - times)
            i_min = argmin(distance)
            t_min = distance[i_min]
            if t_min < eps:
                tt[-1] = times[i_min]

            if abs(waveform[0]) > eps and tt[0] > eps:
                tt[0] += eps

            amplitudes = amplitudes + interp_zero(times, tt, waveform)

        return make_extended_trapezoid(channel=channel, amplitudes=amplitudes, times=times,
                                       system=system)

    common_delay = np.min(stack(delays))
    durs = stack(durs)

    # Convert everything to a regularly-sampled waveform (1.5: on the half raster when any
    # gradient is oversampled)
    oversampled = bool(np.any(is_osa))
    target_raster = 0.5 * system.grad_raster_time if oversampled else system.grad_raster_time
    waveforms = dict()
    max_length = 0
    for ii in range(len(grads)):
        g = grads[ii]
        if g.type == "grad":
            if oversampled and is_arb[ii]:
                # a raster-centre gradient onto the half raster: its samples and their means
                idx = np.arange(0, len(g.waveform) - 0.5 + eps, 0.5)
                wf = g.waveform
                waveforms[ii] = 0.5 * (wf[np.floor(idx).astype(int)] + wf[np.ceil(idx).astype(int)])
            elif is_arb[ii] or is_osa[ii]:
                waveforms[ii] = g.waveform
            else:
                waveforms[ii] = points_to_waveform(amplitudes=g.waveform, times=g.tt,
                                                   grad_raster_time=target_raster)
        elif g.type == "trap":
            if g.flat_time > 0:  # Triangle or trapezoid
                times = stack([
                    g.delay - common_delay,
                    g.delay - common_delay + g.rise_time,
                    g.delay - common_delay + g.rise_time + g.flat_time,
                    g.delay - common_delay + g.rise_time + g.flat_time + g.fall_time,
                ])
                amplitudes = stack([0, g.amplitude, g.amplitude, 0])
            else:
                times = stack([
                    g.delay - common_delay,
                    g.delay - common_delay + g.rise_time,
                    g.delay - common_delay + g.rise_time + g.fall_time,
                ])
                amplitudes = stack([0, g.amplitude, 0])
            waveforms[ii] = points_to_waveform(amplitudes=amplitudes, times=times,
                                               grad_raster_time=target_raster)
        else:
            raise ValueError("Unknown gradient type")

        if API_15 and g.delay - common_delay > 0:  # 1.5: zeros for the extra delay
            padding = np.zeros(round((g.delay - common_delay) / system.grad_raster_time))
            waveforms[ii] = np.concatenate((padding, as_array(waveforms[ii])))
        elif g.delay - common_delay > 0:
            # PyPulseq 1.4.2 prepends [t_delay] (2-D) to a 1-D waveform: numpy refuses,
            # with the same error here
            t_delay = np.arange(0, value_of(g.delay - common_delay),
                                step=system.grad_raster_time)
            waveforms[ii] = np.concatenate(([t_delay], np.asarray(value_of(waveforms[ii]))))

        num_points = len(waveforms[ii])
        max_length = max(num_points, max_length)

    w = np.zeros(max_length)
    for ii in range(len(grads)):
        w = w + _padded(as_array(waveforms[ii]), max_length)

    # First is defined by the sum of firsts with the minimal delay (common_delay)
    # Last is defined by the sum of lasts with the maximum duration (total_duration == durs.max())
    longest = np.max(durs)
    first = np.sum(select(firsts, [d == common_delay for d in delays]))
    last = np.sum(select(lasts, [d == longest for d in _items(durs)]))
    if API_15:
        grad = make_arbitrary_grad(channel=channel, waveform=w, system=system,
                                   max_slew=max_slew, max_grad=max_grad, delay=common_delay,
                                   oversampling=oversampled, first=first, last=last)
    else:
        grad = make_arbitrary_grad(channel=channel, waveform=w, system=system,
                                   max_slew=max_slew, max_grad=max_grad, delay=common_delay)
    # Fix the first and the last values
    grad.__dict__["first"] = first
    grad.__dict__["last"] = last
    return grad


# ------------------------------------------------------------------ helpers (numbers or tracers)

def _cumsum(a, b, c=None, d=None):
    """``pypulseq.utils.cumsum.cumsum`` for 2 to 4 values (the same additions)."""
    if d is not None:
        s1 = a + b
        s2 = s1 + c
        return (a, s1, s2, s2 + d)
    if c is not None:
        s = a + b
        return (a, s, s + c)
    return (a, a + b)


def _items(vector) -> list:
    """The elements of a vector (traced elements for a traced vector)."""
    return list(vector)


def _deep_copy(event):
    new = deepcopy(event)
    if isinstance(new, Event):
        object.__setattr__(new, "_snap", None)
    return new


def _padded(wave, length):
    """``wt = np.zeros(length); wt[:len(wave)] = wave`` (zeros appended to a traced vector)."""
    if isinstance(wave, Tracer):
        padding = length - len(wave)
        return np.concatenate((wave, np.zeros(padding))) if padding else wave
    wt = np.zeros(length)
    wt[0:len(wave)] = wave
    return wt


def unique(values: list):
    """``np.unique(values)``: sorted, without repeats. Traced values are ordered by their
    current values; the order and the repeats are guarded."""
    if not any(isinstance(v, Tracer) for v in values):
        return np.unique(values)
    ordered = sorted(values, key=lambda v: float(value_of(v)))
    result = [ordered[0]]
    for v in ordered[1:]:
        if bool(v == result[-1]):
            continue
        bool(result[-1] < v)  # guard the order
        result.append(v)
    return stack(result)


def flatnonzero(condition):
    """``np.flatnonzero`` of a (traced) truth vector: concrete indices, guarded."""
    observed = np.asarray(value_of(condition))
    guard_equal(condition, observed)
    return np.flatnonzero(observed)


def argmin(vector) -> int:
    """``np.argmin``: a concrete index, guarded (strictly below the earlier elements,
    not above the later ones)."""
    i = int(np.argmin(value_of(vector)))
    if isinstance(vector, Tracer):
        if i > 0:
            bool(np.all(vector[:i] > vector[i]))
        if i < len(vector) - 1:
            bool(np.all(vector[i + 1:] >= vector[i]))
    return i


def select(values: list, conditions: list):
    """``np.array(values)[np.array(conditions)]`` with guarded conditions."""
    mask = np.array([bool(c) for c in conditions])
    chosen = [v for v, c in zip(values, mask) if c]
    if not any(isinstance(v, Tracer) for v in chosen):
        return np.array([value_of(v) for v in values])[mask]
    return stack(chosen)


def interp_zero(x, xp, fp):
    """``np.interp(x, xp, fp, left=0, right=0)`` over numbers or tracers."""
    if not any(isinstance(v, Tracer) for v in (x, fp, *xp)) and not (
            isinstance(fp, list) and any(isinstance(v, Tracer) for v in fp)):
        return np.interp(xp=xp, fp=fp, x=x, left=0, right=0)
    xp, fp = as_array(xp), as_array(fp)
    values = interp(x, xp, fp)  # guards which samples lie left / right of each corner
    xv, xpv = np.asarray(value_of(x)), np.asarray(value_of(xp))
    outside = (xv < xpv[0]) | (xv > xpv[-1])
    return np.where(outside, 0.0, values) if outside.any() else values
