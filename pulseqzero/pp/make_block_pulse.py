"""``make_block_pulse``, PyPulseq 1.4.2's algorithm over numbers or tracers."""
from __future__ import annotations

from warnings import warn

from .calc_duration import calc_duration
from .events import Event, recorded, set_hidden
from .make_delay import make_delay
from .opts import as_opts
from .rf_use import get_supported_rf_uses

__all__ = ["make_block_pulse"]


@recorded()
def make_block_pulse(flip_angle, delay=0, duration=None, bandwidth=None, time_bw_product=None,
                     freq_offset=0, phase_offset=0, return_delay=False, system=None, use=str()):
    """Block (hard) RF pulse: flip angle (rad), duration (s) or bandwidth (Hz)."""
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
                       phase_offset=phase_offset, dead_time=system.rf_dead_time,
                       ringdown_time=system.rf_ringdown_time, delay=delay)
    if use != "":
        rf.__dict__["use"] = use
    if rf.dead_time > rf.delay:
        rf.__dict__["delay"] = rf.dead_time

    if rf.ringdown_time > 0 and return_delay:
        delay = make_delay(calc_duration(rf) + rf.ringdown_time)

    if return_delay:
        return rf, delay
    return rf
