"""pulseqzero: trace PyPulseq sequence scripts into a typed graph, export them
to ``.seq`` through pypulseq and simulate / optimise them with MR-zero.

    import pulseqzero
    pp = pulseqzero.pp_impl

    @pulseqzero.trace
    def gre(TR, TE, flips): ...

    graph = gre.trace(10e-3, 4e-3, flips)   # run once -> the IR
    print(graph)
    graph.write("gre.seq")                  # via pypulseq, byte-identical
    seq = graph.to_mr0(TE=te_tensor)        # differentiable MRzeroCore.Sequence
"""
from . import ir, backends  # noqa: F401  (installed sub-packages)
from .facade import ceil, floor, is_mr0_mode, mr0_mode, pp_impl, round
from .graph import Graph, GuardError, load
from .heap import frozen_heap
from .trace import BoundSequence, TracedFunction, trace
from .tracer import TracingWarning
from .optimize import Optimization, optimize  # noqa: E402  (the function shadows the module name)
from .plotting import plot_kspace, plot_sequence
from .simulate import execute_graph
from .scripts import as_pypulseq, trace_script

__version__ = "0.1.0"

__all__ = [
    "pp_impl", "mr0_mode", "is_mr0_mode", "round", "ceil", "floor", "trace", "Graph",
    "GuardError", "TracedFunction", "BoundSequence", "TracingWarning", "load",
    "optimize", "Optimization", "plot_sequence", "plot_kspace",
    "as_pypulseq", "trace_script", "frozen_heap", "execute_graph",
]

from . import tracer as _tracer
_tracer.register_internal(backends.__file__)
