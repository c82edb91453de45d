"""Supported labels and RF uses (of the installed PyPulseq's API)."""
from __future__ import annotations

from .version import API_15

__all__ = ["get_supported_labels"]


def get_supported_labels():
    """The label names PyPulseq supports (1.5 adds ``ACQ``)."""
    counters = ("SLC", "SEG", "REP", "AVG", "SET", "ECO", "PHS", "LIN", "PAR")
    if API_15:
        counters += ("ACQ",)
    return counters + ("NAV", "REV", "SMS", "REF", "IMA", "NOISE", "PMC", "NOROT", "NOPOS",
                       "NOSCL", "ONCE", "TRID")


def get_supported_rf_uses():
    """The RF ``use`` values (1.5 adds ``other`` and ``undefined``, the makers' default)."""
    uses = ("excitation", "refocusing", "inversion", "saturation", "preparation")
    return uses + ("other", "undefined") if API_15 else uses


#: the makers' default ``use``: 1.4.2 sets no ``use`` attribute, 1.5 sets 'undefined'
DEFAULT_RF_USE = "undefined" if API_15 else ""


def check_rf_use(use: str) -> None:
    valid = get_supported_rf_uses()
    if use != "" and use not in valid:
        raise ValueError(f"Invalid use parameter. Must be one of {valid}. Passed: {use}")
