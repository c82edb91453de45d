"""``scale_grad``, PyPulseq 1.4.2's algorithm over numbers or tracers (differentiable)."""
from __future__ import annotations

from copy import copy

from .events import Event, _LAZY, recorded

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


@recorded()
def scale_grad(grad, scale):
    """A copy of the gradient ``grad`` with its amplitudes (Hz/m) times ``scale``.

    As in PyPulseq 1.4.2: a trapezoid's ``amplitude``, ``area`` and
    ``flat_area`` are scaled; an arbitrary / extended-trapezoid gradient's
    ``waveform``, ``first`` and ``last`` (not its ``area``); ``id`` is removed.
    """
    scaled_grad = derived_copy(grad)
    fields = scaled_grad.__dict__
    if scaled_grad.type == "trap":
        fields["amplitude"] = scaled_grad.amplitude * scale
        fields["area"] = scaled_grad.area * scale
        fields["flat_area"] = scaled_grad.flat_area * scale
    else:
        fields["waveform"] = scaled_grad.waveform * scale
        fields["first"] = scaled_grad.first * scale
        fields["last"] = scaled_grad.last * scale

    if hasattr(scaled_grad, "id"):
        delattr(scaled_grad, "id")

    return scaled_grad
