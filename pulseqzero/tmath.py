"""Math on numbers or tracers, with Python's exact semantics for numbers.

PyPulseq uses ``math.sqrt`` and the built-in ``max``; on a tracer the first
would leave the trace (``float()``) and the second would guard on a
comparison. These functions give the same numbers on plain values and record
one op on tracers. ``math.ceil``, ``math.floor``, ``round`` and ``abs`` need
no wrapper: tracers implement their protocols.
"""
from __future__ import annotations

import math

from .tracer import Tracer, apply, value_of


def _traced(*xs) -> bool:
    return any(isinstance(x, Tracer) for x in xs)


def sqrt(x):
    """``math.sqrt`` (raises on negative numbers, like PyPulseq)."""
    if _traced(x):
        if value_of(x) < 0:
            raise ValueError("math domain error")
        return apply("sqrt", x)
    return math.sqrt(x)


def maximum(a, b):
    """``max(a, b)`` without a guard: traced as one op."""
    if isinstance(a, Tracer) or isinstance(b, Tracer):
        return apply("maximum", a, b)
    return max(a, b)


def minimum(a, b):
    if isinstance(a, Tracer) or isinstance(b, Tracer):
        return apply("minimum", a, b)
    return min(a, b)


def where(cond, a, b):
    """``a if cond else b`` without a guard."""
    if _traced(cond, a, b):
        return apply("where", cond, a, b)
    return a if cond else b
