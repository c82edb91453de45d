"""Which PyPulseq API this installation re-implements: the installed pypulseq's.

pulseqzero re-implements the API of the pypulseq it finds next to it, 1.4.2 or
1.5.x, so that a script behaves the same traced as under plain pypulseq and the
export replays it through that same pypulseq. The version is read from the
package metadata (importing pypulseq takes seconds; the metadata does not).
"""
from __future__ import annotations

from importlib import metadata

__all__: list = []  # nothing of this module belongs to the PyPulseq namespace

#: the API versions pulseqzero implements, as (major, minor)
SUPPORTED = ((1, 4), (1, 5))


def _detect() -> tuple[str, tuple[int, int]]:
    try:
        installed = metadata.version("pypulseq")
    except metadata.PackageNotFoundError:
        raise ImportError("pulseqzero needs pypulseq 1.4.2 or 1.5.x installed beside it: "
                          "pip install 'pypulseq>=1.4.2,<1.6'") from None
    parts = installed.split(".")
    try:
        api = (int(parts[0]), int(parts[1]))
    except (IndexError, ValueError):
        api = None
    # 1.4.0 / 1.4.1 differ from 1.4.2 in their signatures: only 1.4.2 of the 1.4 line
    if api not in SUPPORTED or (api == (1, 4) and not installed.startswith("1.4.2")):
        raise ImportError(f"pulseqzero implements the API of pypulseq 1.4.2 and 1.5.x; "
                          f"pypulseq {installed} is installed: "
                          "pip install 'pypulseq>=1.4.2,<1.6'")
    return installed, api


#: the installed pypulseq's version string, e.g. "1.4.2" or "1.5.0.post1"
PYPULSEQ_VERSION, API = _detect()
#: True where the installed pypulseq is 1.5.x (the soft delays, ppm offsets, ... API)
API_15 = API >= (1, 5)
#: the API version a traced graph records, "1.4" or "1.5"
API_NAME = f"{API[0]}.{API[1]}"
