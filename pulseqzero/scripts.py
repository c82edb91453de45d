"""Unmodified PyPulseq scripts: ``as_pypulseq()`` and ``trace_script()``.

Inside ``with pulseqzero.as_pypulseq():`` the statements ``import pypulseq``,
``from pypulseq import make_trapezoid``, ``from pypulseq.opts import Opts``,
``import pypulseq.Sequence.sequence`` ... give stand-ins that behave like
``pulseqzero.pp_impl``: each PyPulseq function or class (``Sequence``,
``Opts``) decides when it is *called* -- real pypulseq normally, the recording
implementation while a trace (or ``mr0_mode()``) runs. So a script imported
inside the block keeps working afterwards, with real pypulseq.

How: on entry the real ``pypulseq`` modules in ``sys.modules`` are swapped for
stand-in modules (and a meta-path finder makes stand-ins for submodules first
imported inside the block); on exit the real modules are put back. Modules
that imported the real pypulseq before (pulseqzero's own pypulseq backend is
imported on entry for that reason) keep it.

``trace_script(path)`` traces a script: its entry function (``main``) with the
keyword arguments given, or else its module body; the graph is that of the
one ``Sequence`` it built (or returned).
"""
from __future__ import annotations

import ast
import contextlib
import functools
import importlib
import importlib.abc
import importlib.util
import sys
import threading
import types
from pathlib import Path

from . import tracer as _tr
from .facade import is_mr0_mode

__all__ = ["as_pypulseq", "trace_script"]


def _is_pypulseq(name: str) -> bool:
    return name == "pypulseq" or name.startswith("pypulseq.")


def _recording(name: str):
    """The recording implementation of a PyPulseq name (raises if there is none)."""
    from . import pp
    try:
        return getattr(pp, name)
    except AttributeError:
        raise NotImplementedError(
            f"pypulseq.{name} has no recording implementation in pulseqzero, so it cannot run "
            "while a sequence is traced; see docs/api-support.md") from None


def _function(name: str, real):
    """A stand-in for a PyPulseq function: pypulseq's, or the recording one while tracing."""
    @functools.wraps(real)
    def dispatch(*args, **kwargs):
        if is_mr0_mode():
            return _recording(name)(*args, **kwargs)
        return real(*args, **kwargs)
    return dispatch


class _ClassDispatch(type):
    """Metaclass of the stand-in for a PyPulseq class (``Sequence``, ``Opts``): calling it
    makes a pypulseq or a recording object, ``isinstance`` accepts both, and class
    attributes (``Opts.default``, ``Opts.reset_default``) come from the current one."""

    def _current(cls):
        return _recording(cls._name) if is_mr0_mode() else cls._real

    def __call__(cls, *args, **kwargs):
        return cls._current()(*args, **kwargs)

    def __instancecheck__(cls, obj):
        from . import pp
        return isinstance(obj, cls._real) or isinstance(obj, getattr(pp, cls._name, ()))

    def __getattr__(cls, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(cls._current(), name)


def _class(name: str, real):
    return _ClassDispatch(name, (), {"_name": name, "_real": real, "__doc__": real.__doc__,
                                     "__module__": real.__module__})


class _StandInModule(types.ModuleType):
    """A pypulseq module whose PyPulseq functions and classes are stand-ins; everything
    else (constants, helpers, submodules as stand-ins) is the real module's."""

    def __init__(self, real: types.ModuleType):
        super().__init__(real.__name__, real.__doc__)
        d = self.__dict__
        d["_real"] = real
        for attr in ("__file__", "__path__", "__package__"):
            if hasattr(real, attr):
                d[attr] = getattr(real, attr)
        d["__all__"] = list(getattr(real, "__all__", [n for n in dir(real)
                                                      if not n.startswith("_")]))

    def __getattr__(self, name):
        value = getattr(self._real, name)
        hit = _STAND_INS.get(id(value))
        if hit is not None and hit[0] is value:
            return hit[1]
        if isinstance(value, types.ModuleType) and _is_pypulseq(value.__name__):
            return _stand_in_module(value)
        return value

    def __setattr__(self, name, value):
        # the import system sets a package attribute for each submodule it loads; pypulseq's
        # own attribute of that name (e.g. the function calc_duration) wins, as in pypulseq
        if isinstance(value, types.ModuleType) and hasattr(self._real, name):
            return
        super().__setattr__(name, value)

    def __dir__(self):
        return dir(self._real)

    def __repr__(self):
        return f"<pulseqzero stand-in for module {self.__name__!r}>"


_STAND_INS: dict = {}  # id(real object) -> (real object, stand-in)
_MODULES: dict = {}  # real module name -> stand-in module


def _build_stand_ins(pypulseq) -> None:
    """Stand-ins for every PyPulseq function and class pypulseq exports at its top level."""
    if _STAND_INS:
        return
    for name in dir(pypulseq):
        value = getattr(pypulseq, name)
        if name.startswith("_") or not _is_pypulseq(getattr(value, "__module__", "") or ""):
            continue
        if isinstance(value, type):
            _STAND_INS[id(value)] = (value, _class(name, value))
        elif callable(value):
            _STAND_INS[id(value)] = (value, _function(name, value))


def _stand_in_module(real: types.ModuleType) -> _StandInModule:
    hit = _MODULES.get(real.__name__)
    if hit is None or hit._real is not real:
        hit = _MODULES[real.__name__] = _StandInModule(real)
    return hit


class _Swap:
    """The state of the swapped ``sys.modules`` (one per process, nested entries share it)."""

    def __init__(self):
        self.lock = threading.RLock()
        self.depth = 0
        self.real: dict = {}  # module name -> real pypulseq module

    def install(self) -> None:
        for name in [n for n in sys.modules if _is_pypulseq(n)]:
            module = sys.modules[name]
            if not isinstance(module, _StandInModule):
                self.real[name] = module
            sys.modules[name] = _stand_in_module(self.real[name])

    def restore(self) -> None:
        for name in [n for n in sys.modules if _is_pypulseq(n)]:
            if name in self.real:
                sys.modules[name] = self.real[name]
            elif isinstance(sys.modules[name], _StandInModule):
                del sys.modules[name]

    def import_real(self, fullname: str) -> types.ModuleType:
        """Import a pypulseq submodule for real (the real modules briefly back in place)."""
        with self.lock:
            self.restore()
            sys.meta_path.remove(_FINDER)
            try:
                return importlib.import_module(fullname)
            finally:
                sys.meta_path.insert(0, _FINDER)
                self.install()


_SWAP = _Swap()


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Makes stand-ins for pypulseq submodules first imported inside ``as_pypulseq()``."""

    def find_spec(self, fullname, path=None, target=None):
        if not _is_pypulseq(fullname):
            return None
        real = _SWAP.import_real(fullname)
        return importlib.util.spec_from_loader(fullname, self, origin=getattr(real, "__file__", None),
                                               is_package=hasattr(real, "__path__"))

    def create_module(self, spec):
        return _stand_in_module(_SWAP.real[spec.name])

    def exec_module(self, module):
        pass


_FINDER = _Finder()


@contextlib.contextmanager
def as_pypulseq():
    """Inside: ``import pypulseq`` (and its submodules) gives pulseqzero's stand-ins, which
    call real pypulseq normally and record while a sequence is traced. Restored on exit."""
    import pypulseq  # noqa: F401  (the real one, before the swap)
    from .backends import pypulseq as _backend  # noqa: F401  (binds the real pypulseq)
    from . import pp  # noqa: F401
    with _SWAP.lock:
        _build_stand_ins(sys.modules["pypulseq"])
        if _SWAP.depth == 0:
            _SWAP.install()
            sys.meta_path.insert(0, _FINDER)
        _SWAP.depth += 1
    try:
        yield
    finally:
        with _SWAP.lock:
            _SWAP.depth -= 1
            if _SWAP.depth == 0:
                sys.meta_path.remove(_FINDER)
                _SWAP.restore()


def _has_function(source: str, name: str) -> bool:
    return any(isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name
               for node in ast.parse(source).body)


def trace_script(path, entry: str = "main", **kwargs):
    """Trace an unmodified PyPulseq script; returns its :class:`~pulseqzero.Graph`.

    If the script defines a function ``entry``, the module is imported (inside
    ``as_pypulseq()``) and ``entry(**kwargs)`` is traced: float arguments become graph
    parameters, like ``@pulseqzero.trace``. Otherwise the module body is the sequence and
    runs inside the trace (``kwargs`` must then be empty). The graph is that of the
    ``Sequence`` the function returned, else of the one it built (an error if it built
    several). ``seq.write`` inside writes nothing (and says so once).
    """
    return _trace_script(path, entry, kwargs)[0]


def _trace_script(path, entry: str, kwargs: dict):
    """(graph, the recording Sequence it is the graph of) of a script (see trace_script)."""
    from .graph import Graph
    from .trace import TracedFunction, find_sequence
    path = Path(path)
    source = path.read_text()
    code = compile(source, str(path), "exec")
    module = types.ModuleType(f"pulseqzero_script_{path.stem}")
    module.__file__ = str(path)
    with as_pypulseq():
        if _has_function(source, entry):
            sys.modules[module.__name__] = module
            try:
                exec(code, module.__dict__)
            finally:
                sys.modules.pop(module.__name__, None)
            function = getattr(module, entry)

            found = []

            @functools.wraps(function)
            def script(*args, **kw):
                result = function(*args, **kw)
                found.append(find_sequence(result, _tr.current(), path.name))
                return result
            script.__name__ = path.stem  # the graph's name
            graph = TracedFunction(script).trace(**kwargs)
            return graph, found[0]
        if kwargs:
            raise TypeError(f"{path.name} has no function {entry!r}: its module body is the "
                            f"sequence and takes no arguments (got {sorted(kwargs)})")
        with _tr.TraceContext(path.stem, mode="trace") as ctx:
            sys.modules[module.__name__] = module
            try:
                exec(code, module.__dict__)
            finally:
                sys.modules.pop(module.__name__, None)
            seq = find_sequence(None, ctx, path.name)
            return Graph(seq.to_graph(path.stem)), seq
