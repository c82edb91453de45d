"""Giving the memory a simulation freed back to the system (glibc).

The emission's chunks and the recurrence's intermediates are tens of MB each,
allocated and freed every repetition between smaller tensors that stay. glibc
keeps such freed memory in its heap: without trimming, the resident memory of a
256-line GRE on a 256² phantom grew past 8 GB while about 1 GB was in use.
"""
from __future__ import annotations


def _libc_trim():
    """glibc's ``malloc_trim``, or None where there is none (not Linux/glibc)."""
    try:
        import ctypes
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


_TRIM = _libc_trim()
#: growth of the resident memory (bytes) during a simulation that makes us give freed
#: memory back to the system
TRIM_SLACK_BYTES = 256 << 20
_resident_after_trim = [0]


def start_memory_watch() -> None:
    """Count growth from now (what the process held before is not ours to trim)."""
    if _TRIM is not None:
        _resident_after_trim[0] = _resident_bytes()


def _resident_bytes() -> int:
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * 4096
    except (OSError, ValueError, IndexError):
        return 0


def release_freed_memory() -> None:
    """Give freed memory back to the system (glibc) once the process has grown by
    :data:`TRIM_SLACK_BYTES` since the simulation started or the last trim.

    Trimming after every repetition would double the time (the pages are faulted in
    again), so it happens only past the slack. A no-op where glibc is absent.
    """
    if _TRIM is None:
        return
    resident = _resident_bytes()
    if resident > _resident_after_trim[0] + TRIM_SLACK_BYTES:
        _TRIM(0)
        _resident_after_trim[0] = _resident_bytes()


def trim_freed_memory() -> None:
    """Give freed memory back to the system now (and count growth from here).

    Between the chunks of a split simulation (``distributed.ChunkedSignal``): the
    previous chunk's autograd graph was just freed, and glibc would otherwise keep much
    of it (fragmented among what stays) while the next chunk's is built beside it.
    """
    if _TRIM is not None:
        _TRIM(0)
        _resident_after_trim[0] = _resident_bytes()
