"""``make_block_pulse``, PyPulseq's algorithm (1.4.2 or 1.5) over numbers or tracers."""
from __future__ import annotations

from warnings import warn

from .calc_duration import calc_duration
from .events import Event, recorded, set_hidden
from .make_delay import make_delay
from .opts import as_opts
from .rf_use import DEFAULT_RF_USE, get_supported_rf_uses
from .rf_fields import set_rf_15_fields, warn_delay_raised
from .version import API_15

__all__ = ["make_block_pulse"]


def block_pulse(flip_angle, delay, duration, bandwidth, time_bw_product, freq_offset,
                phase_offset, return_delay, system, use, freq_ppm=None, phase_ppm=None):
    """Block (hard) RF pulse: flip angle (rad), duration (s) or bandwidth (Hz); ``freq_ppm``
    None: the 1.4 API's event."""
    system = as_opts(system)
    valid_use_pulses = get_supported_rf_uses()
    if use != "" and use not in valid_use_pulses:
        raise ValueError(f"Invalid use parameter. Must be one of {valid_use_pulses}. Passed: {use}")

    if duration is None and bandwidth is None:
        warn("Using default 4 ms duration for block pulse.")
        duration = 4e-3
    elif duration is not None and bandwidth is not None and duration > 0:
        raise ValueError("One of bandwidth or duration must be defined, but not both.")
    elif duration is not None and duration > 0:
        pass
    elif duration is None and bandwidth is not None and bandwidth > 0:
        if time_bw_product is not None and time_bw_product > 0:
            duration = time_bw_product / bandwidth
        else:
            duration = 1 / (4 * bandwidth)
    else:
        raise ValueError("One of bandwidth or duration must be defined and be > 0. "
                         f"duration = {duration} s, bandwidth = {bandwidth} Hz.")

    N = round(duration / system.rf_raster_time)
    rf = Event(type="rf")
    set_hidden(rf, flip_angle=flip_angle, shape=("block", duration, system.rf_raster_time))
    rf.__dict__.update(shape_dur=N * system.rf_raster_time, freq_offset=freq_offset,
                       phase_offset=phase_offset)
    set_rf_15_fields(rf, freq_ppm, phase_ppm)
    rf.__dict__.update(dead_time=system.rf_dead_time, ringdown_time=system.rf_ringdown_time,
                       delay=delay)
    if API_15:
        rf.__dict__.update(center=rf.shape_dur / 2, use=use)
    elif use != "":
        rf.__dict__["use"] = use
    if rf.dead_time > rf.delay:
        warn_delay_raised(rf)
        rf.__dict__["delay"] = rf.dead_time

    if rf.ringdown_time > 0 and return_delay:
        delay = make_delay(calc_duration(rf) + rf.ringdown_time)

    if return_delay:
        return rf, delay
    return rf


if API_15:
    @recorded()
    def make_block_pulse(flip_angle, delay=0.0, duration=None, bandwidth=None,
                         time_bw_product=None, freq_offset=0.0, phase_offset=0.0, system=None,
                         use=DEFAULT_RF_USE, freq_ppm=0.0, phase_ppm=0.0):
        """Block (hard) RF pulse, PyPulseq 1.5: flip angle (rad), duration (s) or bandwidth
        (Hz), offsets Hz / rad / ppm."""
        return block_pulse(flip_angle, delay, duration, bandwidth, time_bw_product,
                           freq_offset, phase_offset, False, system, use, freq_ppm, phase_ppm)
else:
    @recorded()
    def make_block_pulse(flip_angle, delay=0, duration=None, bandwidth=None,
                         time_bw_product=None, freq_offset=0, phase_offset=0,
                         return_delay=False, system=None, use=str()):
        """Block (hard) RF pulse, PyPulseq 1.4.2: flip angle (rad), duration (s) or
        bandwidth (Hz); optionally a ringdown delay (``return_delay``)."""
        return block_pulse(flip_angle, delay, duration, bandwidth, time_bw_product,
                           freq_offset, phase_offset, return_delay, system, use)
