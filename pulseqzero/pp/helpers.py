"""``eps`` and ``round_half_up``: the two names pypulseq defines in its own
``__init__`` (scripts use them: ``write_ute.py`` calls ``pp.round_half_up``)."""
from __future__ import annotations

import math

import numpy as np

from .version import API_15

__all__ = ["eps", "round_half_up"]

if API_15:
    # 1.5: a time tolerance (1e-9 s, a numpy float64), used in comparisons and add_gradients
    eps = 10 ** np.floor(np.log10(np.spacing(1e6) * 10))
else:
    eps = np.finfo(np.float64).eps  # 1.4.2: machine epsilon


def round_half_up(n, decimals=0):
    """Round half away from zero, as pypulseq does (no banker's rounding); traced values
    stay traced (``abs`` and ``math.floor`` record ops)."""
    multiplier = 10**decimals
    return math.floor(abs(n) * multiplier + 0.5) / multiplier
