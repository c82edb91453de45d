"""``Opts``: system limits, as in the installed PyPulseq (values in Hz/m, Hz/m/s, s).

PyPulseq 1.5 adds ``adc_samples_limit`` and ``adc_samples_divisor`` (ADC
segmentation), inserted into the signature before ``rise_time``.
"""
from __future__ import annotations

from .convert import convert
from .version import API_15

from ..ir.events import SYSTEM_FIELDS, SYSTEM_FIELDS_15, System

#: the attributes of an ``Opts``, in the order the installed pypulseq sets them
OPTS_FIELDS = (SYSTEM_FIELDS[:10] + SYSTEM_FIELDS_15 + SYSTEM_FIELDS[10:]) if API_15 else SYSTEM_FIELDS

__all__ = ["Opts"]


class Opts:
    """System limits of an MR scanner, with PyPulseq's defaults and unit handling.

    ``Opts.default`` is this implementation's own default: ``set_as_default``
    here does not touch pypulseq's.
    """

    if API_15:
        def __init__(self, adc_dead_time=None, adc_raster_time=None, block_duration_raster=None,
                     gamma=None, grad_raster_time=None, grad_unit: str = "Hz/m", max_grad=None,
                     max_slew=None, rf_dead_time=None, rf_raster_time=None, rf_ringdown_time=None,
                     adc_samples_limit=None, adc_samples_divisor=None, rise_time=None,
                     slew_unit: str = "Hz/m/s", B0=None):
            self._set(adc_dead_time, adc_raster_time, block_duration_raster, gamma,
                      grad_raster_time, grad_unit, max_grad, max_slew, rf_dead_time,
                      rf_raster_time, rf_ringdown_time, rise_time, slew_unit, B0,
                      adc_samples_limit=adc_samples_limit, adc_samples_divisor=adc_samples_divisor)
    else:
        def __init__(self, adc_dead_time=None, adc_raster_time=None, block_duration_raster=None,
                     gamma=None, grad_raster_time=None, grad_unit: str = "Hz/m", max_grad=None,
                     max_slew=None, rf_dead_time=None, rf_raster_time=None, rf_ringdown_time=None,
                     rise_time=None, slew_unit: str = "Hz/m/s", B0=None):
            self._set(adc_dead_time, adc_raster_time, block_duration_raster, gamma,
                      grad_raster_time, grad_unit, max_grad, max_slew, rf_dead_time,
                      rf_raster_time, rf_ringdown_time, rise_time, slew_unit, B0)

    def _set(self, adc_dead_time, adc_raster_time, block_duration_raster, gamma,
             grad_raster_time, grad_unit, max_grad, max_slew, rf_dead_time, rf_raster_time,
             rf_ringdown_time, rise_time, slew_unit, B0, **adc_samples):
        valid_grad_units = ["Hz/m", "mT/m", "rad/ms/mm"]
        valid_slew_units = ["Hz/m/s", "mT/m/ms", "T/m/s", "rad/ms/mm/ms"]
        if grad_unit not in valid_grad_units:
            raise ValueError("Invalid gradient unit. Must be one of 'Hz/m', 'mT/m' or 'rad/ms/mm'. "
                             f"Passed: {grad_unit}")
        if slew_unit not in valid_slew_units:
            raise ValueError("Invalid slew rate unit. Must be one of 'Hz/m/s', 'mT/m/ms', 'T/m/s' "
                             f"or 'rad/ms/mm/ms'. Passed: {slew_unit}")
        default = Opts.default
        if gamma is None:
            gamma = default.gamma
        if max_grad is not None:
            max_grad = convert(from_value=max_grad, from_unit=grad_unit, to_unit="Hz/m", gamma=abs(gamma))
        else:
            max_grad = default.max_grad
        if max_slew is not None:
            max_slew = convert(from_value=max_slew, from_unit=slew_unit, to_unit="Hz/m", gamma=abs(gamma))
        else:
            max_slew = default.max_slew
        if rise_time is not None:
            max_slew = max_grad / rise_time

        def pick(value, name):
            return getattr(default, name) if value is None else value

        self.max_grad = max_grad
        self.max_slew = max_slew
        self.rise_time = rise_time
        self.rf_dead_time = pick(rf_dead_time, "rf_dead_time")
        self.rf_ringdown_time = pick(rf_ringdown_time, "rf_ringdown_time")
        self.adc_dead_time = pick(adc_dead_time, "adc_dead_time")
        self.adc_raster_time = pick(adc_raster_time, "adc_raster_time")
        self.rf_raster_time = pick(rf_raster_time, "rf_raster_time")
        self.grad_raster_time = pick(grad_raster_time, "grad_raster_time")
        self.block_duration_raster = pick(block_duration_raster, "block_duration_raster")
        for name, value in adc_samples.items():  # the 1.5 API's ADC segmentation limits
            setattr(self, name, pick(value, name))
        self.gamma = gamma
        self.B0 = pick(B0, "B0")

    def set_as_default(self):
        Opts.default = self

    @classmethod
    def reset_default(cls):
        cls.default = _builtin_default()

    def __str__(self) -> str:
        return "System limits:\n" + "\n".join(f"{k}: {v}" for k, v in vars(self).items())

    def to_system(self) -> System:
        """The IR record of these limits (by value)."""
        return to_system(self)


def _builtin_default():
    o = Opts.__new__(Opts)
    values = dict(max_grad=convert(from_value=40, from_unit="mT/m"),
                  max_slew=convert(from_value=170, from_unit="T/m/s"), rise_time=None,
                  rf_dead_time=0, rf_ringdown_time=0, adc_dead_time=0, adc_raster_time=100e-9,
                  rf_raster_time=1e-6, grad_raster_time=10e-6, block_duration_raster=10e-6,
                  gamma=42576000, B0=1.5, adc_samples_limit=0, adc_samples_divisor=4)
    # the same attribute order as pypulseq's Opts(...) constructor
    for name in OPTS_FIELDS:
        setattr(o, name, values[name])
    return o


Opts.default = _builtin_default()


def as_opts(system) -> Opts:
    """Our ``Opts`` for None (the default), ours, or a real ``pypulseq.Opts``."""
    if system is None:
        return Opts.default
    if isinstance(system, Opts):
        return system
    if all(hasattr(system, f) for f in OPTS_FIELDS):
        o = Opts.__new__(Opts)
        for name in OPTS_FIELDS:
            setattr(o, name, getattr(system, name))
        return o
    raise TypeError(f"system must be a pypulseq Opts object, got {type(system).__name__}")


def to_system(opts) -> System:
    def concrete(v):
        # system limits are structural: a traced limit is pinned (guarded)
        return v if v is None or isinstance(v, (int, float)) else float(v)
    return System(**{f: concrete(getattr(opts, f)) for f in OPTS_FIELDS})
