"""Hypothesis strategies for the gradient helpers: input events as recipes.

An input event is a recipe ``(maker, kwargs)``: the test builds it once with
pypulseq (the reference) and once with ``pulseqzero.pp`` inside a trace, where
numeric arguments may become graph parameters. Times are mostly on the
gradient raster (what real sequences use), sometimes off it.
"""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

RASTER = 1e-5

raster_steps = st.integers(1, 40).map(lambda n: n * RASTER)
on_or_off = st.one_of(raster_steps, raster_steps, raster_steps, raster_steps, st.floats(2e-6, 4e-4))
raster_delays = st.integers(0, 30).map(lambda n: n * RASTER)
delays = st.one_of(st.just(0), raster_delays, raster_delays, st.floats(0, 3e-4))
amplitudes = st.one_of(st.floats(-6e5, 6e5, allow_nan=False).filter(lambda a: abs(a) > 1),
                       st.sampled_from([1e5, -2.5e5, 4.2e5]))
channels = st.sampled_from(["x", "y", "z"])


@st.composite
def trap(draw, channel=None, like=None, exact=False):
    """``make_trapezoid`` with amplitude, rise / flat / fall time and delay given
    (``exact``: all on the raster, no delay)."""
    if like is not None and draw(st.booleans()):  # the same timing as another trapezoid
        kw = dict(like[1])
        kw["amplitude"] = draw(amplitudes)
        kw["channel"] = channel or kw["channel"]
        return "make_trapezoid", kw
    times = raster_steps if exact else on_or_off
    flat = st.integers(0, 80).map(lambda n: n * RASTER)
    kw = dict(channel=channel or draw(channels), amplitude=draw(amplitudes),
              flat_time=draw(flat if exact else st.one_of(st.just(0), flat, flat, flat,
                                                          st.floats(0, 8e-4))),
              rise_time=draw(times))
    if draw(st.booleans()):
        kw["fall_time"] = draw(times)
    if draw(st.booleans()) and not exact:
        kw["delay"] = draw(delays)
    return "make_trapezoid", kw


@st.composite
def ext_trap(draw, channel=None):
    """``make_extended_trapezoid`` on the raster: corner times and amplitudes."""
    n = draw(st.integers(2, 6))
    steps = draw(st.lists(st.integers(1, 30), min_size=n - 1, max_size=n - 1))
    start = draw(st.sampled_from([0, 0, 0, 3, 10]))
    times = (start + np.concatenate(([0], np.cumsum(steps)))) * RASTER
    amps = [draw(amplitudes) for _ in range(n)]
    if draw(st.booleans()):
        amps[0] = 0.0
    if draw(st.booleans()):
        amps[-1] = 0.0
    kw = dict(channel=channel or draw(channels), times=times, amplitudes=np.array(amps))
    if start and amps[0] != 0:
        kw["skip_check"] = True
    return "make_extended_trapezoid", kw


@st.composite
def arb_grad(draw, channel=None):
    """``make_arbitrary_grad``: a waveform within the default slew rate."""
    n = draw(st.integers(2, 30))
    start = draw(st.floats(-2e5, 2e5))
    steps = draw(st.lists(st.floats(-4e4, 4e4), min_size=n - 1, max_size=n - 1))
    waveform = start + np.concatenate(([0.0], np.cumsum(steps)))
    kw = dict(channel=channel or draw(channels), waveform=waveform)
    if draw(st.booleans()):
        kw["delay"] = draw(st.sampled_from([0, 0, 0, 2 * RASTER, 1e-4]))
    return "make_arbitrary_grad", kw


def gradient(channel=None, exact=False):
    return st.one_of(trap(channel, exact=exact), trap(channel, exact=exact), ext_trap(channel),
                     arb_grad(channel))


@st.composite
def other_event(draw):
    kind = draw(st.sampled_from(["adc", "block", "delay"]))
    if kind == "adc":
        return "make_adc", dict(num_samples=draw(st.integers(1, 128)),
                                duration=draw(st.integers(1, 300).map(lambda n: n * RASTER)),
                                delay=draw(delays))
    if kind == "block":
        duration = draw(st.integers(5, 200).map(lambda n: n * RASTER))
        return "make_block_pulse", dict(flip_angle=draw(st.floats(0.1, 3.0)), duration=duration,
                                        delay=draw(delays))
    return "make_delay", dict(d=draw(st.integers(0, 300).map(lambda n: n * RASTER)))


@st.composite
def gradient_group(draw):
    """2-4 gradients on one channel, often trapezoids of the same timing."""
    channel = draw(channels)
    exact = draw(st.integers(0, 3)) > 0  # mostly on the raster: pypulseq can add those
    first = draw(gradient(channel, exact))
    rest = draw(st.lists(st.one_of(trap(channel, like=first, exact=exact)
                                   if first[0] == "make_trapezoid" else gradient(channel, exact),
                                   gradient(channel, exact)),
                         min_size=1, max_size=3))
    if draw(st.integers(0, 9)) == 0:  # another channel: an error
        rest.append(draw(trap(draw(st.sampled_from(["x", "y", "z"])))))
    return [first, *rest]


@st.composite
def k_pair(draw):
    """``calc_ramp``'s [3, 2] k-space ends: two points each (1/m)."""
    rows = draw(st.sampled_from([3, 3, 3, 3, 2]))  # pypulseq documents 3

    def points():
        start = np.array([draw(st.floats(-300, 300)) for _ in range(rows)])
        step = np.array([draw(st.floats(-3, 3)) for _ in range(rows)])
        return np.stack([start, start + step], axis=1)
    return points(), points()


#: calc_ramp's max_grad / max_slew: absent, empty, one value, three values (first <= 0 or not)
limits = st.one_of(st.just(None), st.just(np.zeros(0)),
                   st.floats(1e5, 2e6).map(lambda v: np.array([v])),
                   st.floats(-5, 0).map(lambda v: np.array([v])),
                   st.floats(1e5, 2e6).map(lambda v: np.array([-1.0, v, v])),
                   st.floats(1e5, 2e6).map(lambda v: np.array([v, v, v])), st.just(3e5))
