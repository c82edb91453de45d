"""``calc_duration``: duration of events or a block (s), traced without guards."""
from __future__ import annotations

from types import SimpleNamespace

from .. import tmath as tm
from ..tracer import Tracer

__all__ = ["calc_duration"]


def _events(*args):
    if len(args) == 1 and hasattr(args[0], "rf"):  # a block from get_block
        events = [e for e in vars(args[0]).values() if e is not None]
        flat = []
        for e in events:
            flat.extend(e.values() if isinstance(e, dict) else [e])
        return flat
    return args


def calc_duration(*args) -> float:
    """The longest ``delay + duration`` of the events (PyPulseq 1.4.2's formula per kind)."""
    duration = 0
    for event in _events(*args):
        if isinstance(event, (float, int, Tracer)):  # a block duration
            if not duration <= event:
                raise AssertionError
            duration = event
            continue
        if not isinstance(event, (dict, SimpleNamespace)) and not hasattr(event, "type"):
            raise TypeError("input(s) should be of type SimpleNamespace or a dict() in case of "
                            "LABELINC or LABELSET")
        kind = event.type
        if kind == "delay":
            duration = tm.maximum(duration, event.delay)
        elif kind == "rf":
            duration = tm.maximum(duration, event.delay + event.shape_dur + event.ringdown_time)
        elif kind == "grad":
            duration = tm.maximum(duration, event.delay + event.shape_dur)
        elif kind == "adc":
            duration = tm.maximum(duration, event.delay + event.num_samples * event.dwell
                                  + event.dead_time)
        elif kind == "trap":
            duration = tm.maximum(duration, event.delay + event.rise_time + event.flat_time
                                  + event.fall_time)
        elif kind in ("output", "trigger"):
            duration = tm.maximum(duration, event.delay + event.duration)
    return duration
