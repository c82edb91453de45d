"""Keep the garbage collector's full collections out of optimisation loops.

With torch, MRzeroCore and pypulseq imported, a process tracks some 300 000
objects, and one full collection walks all of them (0.1 to 0.3 s). CPython runs
one whenever the objects that survived into the oldest generation since the last
one reach a quarter of that generation, and every step of a loop keeps a few
thousand objects alive for a while (an ``MRzeroCore.Sequence`` is a Python object
per repetition with its tensors): a full collection every few dozen steps, about
10 ms per step on average at 256 phase-encode lines, as much as the lowering.

:func:`frozen_heap` moves everything alive when it starts (the imports, the
traced graph, the phantom) to CPython's permanent generation (``gc.freeze``) and
moves it back when it ends (``gc.unfreeze``): both are O(1). Collections still
run, over the loop's own objects only. What reference counting frees (nearly
everything) is freed as before; only cyclic garbage that already existed when the
loop started waits until it ends.

:func:`growing_heap` is for work that builds a large structure that stays alive (a
trace records a few objects per PyPulseq call; reading or exporting a sequence
builds one object per event): each time the oldest generation grew by a quarter,
CPython walks all of it, and at tens of thousands of blocks that was half of the
time of a trace. Inside, full collections wait (their threshold is raised);
young collections run as before and free young cyclic garbage.
"""
from __future__ import annotations

import contextlib
import gc

_depth = 0


@contextlib.contextmanager
def frozen_heap():
    """Context manager: full garbage collections skip the objects alive on entry.

    ``Optimization.run`` uses it; wrap a hand-written loop of
    ``traced(...).to_mr0()`` / simulation steps in it for the same effect. Nests.
    """
    global _depth
    _depth += 1
    if _depth == 1:
        gc.freeze()
    try:
        yield
    finally:
        _depth -= 1
        if _depth == 0:
            gc.unfreeze()


_growing = 0
_saved_threshold = None
#: full collections inside ``growing_heap``: one per this many middle-generation ones
FULL_EVERY = 100_000


@contextlib.contextmanager
def growing_heap():
    """Context manager: no full garbage collection while a large structure is built
    (young collections still run). Nests; the thresholds are restored on exit."""
    global _growing, _saved_threshold
    _growing += 1
    if _growing == 1:
        _saved_threshold = gc.get_threshold()
        gc.set_threshold(*_saved_threshold[:2], max(_saved_threshold[2], FULL_EVERY))
    try:
        yield
    finally:
        _growing -= 1
        if _growing == 0:
            gc.set_threshold(*_saved_threshold)
