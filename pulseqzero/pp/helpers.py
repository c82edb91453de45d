"""``eps`` and ``round_half_up``: the two names pypulseq 1.4.2 defines in its own
``__init__`` (scripts use them: ``write_ute.py`` calls ``pp.round_half_up``)."""
from __future__ import annotations

import math

import numpy as np

__all__ = ["eps", "round_half_up"]

eps = np.finfo(np.float64).eps


def round_half_up(n, decimals=0):
    """Round half away from zero, as pypulseq does (no banker's rounding); traced values
    stay traced (``abs`` and ``math.floor`` record ops)."""
    multiplier = 10**decimals
    return math.floor(abs(n) * multiplier + 0.5) / multiplier
