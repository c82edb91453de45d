"""``make_digital_output_pulse``: an ``output`` event (digital trigger out), PyPulseq 1.4.2."""
from __future__ import annotations

from .. import tmath as tm
from .events import Event, recorded
from .opts import as_opts

__all__ = ["make_digital_output_pulse"]


@recorded()
def make_digital_output_pulse(channel: str, delay=0, duration=4e-3, system=None) -> Event:
    """A digital output pulse on ``channel`` (s); ``duration`` is at least one raster step."""
    system = as_opts(system)
    if channel not in ["osc0", "osc1", "ext1"]:
        raise ValueError(f"Channel {channel} is invalid. Must be one of 'osc0','osc1', or 'ext1'.")
    raster = system.grad_raster_time
    # pypulseq: `if duration <= raster: duration = raster` (one traced op, no guard)
    return Event(type="output", channel=channel, delay=delay,
                 duration=tm.where(duration <= raster, raster, duration))
