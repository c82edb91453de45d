"""``scale_grad``, PyPulseq 1.4.2's algorithm over numbers or tracers (differentiable)."""
from __future__ import annotations

from copy import copy

from .events import Event, _LAZY, recorded
from .helpers import eps
from .make_arbitrary_grad import _largest
from .opts import as_opts
from .version import API_15

__all__ = ["scale_grad"]


def materialize(event) -> None:
    """Compute every lazily computed attribute of ``event`` now.

    PyPulseq computes them when the event is made; a copy must carry the values
    of the original (``scale_grad`` does not rescale an extended trapezoid's
    ``area``, so it must not be recomputed from the scaled waveform).
    """
    if isinstance(event, Event):
        kind = event.__dict__.get("type")
        for (lazy_kind, name) in list(_LAZY):
            if lazy_kind == kind and name not in event.__dict__:
                try:
                    getattr(event, name)
                except AttributeError:
                    pass


def derived_copy(event):
    """``copy(event)`` whose fields the implementation may change through ``__dict__``."""
    materialize(event)
    new = copy(event)
    if isinstance(new, Event):
        object.__setattr__(new, "_snap", None)  # the source's IR snapshot is not ours
    return new


def scaled(grad, scale, system=None):
    """A copy of the gradient ``grad`` with its amplitudes (Hz/m) times ``scale``.

    As in PyPulseq 1.4.2: a trapezoid's ``amplitude``, ``area`` and
    ``flat_area`` are scaled; an arbitrary / extended-trapezoid gradient's
    ``waveform``, ``first`` and ``last`` (not its ``area``); ``id`` is removed.
    PyPulseq 1.5 scales every gradient's ``area`` and, given a ``system``, checks the
    scaled amplitude and slew against its limits.
    """
    scaled_grad = derived_copy(grad)
    fields = scaled_grad.__dict__
    if scaled_grad.type == "trap":
        fields["amplitude"] = scaled_grad.amplitude * scale
        if not API_15:
            fields["area"] = scaled_grad.area * scale
        fields["flat_area"] = scaled_grad.flat_area * scale
        if system is not None:
            system = as_opts(system)
            if abs(scaled_grad.amplitude) > system.max_grad:
                raise ValueError("scale_grad: maximum amplitude exceeded "
                                 f"{100 * abs(scaled_grad.amplitude) / system.max_grad} %")
            if (abs(grad.amplitude) > eps and abs(scaled_grad.amplitude)
                    / min(scaled_grad.rise_time, scaled_grad.fall_time) > system.max_slew):
                # PyPulseq 1.5's message is a plain string: its braces stay as written
                raise ValueError("mr.scale_grad: maximum slew rate exceeded {100 * "
                                 "abs(scaled_grad.amplitude) / min(scaled_grad.rise_time, "
                                 "scaled_grad.fall_time) / system.max_slew} %")
    else:
        fields["waveform"] = scaled_grad.waveform * scale
        fields["first"] = scaled_grad.first * scale
        fields["last"] = scaled_grad.last * scale
        if system is not None:
            system = as_opts(system)
            peak = _largest(abs(scaled_grad.waveform))
            if peak > system.max_grad:
                raise ValueError(f"scale_grad: maximum amplitude exceeded "
                                 f"{100 * peak / system.max_grad} %")
            if peak > eps:
                waveform, tt = scaled_grad.waveform, grad.tt
                slew = _largest(abs((waveform[1:] - waveform[:-1]) / (tt[1:] - tt[:-1])))
                if slew > system.max_slew:
                    raise ValueError(f"scale_grad: maximum slew rate exceeded "
                                     f"{100 * slew / system.max_slew} %")
    if API_15:
        fields["area"] = scaled_grad.area * scale

    if hasattr(scaled_grad, "id"):
        delattr(scaled_grad, "id")

    return scaled_grad


if API_15:
    @recorded()
    def scale_grad(grad, scale, system=None):
        """A copy of ``grad`` with amplitudes and area times ``scale``, PyPulseq 1.5 (see
        ``scaled``); a ``system`` checks the result against its limits."""
        return scaled(grad, scale, system)
else:
    @recorded()
    def scale_grad(grad, scale):
        """A copy of ``grad`` with its amplitudes times ``scale``, PyPulseq 1.4.2 (see
        ``scaled``)."""
        return scaled(grad, scale)
