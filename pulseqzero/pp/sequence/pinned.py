"""Results computed at the traced values, and the guards that keep them valid.

A query that needs concrete numbers (scipy, pypulseq itself) is evaluated at the
traced values; ``pin`` guards the values it was computed from, so re-executing the
graph at other values re-traces instead of reusing a stale result. The ``Pinned*``
containers pin on their first use only: a result never looked at records nothing.
"""
from __future__ import annotations

import numpy as np

from ...tracer import Tracer, value_of


def leaves(x):
    if isinstance(x, (list, tuple)):
        for v in x:
            yield from leaves(v)
    elif isinstance(x, dict):
        for v in x.values():
            yield from leaves(v)
    else:
        yield x


def pin(values) -> None:
    """Guard that these traced values keep the values they have now: a result computed from
    them at the traced values stays valid (another value re-traces)."""
    for v in leaves(values):
        if not isinstance(v, Tracer):
            continue
        if np.ndim(v.value) == 0 and not np.iscomplexobj(v.value):
            kind = {"f": "float", "i": "int", "b": "bool"}[v.kind]
            observed = {"f": float, "i": int, "b": bool}[v.kind](v.value)
            v.ctx.add_guard(v, kind, observed)
        else:
            bool(np.all(v == np.asarray(v.value)))


def concrete(x):
    """The concrete value of a (nested list / tuple of) traced values."""
    if isinstance(x, list):
        return [concrete(v) for v in x]
    if isinstance(x, tuple):
        return tuple(concrete(v) for v in x)
    return value_of(x)


class _PinOnUse:
    """The first use of the items (iterating, indexing, ``len``, ``in``, ``repr``,
    ``==``) calls ``self._pin`` once: the guards are recorded only for a result that is
    looked at."""

    def _use(self):
        pin, self._pin = self._pin, None
        if pin is not None:
            pin()

    def __iter__(self):
        self._use()
        return super().__iter__()

    def __getitem__(self, i):
        self._use()
        return super().__getitem__(i)

    def __len__(self):
        self._use()
        return super().__len__()

    def __contains__(self, x):
        self._use()
        return super().__contains__(x)

    def __repr__(self):
        self._use()
        return super().__repr__()

    def __eq__(self, other):
        self._use()
        return super().__eq__(other)


class PinnedTuple(_PinOnUse, tuple):
    """A tuple computed at the traced values: the first use of its items pins (guards)
    the values it was computed from. Unused, it records nothing."""

    def __new__(cls, items, pin):
        obj = super().__new__(cls, items)
        obj._pin = pin
        return obj

    __hash__ = tuple.__hash__


class PinnedList(_PinOnUse, list):
    """A list computed at the traced values (see :class:`PinnedTuple`)."""

    def __init__(self, items, pin):
        super().__init__(items)
        self._pin = pin


class PinnedDict(_PinOnUse, dict):
    """A dict computed at the traced values (see :class:`PinnedTuple`)."""

    def __init__(self, items, pin):
        super().__init__(items)
        self._pin = pin

    def get(self, k, default=None):
        self._use()
        return super().get(k, default)

    def values(self):
        self._use()
        return super().values()

    def items(self):
        self._use()
        return super().items()
