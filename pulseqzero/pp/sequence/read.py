"""Reading a ``.seq`` file into a recording ``Sequence``.

pypulseq reads the file; its blocks become constant events added block by block, its
library events are registered first in the order pypulseq numbered them, so that the
export numbers them as the file does and writing it again gives the same file.
"""
from __future__ import annotations

import copy as _copy
from types import SimpleNamespace

import numpy as np

from ..events import Event
from ..opts import to_system
from ..rf_use import get_supported_labels
from ..version import API_15


def read(seq, file_path, detect_rf_use: bool = False, remove_duplicates: bool = True) -> None:
    """``seq.read(file_path)``: load a ``.seq`` file; its blocks become constant events of
    this recording (read with pypulseq, then added block by block; writing it again gives
    the same file)."""
    from ...backends import pypulseq as backend  # (pypulseq takes seconds to import)
    real = backend.pp.Sequence(backend.make_opts(to_system(seq.system)))
    real.read(str(file_path), detect_rf_use=detect_rf_use, remove_duplicates=remove_duplicates)
    # pypulseq's reader takes these rasters from the file (the gradient raster it does not)
    system = _copy.copy(seq.system)
    system.rf_raster_time = seq.rf_raster_time = real.rf_raster_time
    system.adc_raster_time = seq.adc_raster_time = real.adc_raster_time
    system.block_duration_raster = seq.block_duration_raster = real.block_duration_raster
    seq.system = system
    seq._table.clear()
    seq._registry.clear()
    seq._registrations.clear()
    seq.definitions, seq._definition_args = {}, {}
    seq.extension_numeric_idx = list(real.extension_numeric_idx)
    seq.extension_string_idx = list(real.extension_string_idx)
    for key, value in real.definitions.items():
        seq.set_definition(key, value)
    # pypulseq numbers its libraries in the order events are registered: registering
    # the file's events in its order first makes the export number them as the file does
    for event in _library_events(real):
        seq._register(_from_library(event))
    for block_id in real.block_events:
        seq.set_block(block_id, *[_from_library(e) for e in _block_events(real, block_id)],
                      real.block_durations[block_id])
    seq.next_free_block_ID = (max(seq._table) + 1) if seq._table else 1


def _library_events(real) -> list:
    """The events of the libraries of a sequence pypulseq read, in the order pypulseq
    numbered them: each library by id; RF pulses, shaped gradients (and 1.5's ADCs with a
    phase modulation) interleaved as their shapes were numbered (traps, other ADCs and
    labels number nothing else)."""
    seen = {0}

    def event(row):  # pypulseq rebuilds an event from a block table row: borrow that
        key = -1
        real.block_events[key] = np.array(row, dtype=np.int32)
        real.block_durations[key] = 0.0
        try:
            block = real.get_block(key)
        finally:
            del real.block_events[key], real.block_durations[key]
            real.block_cache.pop(key, None)
        return block

    def new_shapes(shape_ids) -> list:
        return [int(i) for i in shape_ids if i not in seen]

    # the library columns holding shape ids (1.5: shaped gradients store first / last
    # before their shapes; an ADC may have a phase modulation shape)
    grad_shapes = slice(3, 5) if API_15 else slice(1, 3)
    queues = {  # library -> (ids in order, the shape ids of one, the block row of one)
        "grad": (sorted(real.grad_library.data),
                 lambda i: (real.grad_library.data[i][grad_shapes]
                            if real.grad_library.type[i] == "g" else ()),
                 lambda i: [0, 0, i, 0, 0, 0, 0]),
        "rf": (sorted(real.rf_library.data), lambda i: real.rf_library.data[i][1:4],
               lambda i: [0, i, 0, 0, 0, 0, 0]),
        "adc": (sorted(real.adc_library.data),
                lambda i: real.adc_library.data[i][7:8] if API_15 else (),
                lambda i: [0, 0, 0, 0, 0, i, 0]),
    }
    ordered = []
    while any(q[0] for q in queues.values()):
        # the next event of each library, and the shapes registering it would number: one
        # numbering none goes first, else the one numbering the lowest shape id
        heads = {k: new_shapes(shapes(ids[0])) for k, (ids, shapes, _) in queues.items() if ids}
        kind = min(heads, key=lambda k: (bool(heads[k]), min(heads[k], default=0)))
        ids, _, row = queues[kind]
        block = event(row(ids.pop(0)))
        ordered.append({"grad": block.gx, "rf": block.rf, "adc": block.adc}[kind])
        seen.update(heads[kind])
    labels = get_supported_labels()
    for kind, library in (("labelset", real.label_set_library),
                          ("labelinc", real.label_inc_library)):
        for key in sorted(library.data):
            value, label = library.data[key][:2]
            ordered.append(SimpleNamespace(type=kind, label=labels[int(label) - 1], value=value))
    return ordered


def _block_events(real, block_id: int) -> list:
    """The events of a block pypulseq read, the extensions (labels, triggers) in the order
    pypulseq sorted them when it added the block (its chain lists them in reverse)."""
    block = real.get_block(block_id)
    events = [getattr(block, c) for c in ("rf", "gx", "gy", "gz", "adc")]
    labels = list((block.label or {}).values())
    triggers = list(getattr(block, "trigger", {}).values())
    chain, ext = [], real.block_events[block_id][6]
    while ext:
        kind, _, ext = real.extensions_library.data[ext][:3]
        is_trigger = real.get_extension_type_string(kind) == "TRIGGERS"
        chain.append(triggers.pop(0) if is_trigger else labels.pop(0))
    return [e for e in events if e is not None] + chain[::-1]


def _from_library(event):
    """An event of a sequence pypulseq read, as a constant event without a recorded call."""
    fields = {k: v for k, v in vars(event).items() if k not in ("shape_id", "time_id")}
    return Event(**fields)
