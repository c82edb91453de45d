"""``make_arbitrary_rf``, PyPulseq's algorithm (1.4.2 or 1.5) over numbers or tracers.

``signal`` may be a traced vector (a differentiable pulse shape), a list holding
traced values, or a constant real or complex array. The IR keeps the unscaled
samples (``ArbitraryShape``); ``signal`` / ``t`` are computed here as PyPulseq does.
"""
from __future__ import annotations

import math
from copy import copy

import numpy as np

from ..ir import shapes
from ..tracer import Tracer, stack
from .calc_duration import calc_duration
from .calc_rf_center import calc_rf_center
from .events import Event, recorded, set_hidden
from .make_delay import make_delay
from .make_trapezoid import make_trapezoid
from .opts import as_opts
from .points_to_waveform import as_array
from .rf_use import DEFAULT_RF_USE, get_supported_rf_uses
from .rf_fields import set_rf_15_fields, warn_delay_raised
from .version import API_15

__all__ = ["make_arbitrary_rf"]


def _squeeze(signal):
    """``np.squeeze`` over arrays or tracers. A traced single sample gives None (PyPulseq's
    squeezed scalar fails at ``len()``); a traced matrix keeps its (squeezed) ndim only."""
    if not isinstance(signal, Tracer):
        return np.squeeze(signal)
    shape = np.squeeze(signal.value).shape
    if len(shape) == 0:
        return None
    if len(shape) > 1 or signal.ndim == 1:
        return signal  # a matrix is refused by the caller; a vector is already squeezed
    rows = signal if signal.shape[0] > 1 else signal[0]
    return stack([row[0] for row in rows]) if rows.ndim == 2 else rows


def arbitrary_rf(signal, flip_angle, bandwidth, delay, dwell, freq_offset, no_signal_scaling,
                 max_grad, max_slew, phase_offset, return_delay, return_gz, slice_thickness,
                 system, time_bw_product, use, freq_ppm=None, phase_ppm=None, center=None):
    """RF pulse of the given samples (at t = (k + 0.5)·dwell, s), scaled to ``flip_angle``
    (rad) unless ``no_signal_scaling``; optionally the slice-select gradient (``return_gz``,
    needs ``bandwidth`` Hz and ``slice_thickness`` m) and a ringdown delay."""
    system = as_opts(system)
    if use != "" and use not in get_supported_rf_uses():
        if API_15:
            raise ValueError(f"Invalid use parameter. Must be one of {get_supported_rf_uses()}. "
                             f"Passed: {use}")
        raise ValueError("Invalid use parameter. Must be one of 'excitation', 'refocusing' or "
                         f"'inversion'. Passed: {use}")
    if dwell == 0:
        dwell = system.rf_raster_time

    samples = _squeeze(as_array(signal))
    if samples is None or np.ndim(samples) == 0:  # PyPulseq fails at len() of a scalar
        kind = np.result_type(samples if samples is not None else 0.0, 1.0).name
        raise TypeError("len() of unsized object" if no_signal_scaling
                        else f"object of type 'numpy.{kind}' has no len()")
    ndim = np.squeeze(samples.value).ndim if isinstance(samples, Tracer) else samples.ndim
    if ndim > 1:
        raise ValueError(f"signal should have ndim=1. Passed ndim={ndim}")
    no_signal_scaling = bool(no_signal_scaling)
    scaled, t = shapes.arbitrary_waveform(flip_angle, samples, dwell, no_signal_scaling, xp=np)
    N = len(scaled)
    duration = N * dwell

    rf = Event(type="rf", signal=scaled, t=t, shape_dur=duration, freq_offset=freq_offset,
               phase_offset=phase_offset)
    set_rf_15_fields(rf, freq_ppm, phase_ppm)
    rf.__dict__.update(dead_time=system.rf_dead_time, ringdown_time=system.rf_ringdown_time,
                       delay=delay)
    set_hidden(rf, flip_angle=flip_angle, shape=("arbitrary", samples, dwell),
               shape_static={"no_signal_scaling": no_signal_scaling})
    if API_15:
        rf.__dict__["use"] = use
    elif use != "":
        rf.__dict__["use"] = use
    if rf.dead_time > rf.delay:
        warn_delay_raised(rf)
        rf.__dict__["delay"] = rf.dead_time
    if API_15:
        if center is not None:  # clipped to the pulse
            rf.__dict__["center"] = center
            if rf.center < 0:
                rf.__dict__["center"] = 0
            if rf.center > rf.shape_dur:
                rf.__dict__["center"] = rf.shape_dur
        else:
            rf.__dict__["center"] = calc_rf_center(rf)[0]

    if return_gz:
        if slice_thickness <= 0:
            raise ValueError("Slice thickness must be provided.")
        if bandwidth <= 0:
            raise ValueError("Bandwidth of pulse must be provided.")
        if max_grad > 0:
            system = copy(system)
            system.max_grad = max_grad
        if max_slew > 0:
            system = copy(system)
            system.max_slew = max_slew
        BW = bandwidth
        if time_bw_product > 0:
            BW = time_bw_product / duration
        amplitude = BW / slice_thickness
        area = amplitude * duration
        gz = make_trapezoid(channel="z", system=system, flat_time=duration, flat_area=area)
        if rf.delay > gz.rise_time:  # round up to the gradient raster
            gz.delay = (math.ceil((rf.delay - gz.rise_time) / system.grad_raster_time)
                        * system.grad_raster_time)
        if rf.delay < (gz.rise_time + gz.delay):
            rf.__dict__["delay"] = gz.rise_time + gz.delay

    if rf.ringdown_time > 0 and return_delay:
        delay = make_delay(calc_duration(rf) + rf.ringdown_time)

    if return_gz and return_delay:
        return rf, gz, delay
    if return_gz:
        return rf, gz
    return rf


if API_15:
    @recorded()
    def make_arbitrary_rf(signal, flip_angle, bandwidth=0.0, delay=0.0, dwell=0.0,
                          freq_offset=0.0, no_signal_scaling=False, max_grad=0.0, max_slew=0.0,
                          phase_offset=0.0, return_gz=False, slice_thickness=0.0, system=None,
                          time_bw_product=0.0, use=DEFAULT_RF_USE, freq_ppm=0.0, phase_ppm=0.0,
                          center=None):
        """RF pulse of the given samples, PyPulseq 1.5 (see ``arbitrary_rf``); ``center`` (s
        from the pulse start) defaults to the waveform's peak (``calc_rf_center``)."""
        return arbitrary_rf(signal, flip_angle, bandwidth, delay, dwell, freq_offset,
                            no_signal_scaling, max_grad, max_slew, phase_offset, False, return_gz,
                            slice_thickness, system, time_bw_product, use, freq_ppm, phase_ppm,
                            center)
else:
    @recorded()
    def make_arbitrary_rf(signal, flip_angle, bandwidth=0, delay=0, dwell=0, freq_offset=0,
                          no_signal_scaling=False, max_grad=0, max_slew=0, phase_offset=0,
                          return_delay=False, return_gz=False, slice_thickness=0, system=None,
                          time_bw_product=0, use=str()):
        """RF pulse of the given samples, PyPulseq 1.4.2 (see ``arbitrary_rf``)."""
        return arbitrary_rf(signal, flip_angle, bandwidth, delay, dwell, freq_offset,
                            no_signal_scaling, max_grad, max_slew, phase_offset, return_delay,
                            return_gz, slice_thickness, system, time_bw_product, use)
