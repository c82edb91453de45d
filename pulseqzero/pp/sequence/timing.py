"""PyPulseq's ``check_timing``, on the stored blocks.

Each block is checked on the values pypulseq's event library would hold for it (ADC
delay at least the dead time, RF dead / ringdown times of the sequence's system,
shape durations on the raster). ``ok`` is a bool or a traced truth value (``if ok:``
records a guard); the error report is computed at the traced values and pins what it
says when the script uses it. Identical blocks are checked once.
"""
from __future__ import annotations

import math
from types import SimpleNamespace

from ... import tmath as tm
from ...tracer import Tracer, value_of
from .blocks import EPS, GRAD_COLUMNS, Entry, is_regular
from .pinned import PinnedList, pin


def _timing_key(entry) -> tuple:
    """Blocks with this key get the same timing checks (computed once per key)."""
    return (entry.block.duration,) + tuple(
        ("delay", e.delay) if e.origin is None and e.kind == "delay" else id(e)
        for e in entry.block.events)


def check_timing(seq):
    """``seq.check_timing()``: (ok, error_report), PyPulseq's timing checks on every block.

    ``ok`` is traced where it depends on parameters (``if ok:`` records a guard); the
    report is computed at the traced values and pins what it says when it is used.
    Sets the definition ``TotalDuration`` (traced), as PyPulseq does."""
    memo: dict = {}
    is_ok, total_duration, results = True, 0, []
    for block_id, entry in seq._table.items():
        key = _timing_key(entry)
        hit = memo.get(key)
        if hit is None:
            hit = memo[key] = _BlockTiming(seq, entry)
        is_ok = _and(is_ok, hit.ok)
        total_duration = total_duration + hit.duration
        results.append((block_id, hit))
    seq.set_definition("TotalDuration", total_duration)
    report = [text for block_id, r in results for text in r.report(block_id, traced=False)]
    if not isinstance(is_ok, Tracer) and not any(r.traced for r in memo.values()):
        return is_ok, report

    def pin():  # the report says what it says at the traced values: keep them
        if isinstance(is_ok, Tracer) and bool(is_ok):
            return  # (ok -> no report)
        for block_id, r in results:
            r.report(block_id, traced=True)
    return is_ok, PinnedList(report, pin)


class _BlockTiming:
    """PyPulseq's ``check_timing`` of one block, on the values its event library would hold
    (ADC delay at least the dead time, RF dead / ringdown times of the sequence's system,
    shape durations on the raster). Flags are bools or traced truth values."""

    def __init__(self, seq, entry: Entry):
        system = seq.system
        stored = entry.duration
        views = _library_views(seq, entry)
        total = stored  # calc_duration: the block duration first, then each event
        for v in views:
            total = tm.maximum(total, _view_duration(v))
        self.total = total
        self.total_ok = _div_check(total, system.block_duration_raster)
        self.events = [(v, _event_ok(v, system)) for v in views]
        self.inconsistent = abs(total - stored) > EPS
        duration = tm.where(self.inconsistent, stored, total)
        self.duration = duration
        self.extras = []  # (failed, text builder)
        rf = entry.events.get("rf")
        if rf is not None:
            rf_view = views[0]
            delay = rf.delay
            self.extras.append((delay - rf_view.dead_time < -EPS, lambda f, d=delay, v=rf_view: (
                f"Delay of {f(d * 1e6)} us is smaller than the RF dead time "
                f"{f(v.dead_time * 1e6)} us")))
            end = delay + rf_view.t_last
            self.extras.append((end + rf_view.ringdown_time - duration > EPS, lambda f, e=end: (
                f"Time between the end of the RF pulse at {f(e)} and the end of the block at "
                f"{f(duration * 1e6)} us is shorter than rf_ringdown_time")))
        adc = entry.events.get("adc")
        if adc is not None:
            delay = tm.maximum(adc.delay, adc.dead_time)
            self.extras.append((delay - system.adc_dead_time < -EPS,
                                lambda f: "adc.delay < system.adc_dead_time"))
            self.extras.append((delay + adc.num_samples * adc.dwell + system.adc_dead_time
                                - duration > EPS,
                                lambda f: "adc: system.adc_dead_time (post-ADC) violation"))
        ok = _and(self.total_ok, _not(self.inconsistent))
        for _, event_ok in self.events:
            ok = _and(ok, event_ok)
        for failed, _ in self.extras:
            ok = _and(ok, _not(failed))
        self.ok = ok
        self.traced = any(isinstance(x, Tracer) for x in (
            ok, total, self.total_ok, self.inconsistent, *(f for _, f in self.events),
            *(f for f, _ in self.extras)))

    def report(self, block_id, traced: bool) -> list:
        """The block's line of PyPulseq's error report. ``traced=True`` records the guards
        that keep it (every flag it reads, every number it prints)."""
        truth = bool if traced else (lambda x: bool(value_of(x)))
        text = (lambda x: format(x, "")) if traced else (lambda x: format(value_of(x), ""))
        if truth(self.ok):
            return []
        rep = "" if truth(self.total_ok) else f"Total duration: {text(self.total * 1e6)} us"
        for view, event_ok in self.events:
            if not truth(event_ok):
                rep = _event_error_text(view, text)
        if truth(self.inconsistent):
            rep += ("Inconsistency between the stored block duration and the duration of the "
                    "block content")
        for failed, build in self.extras:
            if truth(failed):
                rep += build(text)
        return [f"Event: {block_id} - {rep}\n"] if rep else []


def _library_views(seq, entry: Entry) -> list:
    """The block's events as pypulseq's ``get_block`` rebuilds them from its library, in
    ``block_to_events`` order (rf, gx, gy, gz, adc, labels, triggers); timing fields only."""
    system = seq.system
    views = []
    rf = entry.events.get("rf")
    if rf is not None:
        t = rf.t
        if is_regular(t, seq.rf_raster_time):
            n = len(value_of(t))
            t_last, shape_dur = (n - 0.5) * seq.rf_raster_time, n * seq.rf_raster_time
        else:
            t_last = t[-1]
            shape_dur = math.ceil((t_last - EPS) / seq.rf_raster_time) * seq.rf_raster_time
        views.append(SimpleNamespace(type="rf", delay=rf.delay, shape_dur=shape_dur,
                                     t_last=t_last, dead_time=system.rf_dead_time,
                                     ringdown_time=system.rf_ringdown_time))
    for column in GRAD_COLUMNS:
        g = entry.events.get(column)
        if g is None:
            continue
        if g.type == "trap":
            views.append(SimpleNamespace(type="trap", delay=g.delay, rise_time=g.rise_time,
                                         flat_time=g.flat_time, fall_time=g.fall_time))
        else:
            tt = g.tt
            shape_dur = (len(value_of(tt)) * seq.grad_raster_time
                         if is_regular(tt, seq.grad_raster_time) else tt[-1])
            views.append(SimpleNamespace(type="grad", delay=g.delay, shape_dur=shape_dur))
    adc = entry.events.get("adc")
    if adc is not None:
        views.append(SimpleNamespace(type="adc", delay=tm.maximum(adc.delay, adc.dead_time),
                                     dwell=adc.dwell, num_samples=adc.num_samples,
                                     dead_time=adc.dead_time))
    views.extend(SimpleNamespace(type=lab.type) for lab in entry.labels)
    views.extend(SimpleNamespace(type=t.type, delay=t.delay, duration=t.duration)
                 for t in entry.triggers)
    return views


def _view_duration(v):
    """pypulseq's ``calc_duration`` term of one library event."""
    if v.type == "rf":
        return v.delay + v.shape_dur + v.ringdown_time
    if v.type == "grad":
        return v.delay + v.shape_dur
    if v.type == "adc":
        return v.delay + v.num_samples * v.dwell + v.dead_time
    if v.type == "trap":
        return v.delay + v.rise_time + v.flat_time + v.fall_time
    if v.type in ("output", "trigger"):
        return v.delay + v.duration
    return 0


def _event_ok(e, system):
    """pypulseq's ``check_timing`` of one event: its times on their rasters."""
    raster = system.rf_raster_time if e.type in ("adc", "rf") else system.grad_raster_time
    ok = True
    if hasattr(e, "delay"):
        ok = _and(ok, _not(e.delay < -EPS))
        ok = _and(ok, _div_check(e.delay, raster))
    if hasattr(e, "duration"):
        ok = _and(ok, _div_check(e.duration, raster))
    if hasattr(e, "dwell"):
        off = abs(round(e.dwell / system.adc_raster_time) * system.adc_raster_time - e.dwell)
        ok = _and(ok, _not(_or(e.dwell < system.adc_raster_time, off > 1e-10)))
    if e.type == "trap":
        for t in (e.rise_time, e.flat_time, e.fall_time):
            ok = _and(ok, _div_check(t, system.grad_raster_time))
    return ok


def _event_error_text(e, text) -> str:
    out = "["
    out += f"type: {e.type} "
    if hasattr(e, "delay"):
        out += f"delay: {text(e.delay * 1e6)} us "
    if hasattr(e, "duration"):
        out += f"duration: {text(e.duration * 1e6)} us"
    if hasattr(e, "dwell"):
        out += f"dwell: {text(e.dwell * 1e9)} ns"
    if e.type == "trap":
        out += (f"rise time: {text(e.rise_time * 1e6)} flat time: {text(e.flat_time * 1e6)} "
                f"fall time: {text(e.fall_time * 1e6)} us")
    return out + "]"


def _div_check(a, b):
    """pypulseq's ``__div_check``: a is a multiple of b to 1e-9."""
    c = a / b
    return abs(c - round(c)) < 1e-9


# ====================================================================== truth values


def _truth(x) -> bool | None:
    """The value of a plain truth value, None for a traced one."""
    return None if isinstance(x, Tracer) else bool(x)


def _and(a, b):
    if _truth(a) is False or _truth(b) is False:
        return False
    if _truth(a) is True:
        return b if isinstance(b, Tracer) else True
    if _truth(b) is True:
        return a
    return a & b


def _or(a, b):
    if _truth(a) is True or _truth(b) is True:
        return True
    if _truth(a) is False:
        return b if isinstance(b, Tracer) else False
    if _truth(b) is False:
        return a
    return a | b


def _not(a):
    return ~a if isinstance(a, Tracer) else not a


# ====================================================================== the 1.5 API


def check_timing_15(seq, print_errors: bool = False):
    """PyPulseq 1.5's ``seq.check_timing(print_errors)``: ``(ok, error_report)`` with one
    ``SimpleNamespace`` per error (``block``, ``event``, ``field``, ``error_type``,
    ``value``, ...), checked on the values pypulseq's library holds; no ``TotalDuration``.

    ``ok`` is traced where a check depends on parameters; the report is computed at the
    traced values and pins its flags and numbers when it is used."""
    memo: dict = {}
    checks = []  # (block id, [(failed flag, builder(block id, value) -> namespace)])
    for block_id, entry in seq._table.items():
        key = _timing_key(entry)
        hit = memo.get(key)
        if hit is None:
            hit = memo[key] = _block_checks_15(seq, entry)
        checks.append((block_id, hit))
    ok = True
    for _, block_checks in checks:
        for failed, _ in block_checks:
            ok = _and(ok, _not(failed))

    def report(traced: bool) -> list:
        truth = bool if traced else (lambda x: bool(value_of(x)))
        value = (lambda x: x) if traced else value_of
        out = []
        for block_id, block_checks in checks:
            for failed, build in block_checks:
                if truth(failed):
                    out.append(build(block_id, value))
        if traced:
            pin([list(vars(e).values()) for e in out])
        return out

    errors = report(traced=False)
    traced = any(isinstance(f, Tracer) or _builds_traced(b) for _, c in checks for f, b in c)
    if traced:
        def keep():  # the report says what it says at the traced values: keep them
            if isinstance(ok, Tracer) and bool(ok):
                return  # (ok -> no report)
            report(traced=True)
        errors = PinnedList(errors, keep)
    if print_errors and errors:
        from pypulseq.check_timing import print_error_report
        print_error_report(SimpleNamespace(block_trace={}), list(errors))
    return ok, errors


def _builds_traced(build) -> bool:
    return getattr(build, "traced", False)


def _block_checks_15(seq, entry: Entry) -> list:
    """The checks of one block: (failed flag, builder of its error record)."""
    system = seq.system
    stored = entry.duration
    views = _library_views(seq, entry)
    duration = stored  # calc_duration: the block duration first, then each event
    for v in views:
        duration = tm.maximum(duration, _view_duration(v))
    checks = []

    def add(failed, event, field, **values):
        """An error record in pypulseq's field order; ``raster`` / ``error_type`` are names."""
        def build(block_id, value):
            fields = {k: v if k in ("error_type", "raster") else value(v)
                      for k, v in values.items()}
            return SimpleNamespace(block=block_id, event=event, field=field, **fields)
        build.traced = any(isinstance(v, Tracer) for v in values.values())
        checks.append((failed, build))

    def div_check(a, b, event, field, raster):
        c = a / b
        c_rounded = round(c)
        add(_not(abs(c - c_rounded) < 1e-6), event, field, value=a,
            value_rounded=c_rounded * b, error=a - c_rounded * b, raster=raster,
            error_type="RASTER")

    div_check(duration, system.block_duration_raster, "block", "duration",
              "block_duration_raster")
    mismatch = abs(duration - stored) > EPS
    add(mismatch, "block", "duration", error_type="BLOCK_DURATION_MISMATCH",
        value=duration, duration=stored)
    duration = tm.where(mismatch, stored, duration)
    columns = [v for v in views if v.type in ("rf", "trap", "grad", "adc")]
    names = [c for c in ("rf", "gx", "gy", "gz", "adc") if c in entry.events]
    for name, e in zip(names, columns):
        if e.type in ("rf", "adc"):
            raster, raster_str = system.rf_raster_time, "rf_raster_time"
        else:
            raster, raster_str = system.grad_raster_time, "grad_raster_time"
        add(e.delay < -EPS, name, "delay", error_type="NEGATIVE_DELAY", value=e.delay)
        div_check(e.delay, raster, name, "delay", raster_str)
        if e.type == "adc":
            div_check(e.dwell, system.adc_raster_time, name, "dwell", "adc_raster_time")
        if e.type == "trap":
            for field in ("rise_time", "flat_time", "fall_time"):
                div_check(getattr(e, field), system.grad_raster_time, name, field,
                          "grad_raster_time")
    if "rf" in entry.events:
        rf = views[0]
        add(rf.delay - rf.dead_time < -EPS, "rf", "delay", error_type="RF_DEAD_TIME",
            value=rf.delay, dead_time=rf.dead_time)
        end = rf.delay + rf.t_last
        add(end + rf.ringdown_time - duration > EPS, "rf", "duration",
            error_type="RF_RINGDOWN_TIME", value=end, duration=duration,
            ringdown_time=rf.ringdown_time)
    if "adc" in entry.events:
        adc = next(v for v in views if v.type == "adc")
        add(adc.delay - system.adc_dead_time < -EPS, "adc", "delay",
            error_type="ADC_DEAD_TIME", value=adc.delay, dead_time=system.adc_dead_time)
        samples_end = adc.delay + adc.num_samples * adc.dwell
        add(samples_end + system.adc_dead_time > duration + EPS, "adc", "duration",
            error_type="POST_ADC_DEAD_TIME", value=samples_end, duration=duration,
            dead_time=system.adc_dead_time)
    return checks

