"""Supported labels and RF uses (PyPulseq 1.4.2)."""
from __future__ import annotations

__all__ = ["get_supported_labels"]


def get_supported_labels():
    """The label names PyPulseq 1.4.2 supports."""
    return ("SLC", "SEG", "REP", "AVG", "SET", "ECO", "PHS", "LIN", "PAR", "NAV", "REV", "SMS",
            "REF", "IMA", "NOISE", "PMC", "NOROT", "NOPOS", "NOSCL", "ONCE", "TRID")


def get_supported_rf_uses():
    return "excitation", "refocusing", "inversion", "saturation", "preparation"


def check_rf_use(use: str) -> None:
    valid = get_supported_rf_uses()
    if use != "" and use not in valid:
        raise ValueError(f"Invalid use parameter. Must be one of {valid}. Passed: {use}")
