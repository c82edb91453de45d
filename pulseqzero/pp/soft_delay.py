"""``make_soft_delay`` (PyPulseq 1.5's DELAYS extension): not recorded yet.

A soft delay makes a block's duration a scanner-side parameter. Recording it needs the
block store to number hints as pypulseq does and the graph to replay ``apply_soft_delay``;
until then a traced script gets this error rather than a sequence without its soft delay.
"""
from __future__ import annotations

from ..tracer import user_line
from .version import API_15

__all__ = ["make_soft_delay"] if API_15 else []


def make_soft_delay(hint, numID=None, offset=0.0, factor=1.0, default_duration=10e-6):  # noqa: N803 (pypulseq's name)
    """Refuses: soft delays are not recorded yet (see the module docstring)."""
    raise NotImplementedError(
        f"make_soft_delay is not supported while tracing yet [{user_line()}]: use "
        "make_delay(default_duration) in the traced script (a traced duration is "
        "differentiable), or run the script under plain pypulseq (pulseqzero.as_pypulseq)")
