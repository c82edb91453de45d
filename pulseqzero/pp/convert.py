"""``convert``: gradient and slew-rate units (PyPulseq 1.4.2), over numbers or tracers."""
from __future__ import annotations

import numpy as np

__all__: list = []  # used by Opts; not a PyPulseq top-level name

GRAD_UNITS = ["Hz/m", "mT/m", "rad/ms/mm"]
SLEW_UNITS = ["Hz/m/s", "mT/m/ms", "T/m/s", "rad/ms/mm/ms"]


def convert(from_value, from_unit: str, gamma=42.576e6, to_unit: str = str()):
    """Convert a gradient amplitude or slew rate from ``from_unit`` to ``to_unit``."""
    valid_units = GRAD_UNITS + SLEW_UNITS
    if from_unit not in valid_units:
        raise ValueError(
            "Invalid from_unit. Must be one of 'Hz/m', 'mT/m', or 'rad/ms/mm' for gradients;"
            "or must be one of 'Hz/m/s', 'mT/m/ms', 'T/m/s', 'rad/ms/mm/ms' for slew rate.")
    if to_unit != "" and to_unit not in valid_units:
        raise ValueError(
            "Invalid to_unit. Must be one of 'Hz/m/s', 'mT/m/ms', 'T/m/s', 'rad/ms/mm/ms' for "
            "gradients;or must be one of 'Hz/m/s', 'mT/m/ms', 'T/m/s', 'rad/ms/mm/ms' for slew rate..")
    if to_unit == "":
        to_unit = GRAD_UNITS[0] if from_unit in GRAD_UNITS else SLEW_UNITS[0]

    # to standard units (Hz/m, Hz/m/s)
    if from_unit in ("Hz/m", "Hz/m/s"):
        standard = from_value
    elif from_unit == "mT/m":
        standard = from_value * 1e-3 * gamma
    elif from_unit == "rad/ms/mm":
        standard = from_value * 1e6 / (2 * np.pi)
    elif from_unit in ("mT/m/ms", "T/m/s"):
        standard = from_value * gamma
    else:  # rad/ms/mm/ms
        standard = from_value * 1e9 / (2 * np.pi)

    # from standard units
    if to_unit in ("Hz/m", "Hz/m/s"):
        return standard
    if to_unit == "mT/m":
        return 1e3 * standard / gamma
    if to_unit == "rad/ms/mm":
        return standard * 2 * np.pi * 1e-6
    if to_unit in ("mT/m/ms", "T/m/s"):
        return standard / gamma
    return standard * 2 * np.pi * 1e-9  # rad/ms/mm/ms
