"""The fields PyPulseq 1.5 adds to RF events, shared by the pulse makers."""
from __future__ import annotations

from warnings import warn

from ..tracer import value_of, user_line
from .version import API_15

__all__: list = []


def set_rf_15_fields(rf, freq_ppm, phase_ppm) -> None:
    """``freq_ppm`` / ``phase_ppm`` (ppm) in PyPulseq 1.5's attribute order; nothing for the
    1.4 API (``freq_ppm`` None)."""
    if freq_ppm is not None:
        rf.__dict__.update(freq_ppm=freq_ppm, phase_ppm=phase_ppm)


def warn_delay_raised(event) -> None:
    """PyPulseq 1.5 warns when a delay shorter than the dead time is raised to it (1.4.2 is
    silent). Formatted from the concrete values: a warning must not pin a traced delay."""
    if API_15:
        what = "RF" if event.type == "rf" else "ADC"
        warn(f"Specified {what} delay {value_of(event.delay) * 1e6:.2f} us is less than the dead "
             f"time {value_of(event.dead_time) * 1e6:.0f} us. Delay was increased to the dead "
             f"time. [{user_line()}]", stacklevel=2)
