"""pulseqzero's IR: a typed block/event graph over an SSA value graph.

Imports nothing else of pulseqzero. Modules: ``values`` (nodes, hash-consing),
``ops`` (the closed op set, numpy + torch), ``events`` (typed events and their
origin), ``graph`` (blocks, guards, the sequence graph), ``shapes`` (RF
waveforms), ``evaluate`` (numpy / torch evaluator), ``printer``.
"""
from .events import ADC, RF, Delay, Trap
from .graph import Block, Guard, ParamInfo, SequenceGraph
from .values import Builder, Const, Op, Param, Values

__all__ = ["ADC", "RF", "Delay", "Trap", "Block", "Guard", "ParamInfo", "SequenceGraph",
           "Builder", "Const", "Op", "Param", "Values"]
