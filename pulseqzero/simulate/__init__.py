"""The simulation layer: our PDG main pass (``execute_graph``) over MRzeroCore's pre-pass graph.

MRzeroCore stays the source of the pre-pass (``compute_graph``), the data model
(``Sequence``, ``SimData``) and the test oracle (its own ``execute_graph``).
"""
from .pdg import execute_graph
from .plan import Plan, make_plan

__all__ = ["execute_graph", "Plan", "make_plan"]
