"""``make_label``: a ``labelset`` / ``labelinc`` event (PyPulseq 1.4.2 or 1.5)."""
from __future__ import annotations

import math

import numpy as np

from ..tracer import Tracer
from .events import Event, recorded
from .rf_use import get_supported_labels
from .version import API_15

__all__ = ["make_label"]


def _is_label_value(value) -> bool:
    """PyPulseq's ``isinstance(value, (bool, float, int))``; a traced scalar of bool, int or
    float kind (``gx.amplitude < 0``, a loop counter times a param) counts as one."""
    if isinstance(value, Tracer):
        return np.ndim(value.value) == 0 and value.kind in "bif"
    return isinstance(value, (bool, float, int))


def _as_int(value):
    """``int(value)``: a traced value stays traced (a bool or int is its own integer value;
    a float is truncated toward zero, which refuses NaN / infinity as ``int`` does)."""
    if isinstance(value, Tracer):
        return value if value.kind in ("b", "i") else math.trunc(value)
    return int(value)


@recorded()
def make_label(label: str, type: str, value) -> Event:  # noqa: A002 (pypulseq's name)
    """Set (``type="SET"``) or increment (``"INC"``) the label ``label`` by ``value``.

    The 1.5 API stores ``int(value)`` (traced: a bool or int stays as it is, a float is
    truncated; no guard) and refuses to increment a flag (``NAV`` ... ``ONCE``).
    """
    supported = get_supported_labels()
    if label not in supported:
        if API_15:
            raise ValueError(f"Invalid label. Must be one of {supported}.")
        raise ValueError(
            "Invalid label. Must be one of 'SLC', 'SEG', 'REP', 'AVG', 'SET', 'ECO', 'PHS', 'LIN', "
            "'PAR', NAV', 'REV', or 'SMS'.")
    if type not in ["SET", "INC"]:
        raise ValueError("Invalid type. Must be one of 'SET' or 'INC'.")
    if not _is_label_value(value):
        raise ValueError("Must supply a valid numerical or logical value.")
    if API_15:
        flags = supported[10:-1]
        if type == "INC" and label in flags:
            raise ValueError("As per Pulseq specification, labelinc is not compatible with "
                             f"flags: {flags}.")
        value = _as_int(value)
    return Event(type="labelset" if type == "SET" else "labelinc", label=label, value=value)
