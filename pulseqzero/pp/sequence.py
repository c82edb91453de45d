"""The recording ``Sequence``: PyPulseq's API, building the IR block by block."""
from __future__ import annotations

import numpy as np

from .. import tmath as tm
from .. import tracer as _tr
from ..ir.graph import Block, ParamInfo, SequenceGraph
from ..tracer import Tracer, user_line
from .events import Event, to_arg, to_ir
from .opts import Opts, as_opts, to_system

__all__ = ["Sequence"]

_COLUMNS = ("delay", "rf", "gx", "gy", "gz", "adc", "ext")


class Sequence:
    """Sequence with PyPulseq 1.4.2's interface that records an IR graph.

    ``add_block`` snapshots its events (later changes to an event affect later
    blocks only, as in PyPulseq); the block duration is traced with
    PyPulseq's formula, so ``duration()`` is exact.
    """

    version_major, version_minor, version_revision = 1, 4, 2

    def __init__(self, system=None, use_block_cache=True):
        self._ctx = _tr.context()
        self.system = Opts() if system is None else as_opts(system)
        self.use_block_cache = use_block_cache
        self._blocks: list = []
        self._durations: list = []
        self.definitions: dict = {}
        self._definition_args: dict = {}
        self.rf_raster_time = self.system.rf_raster_time
        self.grad_raster_time = self.system.grad_raster_time
        self.adc_raster_time = self.system.adc_raster_time
        self.block_duration_raster = self.system.block_duration_raster
        self.set_definition("AdcRasterTime", self.adc_raster_time)
        self.set_definition("BlockDurationRaster", self.block_duration_raster)
        self.set_definition("GradientRasterTime", self.grad_raster_time)
        self.set_definition("RadiofrequencyRasterTime", self.rf_raster_time)
        self._line = user_line()
        self._ctx.sequences.append(self)

    # -- building ------------------------------------------------------------

    def add_block(self, *args) -> None:
        """Append a block of events (and / or a block duration in s)."""
        line = user_line()
        ctx = self._ctx
        if len(args) == 1 and hasattr(args[0], "rf") and not isinstance(args[0], Event):
            args = _block_events(args[0])
        events, duration, seen = [], 0, set()
        for arg in args:
            arg = ctx.lift(arg)
            if isinstance(arg, (int, float, np.floating, Tracer)):
                # a number is the block's duration (PyPulseq: max with the events)
                events.append(to_ir_delay(ctx, arg))
                duration = tm.maximum(duration, arg)
                continue
            event = to_ir(ctx, arg)
            key = (event.kind, getattr(event, "channel", None))
            if key in seen and event.kind in ("rf", "trap", "adc"):
                what = {"rf": "RF", "adc": "ADC"}.get(event.kind) or f"{key[1].upper()} gradient"
                raise ValueError(f"Multiple {what} events were specified in set_block [{line}]")
            seen.add(key)
            events.append(event)
            duration = tm.maximum(duration, _event_duration(arg))
        self._blocks.append(Block(tuple(events), ctx.node(duration), line))
        self._durations.append(duration)

    def set_definition(self, key: str, value) -> None:
        if key == "FOV":
            values = value if isinstance(value, (list, tuple, np.ndarray)) else [value]
            biggest = values[0]
            for v in values[1:]:
                biggest = tm.maximum(biggest, v)
            if biggest > 1:
                import warnings
                warnings.warn("Definition FOV uses values exceeding 1 m. New Pulseq interpreters "
                              "expect values in units of meters.")
        self.definitions[key] = value
        self._definition_args[key] = to_arg(self._ctx, value)

    def get_definition(self, key: str):
        return self.definitions.get(key, "")

    # -- queries -------------------------------------------------------------

    def duration(self):
        """(total duration in s, number of blocks, event count per column)."""
        total = 0
        for d in self._durations:
            total = total + d
        counts = np.zeros(len(_COLUMNS))
        for block in self._blocks:
            kinds = {e.kind if e.kind != "trap" else "g" + e.channel for e in block.events}
            # PyPulseq 1.4.2 keeps no delay events in its block table: that column stays 0
            counts += np.array([c in kinds and c != "delay" for c in _COLUMNS])
        return total, len(self._blocks), counts

    @property
    def block_durations(self) -> dict:
        """Block id (from 1) -> duration in s, as in PyPulseq."""
        return {i + 1: d for i, d in enumerate(self._durations)}

    def __str__(self) -> str:
        return str(self.to_graph())

    # -- leaving the recording -------------------------------------------------

    def write(self, name, create_signature: bool = True, remove_duplicates: bool = True):
        """Writes nothing while recording (says so once); export with ``graph.write``."""
        self._ctx.say_once(("write",), f"{user_line()}: seq.write({str(name)!r}) writes nothing "
                           "while recording; write the traced graph with graph.write(path) "
                           "or call the script with real pypulseq")
        return "" if create_signature else None

    def to_graph(self, name: str | None = None) -> SequenceGraph:
        """The IR of this sequence as built so far."""
        ctx = self._ctx
        params = tuple(ParamInfo(n, node, shape, value, tensor)
                       for n, node, shape, value, tensor in ctx.params)
        return SequenceGraph(name or ctx.name, ctx.builder.freeze(), params, tuple(self._blocks),
                             to_system(self.system), tuple(self._definition_args.items()),
                             tuple(ctx.guards))

    def to_mr0(self, **options):  # rf_subpulses=n
        """The MRzeroCore sequence, differentiable w.r.t. the tensors the script used."""
        from ..graph import Graph
        return Graph(self.to_graph()).to_mr0(**options)

    def to_pypulseq(self):
        from ..graph import Graph
        return Graph(self.to_graph()).to_pypulseq()


def to_ir_delay(ctx, value):
    from ..ir.events import Delay
    return Delay(ctx.node(value), None)


def _event_duration(event):
    """The block-duration term PyPulseq's ``set_block`` uses for one event."""
    kind = event.type
    if kind == "rf":
        return event.shape_dur + event.delay + event.ringdown_time
    if kind == "trap":
        return event.delay + event.rise_time + event.flat_time + event.fall_time
    if kind == "adc":
        return event.delay + event.num_samples * event.dwell + event.dead_time
    if kind == "delay":
        return event.delay
    if kind in ("output", "trigger"):
        return event.delay + event.duration
    return 0


def _block_events(block):
    events = []
    for value in vars(block).values():
        if value is None:
            continue
        events.extend(value.values() if isinstance(value, dict) else [value])
    return events
