"""Blocks, guards and the sequence graph: the whole IR of one traced sequence."""
from __future__ import annotations

import attrs

from .events import System
from .values import Values


@attrs.frozen(slots=True)
class Block:
    """The events of one ``seq.add_block(...)`` call, as they were at that moment.

    ``duration`` is the node of the block duration (s), traced with PyPulseq's
    formula: the longest event, or a number given to ``add_block``.
    """

    events: tuple
    duration: int
    line: str = ""  # script line of the add_block call

    def event(self, kind: str, channel: str | None = None):
        for e in self.events:
            if e.kind == kind and (channel is None or getattr(e, "channel", None) == channel):
                return e
        return None


GUARD_KINDS = ("bool", "int", "float", "format")


@attrs.frozen(slots=True)
class Guard:
    """A traced value the script concretised: it must evaluate to ``observed`` again.

    ``kind`` says how the value was used: ``bool`` (an ``if``, ``assert`` or a
    comparison used as a condition), ``int`` (``int()``, ``__index__``,
    ``round()`` used as an integer), ``float`` (``float()``: exact value) or
    ``format`` (``format(value, spec)`` gave the string ``observed``; ``spec``
    is ``"<b|i|f>:<format spec>"``, the Python type the value was formatted as).
    """

    node: int
    kind: str = attrs.field(validator=attrs.validators.in_(GUARD_KINDS))
    observed: object
    line: str
    spec: str = ""

    def holds(self, value) -> bool:
        if self.kind == "bool":
            return bool(value) == self.observed
        if self.kind == "int":
            return int(value) == self.observed
        if self.kind == "float":
            return float(value) == self.observed
        kind, spec = self.spec.split(":", 1)  # "f:.1f": formatted as a float with ".1f"
        python = {"b": bool, "i": int, "f": float}[kind](value)
        return format(python, spec) == self.observed

    def describe(self) -> str:
        what = {"bool": "condition", "int": "integer", "float": "float()", "format": "format"}
        return f"{self.line}: {what[self.kind]} of %{self.node} was {self.observed!r}"


@attrs.frozen(slots=True)
class ParamInfo:
    """A graph input: its name, node, shape and the value it was traced with."""

    name: str
    node: int
    shape: tuple
    traced_value: object  # numpy float64 scalar or array
    captured: object = None  # the torch tensor captured in mr0_mode, else None


@attrs.frozen(slots=True)
class Registration:
    """``seq.register_*_event(event)``: pypulseq numbers its library entries in the order
    events are registered, so the export registers ``event`` before block ``before``
    (0-based; ``len(blocks)`` means after the last block) to write the same file."""

    before: int
    event: object
    line: str = ""


@attrs.frozen(slots=True)
class SequenceGraph:
    """One traced sequence: values, parameters, blocks, system, definitions, guards."""

    name: str
    values: Values
    params: tuple  # ParamInfo, in signature order
    blocks: tuple  # Block
    system: System
    definitions: tuple = ()  # ((key, Arg), ...) in the order they were set
    guards: tuple = ()
    registrations: tuple = ()  # Registration, in the order the script made them
    api: str = "1.4"  # the PyPulseq API the script was traced with: "1.4" (1.4.2) or "1.5"

    @property
    def param_names(self) -> tuple:
        return tuple(p.name for p in self.params)

    def param(self, name: str) -> ParamInfo:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(f"graph {self.name!r} has no parameter {name!r}; "
                       f"it has {list(self.param_names)}")

    def __str__(self) -> str:
        from .printer import format_graph
        return format_graph(self)
