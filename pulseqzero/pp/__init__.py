"""The recording implementation of the PyPulseq 1.4.2 API.

Each function is written once over values that may be numbers or tracers:
with plain numbers it computes exactly what PyPulseq computes, with tracers it
records the computation into the trace's value graph. ``pulseqzero.pp_impl``
dispatches here inside ``mr0_mode()`` and while a traced function runs.
"""
from .calc_duration import calc_duration
from .events import Event
from .make_adc import make_adc
from .make_block_pulse import make_block_pulse
from .make_delay import make_delay
from .make_sinc_pulse import make_sinc_pulse
from .make_trapezoid import make_trapezoid
from .opts import Opts
from .rf_use import get_supported_labels
from .sequence import Sequence

__all__ = [
    "Opts", "Sequence", "calc_duration", "make_adc", "make_block_pulse", "make_delay",
    "make_sinc_pulse", "make_trapezoid", "get_supported_labels", "Event",
]
