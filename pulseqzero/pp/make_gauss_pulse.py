"""``make_gauss_pulse``, PyPulseq's algorithm (1.4.2 or 1.5) over numbers or tracers."""
from __future__ import annotations

import math
from copy import copy

from .calc_duration import calc_duration
from .events import Event, recorded, set_hidden
from .make_delay import make_delay
from .make_trapezoid import make_trapezoid
from .opts import as_opts
from .rf_use import DEFAULT_RF_USE, check_rf_use
from .rf_fields import set_rf_15_fields, warn_delay_raised
from .version import API_15

__all__ = ["make_gauss_pulse"]


def gauss_pulse(flip_angle, apodization, bandwidth, center_pos, delay, dwell, duration,
                freq_offset, max_grad, max_slew, phase_offset, return_gz, return_delay,
                slice_thickness, system, time_bw_product, use, freq_ppm=None, phase_ppm=None):
    """Gaussian RF pulse (flip angle rad, times s, bandwidth Hz; ``bandwidth`` 0 means
    ``time_bw_product / duration``); optionally the slice-select gradient and its rephaser
    (``return_gz``) and a ringdown delay (``return_delay``)."""
    system = as_opts(system)
    check_rf_use(use)
    if dwell == 0:
        dwell = system.rf_raster_time

    if bandwidth == 0:
        BW = time_bw_product / duration
    else:
        BW = bandwidth
    N = round(duration / dwell)
    rf = Event(type="rf")
    # the waveform (ir/shapes.py gauss_waveform) is computed when `signal` / `t` are read
    set_hidden(rf, flip_angle=flip_angle,
               shape=("gauss", duration, bandwidth, time_bw_product, apodization, center_pos,
                      dwell))
    int(N)  # the sample count is structural: pin it before the waveform is built
    rf.__dict__.update(shape_dur=N * dwell, freq_offset=freq_offset, phase_offset=phase_offset)
    set_rf_15_fields(rf, freq_ppm, phase_ppm)
    rf.__dict__.update(dead_time=system.rf_dead_time, ringdown_time=system.rf_ringdown_time,
                       delay=delay)
    if use != "":  # 1.5 too: use='' sets no attribute (its default is 'undefined')
        rf.__dict__["use"] = use
    if API_15:
        rf.__dict__["center"] = duration * center_pos
    if rf.dead_time > rf.delay:
        warn_delay_raised(rf)
        rf.__dict__["delay"] = rf.dead_time

    if return_gz:
        if slice_thickness == 0:
            raise ValueError("Slice thickness must be provided")
        if max_grad > 0:
            system = copy(system)
            system.max_grad = max_grad
        if max_slew > 0:
            system = copy(system)
            system.max_slew = max_slew
        amplitude = BW / slice_thickness
        area = amplitude * duration
        gz = make_trapezoid(channel="z", system=system, flat_time=duration, flat_area=area)
        gzr = make_trapezoid(channel="z", system=system,
                             area=-area * (1 - center_pos) - 0.5 * (gz.area - area))
        if rf.delay > gz.rise_time:
            gz.delay = (math.ceil((rf.delay - gz.rise_time) / system.grad_raster_time)
                        * system.grad_raster_time)
        if rf.delay < (gz.rise_time + gz.delay):
            rf.__dict__["delay"] = gz.rise_time + gz.delay

    if rf.ringdown_time > 0 and return_delay:
        delay = make_delay(calc_duration(rf) + rf.ringdown_time)

    if return_gz and return_delay:
        return rf, gz, gzr, delay
    if return_gz:
        return rf, gz, gzr
    return rf


if API_15:
    @recorded()
    def make_gauss_pulse(flip_angle, apodization=0.0, bandwidth=0.0, center_pos=0.5, delay=0.0,
                         dwell=0.0, duration=4e-3, freq_offset=0.0, max_grad=0.0, max_slew=0.0,
                         phase_offset=0.0, return_gz=False, slice_thickness=0.0, system=None,
                         time_bw_product=4.0, use=DEFAULT_RF_USE, freq_ppm=0.0, phase_ppm=0.0):
        """Gaussian RF pulse, PyPulseq 1.5 (flip angle rad, times s, bandwidth Hz, offsets
        Hz / rad / ppm); optionally the slice-select gradient and its rephaser."""
        return gauss_pulse(flip_angle, apodization, bandwidth, center_pos, delay, dwell,
                           duration, freq_offset, max_grad, max_slew, phase_offset, return_gz,
                           False, slice_thickness, system, time_bw_product, use, freq_ppm,
                           phase_ppm)
else:
    @recorded()
    def make_gauss_pulse(flip_angle, apodization=0, bandwidth=0, center_pos=0.5, delay=0,
                         dwell=0, duration=4e-3, freq_offset=0, max_grad=0, max_slew=0,
                         phase_offset=0, return_gz=False, return_delay=False, slice_thickness=0,
                         system=None, time_bw_product=4, use=str()):
        """Gaussian RF pulse, PyPulseq 1.4.2 (flip angle rad, times s, bandwidth Hz);
        optionally the slice-select gradient, its rephaser and a ringdown delay."""
        return gauss_pulse(flip_angle, apodization, bandwidth, center_pos, delay, dwell,
                           duration, freq_offset, max_grad, max_slew, phase_offset, return_gz,
                           return_delay, slice_thickness, system, time_bw_product, use)
