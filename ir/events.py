"""Typed, immutable sequence events and where they came from.

Numeric fields are node ids into the graph's :class:`~ir.values.Values`
(constants are nodes too); channels, ``use`` and sample counts are static.
Each event keeps its :class:`Origin`: the PyPulseq call that made it, the
attribute assignments the script made to it before it was added to a block,
and the script line of each. The pypulseq backend replays exactly that.
"""
from __future__ import annotations

from typing import Union

import attrs

# ---------------------------------------------------------------- call arguments


@attrs.frozen(slots=True)
class ArgValue:
    """A number (constant or traced): node id; ``integral`` if the script had an int."""

    node: int
    integral: bool = False


@attrs.frozen(slots=True)
class ArgLiteral:
    """A non-numeric literal the script passed: str, bool or None."""

    value: object


@attrs.frozen(slots=True)
class ArgSystem:
    """An ``Opts`` object, by value."""

    system: "System"


@attrs.frozen(slots=True)
class ArgEvent:
    """An event passed to a call (``add_gradients([g1, g2])``), as it was then."""

    event: "Event"


@attrs.frozen(slots=True)
class ArgList:
    """A list or tuple of arguments."""

    items: tuple
    is_tuple: bool = False


Arg = Union[ArgValue, ArgLiteral, ArgSystem, ArgEvent, ArgList]


@attrs.frozen(slots=True)
class Call:
    """One PyPulseq call as the script made it."""

    name: str  # pypulseq function name, e.g. "make_trapezoid"
    args: tuple  # positional Args
    kwargs: tuple  # ((name, Arg), ...)
    line: str  # "script.py:42"
    id: int  # unique within a trace; replay runs each call once


@attrs.frozen(slots=True)
class Assign:
    """``event.attr = value`` done by the script after the call."""

    attr: str
    value: Arg
    line: str


@attrs.frozen(slots=True)
class Origin:
    call: Call
    output: int | None = None  # index into a tuple result, None for a single event
    assigns: tuple = ()


# ---------------------------------------------------------------- system limits

SYSTEM_FIELDS = (
    "max_grad", "max_slew", "rise_time", "rf_dead_time", "rf_ringdown_time",
    "adc_dead_time", "adc_raster_time", "rf_raster_time", "grad_raster_time",
    "block_duration_raster", "gamma", "B0",
)
#: the limits PyPulseq 1.5 added (ADC segmentation); None in a graph traced with the 1.4 API
SYSTEM_FIELDS_15 = ("adc_samples_limit", "adc_samples_divisor")


@attrs.frozen(slots=True)
class System:
    """PyPulseq ``Opts`` by value (Hz/m, Hz/m/s, s, Hz/T, T). ``rise_time`` may be None;
    ``adc_samples_limit`` / ``adc_samples_divisor`` (samples) exist from the 1.5 API on."""

    max_grad: float
    max_slew: float
    rise_time: object
    rf_dead_time: float
    rf_ringdown_time: float
    adc_dead_time: float
    adc_raster_time: float
    rf_raster_time: float
    grad_raster_time: float
    block_duration_raster: float
    gamma: float
    B0: float
    adc_samples_limit: object = None
    adc_samples_divisor: object = None

    def as_dict(self) -> dict:
        """The fields this system has: the 1.5 ADC limits only where they were set."""
        fields = {f: getattr(self, f) for f in SYSTEM_FIELDS}
        fields.update({f: getattr(self, f) for f in SYSTEM_FIELDS_15 if getattr(self, f) is not None})
        return fields


# ---------------------------------------------------------------- RF shapes


@attrs.frozen(slots=True)
class SincShape:
    """``make_sinc_pulse``'s waveform: all fields are node ids (s, -, -, -, s)."""

    duration: int
    time_bw_product: int
    apodization: int
    center_pos: int
    dwell: int
    kind = "sinc"


@attrs.frozen(slots=True)
class BlockShape:
    """``make_block_pulse``'s constant waveform of ``duration`` (s) on the RF ``raster`` (s)."""

    duration: int
    raster: int
    kind = "block"


@attrs.frozen(slots=True)
class GaussShape:
    """``make_gauss_pulse``'s waveform; ``bandwidth`` 0 means ``time_bw_product / duration``."""

    duration: int
    bandwidth: int
    time_bw_product: int
    apodization: int
    center_pos: int
    dwell: int
    kind = "gauss"


@attrs.frozen(slots=True)
class ArbitraryShape:
    """``make_arbitrary_rf``'s waveform: ``signal`` (vector) at t = (k + 0.5)·dwell,
    scaled to the flip angle unless ``no_signal_scaling``."""

    signal: int
    dwell: int
    no_signal_scaling: bool = False
    kind = "arbitrary"


@attrs.frozen(slots=True)
class SampledShape:
    """An explicit waveform: ``signal`` (Hz) sampled at times ``t`` (s), both vectors."""

    signal: int
    t: int
    kind = "sampled"


RFShape = Union[SincShape, BlockShape, GaussShape, ArbitraryShape, SampledShape]


# ---------------------------------------------------------------- events


@attrs.frozen(slots=True)
class Trap:
    """Trapezoid gradient: amplitude (Hz/m), times (s)."""

    channel: str = attrs.field(validator=attrs.validators.in_(("x", "y", "z")))
    amplitude: int
    rise_time: int
    flat_time: int
    fall_time: int
    delay: int
    origin: Origin | None = None
    kind = "trap"


@attrs.frozen(slots=True)
class RF:
    """RF pulse. ``flip_angle`` (rad) is what the shape is normalised to."""

    shape: RFShape
    flip_angle: int
    shape_dur: int
    delay: int
    freq_offset: int
    phase_offset: int
    dead_time: int
    ringdown_time: int
    use: str = ""  # "" when the script gave none (1.4 API); the 1.5 API's default 'undefined'
    origin: Origin | None = None
    # the 1.5 API's fields (None: a 1.4 graph, the event has no such attribute)
    freq_ppm: int | None = None  # frequency offset (ppm of the Larmor frequency)
    phase_ppm: int | None = None  # phase offset proportional to the Larmor frequency (ppm)
    center: int | None = None  # time of the pulse's centre from its start (s)
    kind = "rf"


@attrs.frozen(slots=True)
class ADC:
    """ADC readout; the number of samples is static."""

    num_samples: int
    dwell: int
    delay: int
    freq_offset: int
    phase_offset: int
    dead_time: int
    origin: Origin | None = None
    # the 1.5 API's fields (None: a 1.4 graph, the event has no such attribute)
    freq_ppm: int | None = None  # frequency offset (ppm of the Larmor frequency)
    phase_ppm: int | None = None  # phase offset proportional to the Larmor frequency (ppm)
    phase_modulation: int | None = None  # per-sample phase (rad), a vector of num_samples
    has_phase_modulation: bool = False  # False: pypulseq's phase_modulation is None
    kind = "adc"


@attrs.frozen(slots=True)
class Grad:
    """Arbitrary or extended-trapezoid gradient: ``waveform`` (Hz/m) at times ``tt`` (s, from
    the gradient's start), both vectors of static length; ``first`` / ``last`` the amplitudes
    at its start and end."""

    channel: str = attrs.field(validator=attrs.validators.in_(("x", "y", "z")))
    waveform: int
    tt: int
    delay: int
    shape_dur: int
    first: int
    last: int
    origin: Origin | None = None
    kind = "grad"


@attrs.frozen(slots=True)
class Label:
    """``make_label``: ``labelset`` or ``labelinc`` of a supported label name."""

    type: str = attrs.field(validator=attrs.validators.in_(("labelset", "labelinc")))
    label: str
    value: int
    origin: Origin | None = None
    kind = "label"


@attrs.frozen(slots=True)
class Trigger:
    """A ``trigger`` (physio input) or an ``output`` (digital output pulse)."""

    type: str = attrs.field(validator=attrs.validators.in_(("trigger", "output")))
    channel: str
    delay: int
    duration: int
    origin: Origin | None = None
    kind = "trigger"


@attrs.frozen(slots=True)
class Delay:
    """A pure delay (s). Without origin it is a block duration given as a number."""

    delay: int
    origin: Origin | None = None
    kind = "delay"


@attrs.frozen(slots=True)
class SoftDelay:
    """The 1.5 API's ``make_soft_delay``: the block's duration is ``default_duration`` (s);
    the scanner (or ``apply_soft_delay``) sets it to ``value / factor + offset`` for the
    value named ``hint``. ``num_id`` None: numbered by pypulseq on ``add_block``."""

    hint: str
    num_id: object  # int or None
    offset: int
    factor: int
    default_duration: int
    origin: Origin | None = None
    kind = "soft_delay"


Event = Union[Trap, Grad, RF, ADC, Label, Trigger, Delay, SoftDelay]

#: numeric fields of each event kind, in PyPulseq's attribute names
VALUE_FIELDS = {
    "trap": ("amplitude", "rise_time", "flat_time", "fall_time", "delay"),
    "grad": ("waveform", "tt", "delay", "shape_dur", "first", "last"),
    "rf": ("flip_angle", "shape_dur", "delay", "freq_offset", "phase_offset",
           "dead_time", "ringdown_time"),
    "adc": ("dwell", "delay", "freq_offset", "phase_offset", "dead_time"),
    "label": ("value",),
    "trigger": ("delay", "duration"),
    "delay": ("delay",),
    "soft_delay": ("offset", "factor", "default_duration"),
}

#: numeric fields the 1.5 API added: a node id, or None in an event traced with the 1.4 API
OPTIONAL_FIELDS = {
    "rf": ("freq_ppm", "phase_ppm", "center"),
    "adc": ("freq_ppm", "phase_ppm", "phase_modulation"),
}


def value_fields(event) -> tuple:
    """The numeric fields this event has (the 1.5 fields only where set)."""
    return VALUE_FIELDS[event.kind] + tuple(
        f for f in OPTIONAL_FIELDS.get(event.kind, ()) if getattr(event, f) is not None)


def event_nodes(event) -> list:
    """All value nodes an event refers to (its fields and its RF shape)."""
    nodes = [getattr(event, f) for f in value_fields(event)]
    if event.kind == "rf":
        nodes += shape_nodes(event.shape)
    return nodes


def shape_nodes(shape) -> list:
    """The value nodes of an RF shape (its numeric fields, in order)."""
    return [getattr(shape, f.name) for f in attrs.fields(type(shape)) if f.type != "bool"]
