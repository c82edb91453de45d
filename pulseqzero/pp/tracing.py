"""``enable_trace`` / ``disable_trace`` (PyPulseq 1.5): pypulseq's record of where each
block and event was created, which its ``check_timing(print_errors=True)`` prints.

pulseqzero names the script line of every event and block itself (errors, guards, the
printed graph), so the switches have nothing to change in the recording; they switch
pypulseq's own record, which the export (``graph.to_pypulseq()``, run by pypulseq) keeps.
"""
from __future__ import annotations

from .version import API_15

__all__ = ["enable_trace", "disable_trace"] if API_15 else []


def enable_trace(limit: int = 1) -> None:
    """pypulseq's ``enable_trace``: its sequences record where blocks and events were made."""
    from pypulseq.utils.tracing import enable_trace as real
    return real(limit)


def disable_trace() -> None:
    """pypulseq's ``disable_trace``."""
    from pypulseq.utils.tracing import disable_trace as real
    return real()
