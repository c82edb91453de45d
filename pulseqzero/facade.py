"""``pp_impl``: PyPulseq, or the recording implementation while recording.

``pp = pulseqzero.pp_impl`` resolves each attribute when it is used: real
pypulseq normally, pulseqzero's recording implementation inside
``mr0_mode()`` and while a traced function runs. ``pp.round``, ``pp.ceil``
and ``pp.floor`` are pulseqzero's straight-through rounding in both modes.
"""
from __future__ import annotations

import contextlib

import numpy as np

from . import tracer as _tr

try:
    import torch
except ImportError:  # pragma: no cover
    torch = None


def is_mr0_mode() -> bool:
    """True inside ``mr0_mode()`` or while a traced function runs."""
    return _tr.current() is not None


@contextlib.contextmanager
def mr0_mode(name: str = "mr0_mode"):
    """Inside: ``pp_impl`` records; ``seq.to_mr0()`` gives a differentiable MR-zero sequence.

    Torch tensors that reach the recording implementation are captured: the
    simulated signal is differentiable w.r.t. them.
    """
    with _tr.TraceContext(name, mode="mr0") as ctx:
        yield ctx


def _rounding(op: str, torch_fn, numpy_fn):
    def rounding(x):
        if isinstance(x, _tr.Tracer):
            return _tr.apply(op, x, kind="f")
        if torch is not None and isinstance(x, torch.Tensor):
            if not x.is_floating_point():
                return x
            return x + (torch_fn(x) - x).detach()
        result = numpy_fn(x)
        return float(result) if np.ndim(result) == 0 and isinstance(x, (int, float)) else result
    rounding.__name__ = {"round": "round", "ceil": "ceil", "floor": "floor"}[op]
    rounding.__doc__ = (f"{rounding.__name__} with a straight-through gradient: the forward "
                        "pass rounds, the backward pass is the identity. Works on floats, "
                        "numpy arrays, torch tensors and traced values.")
    return rounding


round = _rounding("round", lambda x: torch.round(x), np.round)
ceil = _rounding("ceil", lambda x: torch.ceil(x), np.ceil)
floor = _rounding("floor", lambda x: torch.floor(x), np.floor)

_EXTRA = {"round": round, "ceil": ceil, "floor": floor}


class PPImpl:
    """The PyPulseq facade (see the module docstring)."""

    def __getattr__(self, name: str):
        if name in _EXTRA:
            return _EXTRA[name]
        if name.startswith("__"):
            raise AttributeError(name)
        if is_mr0_mode():
            from . import pp
            try:
                return getattr(pp, name)
            except AttributeError:
                raise AttributeError(f"pulseqzero's recording implementation has no {name!r}; "
                                     "see docs/api-support.md") from None
        import pypulseq
        return getattr(pypulseq, name)

    def __dir__(self):
        import pypulseq
        return sorted(set(dir(pypulseq)) | set(_EXTRA))

    def __repr__(self):
        return f"<pulseqzero.pp_impl: {'recording' if is_mr0_mode() else 'pypulseq'}>"


pp_impl = PPImpl()
