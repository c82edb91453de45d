"""``calc_SAR`` while recording: returns ``(True, [])``, as the seed's "Disabled in mr0 mode"
table specifies.

Why not computed from the graph's RF waveforms: PyPulseq 1.4.2's ``calc_SAR``
returns nothing and only plots (10 s / 6 min averages from an 8-channel Q
matrix model), it needs at least 10 s of sequence, and its per-block loop
indexes its arrays off by one (it raises ``IndexError`` when the last block
holds an RF pulse). There is no PyPulseq result to agree with and nothing to
differentiate; a SAR check belongs to the exported ``.seq`` under real
pypulseq (``graph.to_pypulseq()``), outside the trace.
"""
from __future__ import annotations

from pathlib import Path

from ..tracer import current, user_line
from .version import API_15

__all__ = ["calc_SAR"]


def calc_SAR(file):
    """``(True, [])``: SAR is not evaluated while recording (see the module docstring).
    With PyPulseq 1.5, which removed it, raises its ``RuntimeError`` naming PySar4seq.

    A path that does not name an existing file raises PyPulseq's ``ValueError``. Says
    once per recording, as a :class:`~pulseqzero.TracingWarning` naming the script line,
    that nothing was checked.
    """
    if API_15:  # PyPulseq 1.5 removed it; its calc_SAR raises this, traced or not
        raise RuntimeError("Built-in SAR computation has been removed; use PySar4seq "
                           "(https://github.com/imr-framework/sar4seq/tree/PySar4seq) instead.")
    if isinstance(file, (str, Path)):
        path = Path(file)
        if not (path.exists() and path.is_file()):
            raise ValueError("Seq file does not exist.")
    ctx = current()
    if ctx is not None:
        ctx.say_once(("calc_SAR",), f"{user_line()}: calc_SAR is not evaluated while "
                     "recording and returns (True, []): check SAR on the exported sequence "
                     "with real pypulseq (graph.to_pypulseq() or the written .seq)")
    return True, []
