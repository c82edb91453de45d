"""The recording implementation of the PyPulseq 1.4.2 API.

Each function is written once over values that may be numbers or tracers:
with plain numbers it computes exactly what PyPulseq computes, with tracers it
records the computation into the trace's value graph. ``pulseqzero.pp_impl``
dispatches here inside ``mr0_mode()`` and while a traced function runs.

Every module of this package lists its public names in ``__all__``; this
namespace is their union (one module per PyPulseq function or group).
"""
import importlib as _importlib
import pkgutil as _pkgutil

__all__ = []
for _module in sorted(m.name for m in _pkgutil.iter_modules(__path__)):
    _mod = _importlib.import_module(f".{_module}", __name__)
    for _name in getattr(_mod, "__all__", ()):
        globals()[_name] = getattr(_mod, _name)
        __all__.append(_name)
del _module, _mod, _name


def __getattr__(name):
    # SigpyPulseOpts is an options holder: pypulseq's own class (imported on first use,
    # pypulseq takes seconds to import)
    if name == "SigpyPulseOpts":
        from ..backends.pypulseq import pp as real_pypulseq
        return real_pypulseq.SigpyPulseOpts
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
