"""``make_adc``, PyPulseq 1.4.2's algorithm over numbers or tracers."""
from __future__ import annotations

from .events import Event, recorded
from .opts import as_opts

__all__ = ["make_adc"]


@recorded()
def make_adc(num_samples: int, delay=0, duration=0, dwell=0, freq_offset=0, phase_offset=0,
             system=None) -> Event:
    """ADC readout: ``num_samples`` (static), dwell or duration (s), delay (s), offsets (Hz, rad)."""
    system = as_opts(system)
    adc = Event(type="adc")
    adc.__dict__.update(num_samples=num_samples, dwell=dwell, delay=delay,
                        freq_offset=freq_offset, phase_offset=phase_offset,
                        dead_time=system.adc_dead_time)
    if (dwell == 0 and duration == 0) or (dwell > 0 and duration > 0):
        raise ValueError("Either dwell or duration must be defined")
    if duration > 0:
        adc.__dict__["dwell"] = duration / num_samples
    if dwell > 0:
        adc.__dict__["duration"] = dwell * num_samples
    if adc.dead_time > adc.delay:
        adc.__dict__["delay"] = adc.dead_time
    return adc
