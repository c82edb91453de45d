"""Pulse design (adiabatic, sigpy SLR / SMS): designed by pypulseq, recorded as waveforms.

Designing a pulse is a numerical optimisation that pulseqzero does not
differentiate. With plain numbers these functions call pypulseq's designer
and record its result (the waveform enters the graph as a constant and the
export replays the same call); a traced argument raises ``NotImplementedError``
naming the alternative: design the pulse with pypulseq and pass its signal to
``make_arbitrary_rf``, whose signal can be a graph parameter.
"""
from __future__ import annotations

from types import SimpleNamespace

from ..tracer import Tracer
from .events import Event, recorded, set_hidden
from .opts import Opts, as_opts
from .version import API_15

# pypulseq 1.5 exports no sigpy_n_seq / make_slr / make_sms (nor does pulseqzero.pp then)
__all__ = ["make_adiabatic_pulse"] + ([] if API_15 else ["sigpy_n_seq", "make_slr", "make_sms"])


def _pypulseq():
    """The real pypulseq (also inside ``as_pypulseq()``, where ``import pypulseq`` gives
    pulseqzero's stand-ins): the one the export backend imported."""
    from ..backends.pypulseq import pp
    return pp


def _concrete_args(name, args, kwargs):
    for value in list(args) + list(kwargs.values()):
        if isinstance(value, Tracer):
            raise NotImplementedError(
                f"{name} designs the pulse numerically and cannot follow a traced value. "
                f"Design the pulse with pypulseq.{name} and pass its signal to make_arbitrary_rf "
                "(the signal may be a traced parameter: a differentiable pulse shape).")


def _real_opts(system):
    real = _pypulseq().Opts()
    for name, value in vars(as_opts(system)).items():
        setattr(real, name, value)
    return real


def _event(ns):
    """Our Event for a pypulseq event namespace (an RF one keeps its designed waveform)."""
    if not isinstance(ns, SimpleNamespace):
        return ns
    event = Event(**vars(ns))
    if ns.type == "rf":
        set_hidden(event, flip_angle=0.0, shape=("sampled", ns.signal, ns.t))
    return event


def _design(name, args, kwargs):
    _concrete_args(name, args, kwargs)
    if "system" in kwargs:
        kwargs = dict(kwargs, system=_real_opts(kwargs["system"]))
    elif any(isinstance(a, Opts) for a in args):
        args = [_real_opts(a) if isinstance(a, Opts) else a for a in args]
    result = getattr(_pypulseq(), name)(*args, **kwargs)
    return tuple(_event(r) for r in result) if isinstance(result, tuple) else _event(result)


@recorded()
def make_adiabatic_pulse(pulse_type: str, *args, **kwargs):
    """pypulseq's adiabatic pulse (hypsec, wurst), recorded as a sampled waveform."""
    kwargs.setdefault("system", None)
    return _design("make_adiabatic_pulse", (pulse_type, *args), kwargs)


@recorded()
def sigpy_n_seq(flip_angle, *args, **kwargs):
    """pypulseq's sigpy SLR / SMS pulse, recorded as a sampled waveform."""
    kwargs.setdefault("system", None)
    return _design("sigpy_n_seq", (flip_angle, *args), kwargs)


def make_slr(*args, **kwargs):
    """pypulseq's SLR design: (signal, t, pulse) arrays (numbers only)."""
    _concrete_args("make_slr", args, kwargs)
    return _pypulseq().make_slr(*args, **kwargs)


def make_sms(*args, **kwargs):
    """pypulseq's SMS design: (signal, t, pulse) arrays (numbers only)."""
    _concrete_args("make_sms", args, kwargs)
    return _pypulseq().make_sms(*args, **kwargs)
