"""``make_delay``, PyPulseq 1.4.2's algorithm over numbers or tracers."""
from __future__ import annotations

import numpy as np

from .events import Event, recorded

__all__ = ["make_delay"]


@recorded()
def make_delay(d) -> Event:
    """A delay event of ``d`` seconds (finite, >= 0)."""
    if not np.isfinite(d) or d < 0:
        raise ValueError("Delay {:.2f} ms is invalid".format(d * 1e3))
    return Event(type="delay", delay=d)
