"""``make_trigger``: a ``trigger`` event (physio input), PyPulseq 1.4.2."""
from __future__ import annotations

from .. import tmath as tm
from .events import Event, recorded
from .opts import as_opts

__all__ = ["make_trigger"]


@recorded()
def make_trigger(channel: str, delay=0, duration=0, system=None) -> Event:
    """Wait for a physio trigger on ``channel``; ``duration`` (s) is at least one raster step."""
    system = as_opts(system)
    if channel not in ["physio1", "physio2"]:
        raise ValueError(f"Channel {channel} is invalid. Must be one of 'physio1' or 'physio2'.")
    raster = system.grad_raster_time
    # pypulseq: `if duration <= raster: duration = raster` (one traced op, no guard)
    return Event(type="trigger", channel=channel, delay=delay,
                 duration=tm.where(duration <= raster, raster, duration))
