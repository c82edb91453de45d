"""``Graph``: a traced sequence you can print, re-execute and export.

It wraps the IR's :class:`~ir.graph.SequenceGraph` and connects it to the
backends: ``to_mr0(**params)`` (torch, differentiable), ``to_pypulseq`` and
``write`` (numpy float64, exact). Parameters not given keep their traced
values. Before evaluating with new values every guard is checked; a guard that
no longer holds raises :class:`GuardError` naming the script line.
"""
from __future__ import annotations

import numpy as np

from .ir.evaluate import evaluate, failed_guards
from .ir.graph import SequenceGraph

try:
    import torch
except ImportError:  # pragma: no cover
    torch = None


class GuardError(RuntimeError):
    """The graph was traced under a condition that these parameter values break."""


class Graph:
    """A traced sequence (see the module docstring)."""

    def __init__(self, ir_graph: SequenceGraph):
        self.ir = ir_graph
        self._layout = None

    # -- inspection ------------------------------------------------------------
    @property
    def name(self):
        return self.ir.name

    @property
    def params(self):
        """The inputs: name, node, shape and traced value of each."""
        return self.ir.params

    @property
    def blocks(self):
        return self.ir.blocks

    @property
    def guards(self):
        return self.ir.guards

    @property
    def system(self):
        return self.ir.system

    def __str__(self):
        return str(self.ir)

    def __repr__(self):
        shapes = ", ".join(f"{p.name}{list(p.shape) if p.shape else ''}" for p in self.params)
        return f"<Graph {self.name}({shapes}): {len(self.blocks)} blocks, {len(self.guards)} guards>"

    # -- parameters --------------------------------------------------------------
    def inputs(self, params: dict, check: bool = True) -> dict:
        """Node id -> value for every parameter (given, captured, or as traced)."""
        names = self.ir.param_names
        unknown = set(params) - set(names)
        if unknown:
            raise TypeError(f"{self.name} has no parameter(s) {sorted(unknown)}; "
                            f"its parameters are {list(names)}")
        inputs = {}
        for p in self.ir.params:
            if p.name in params:
                value = params[p.name]
                if np.shape(_detach(value)) != tuple(p.shape):
                    raise ValueError(f"parameter {p.name} has shape {tuple(p.shape)}, "
                                     f"got {np.shape(_detach(value))}")
            elif p.captured is not None:
                value = p.captured
            else:
                value = p.traced_value
            inputs[p.node] = value
        if check:
            self.check_guards(inputs)
        return inputs

    def check_guards(self, inputs: dict) -> None:
        failed = failed_guards(self.ir.guards, self.ir.values,
                               {k: _detach(v) for k, v in inputs.items()})
        if failed:
            lines = "\n".join("  " + g.describe() for g in failed)
            raise GuardError(
                f"{self.name} was traced under conditions these parameters break:\n{lines}\n"
                "Trace again at these values (call the traced function, or .trace(...)).")

    def evaluate(self, backend: str = "numpy", **params) -> list:
        """Every node's value for these parameters (guards checked)."""
        inputs = self.inputs(params)
        if backend == "numpy":
            inputs = {k: _detach(v) for k, v in inputs.items()}
        return evaluate(self.ir.values, inputs, backend)

    # -- backends ------------------------------------------------------------------
    def to_mr0(self, rf_subpulses: int = 1, **params):
        """MRzeroCore sequence at these parameter values; differentiable w.r.t. tensors given.

        ``rf_subpulses=n`` simulates each RF pulse as n sub-pulses (slice profiles)."""
        from .backends import mr0
        if self._layout is None:
            self._layout = mr0.Layout(self.ir)
        inputs = self.inputs(params)
        roots = self._layout.dynamic_nodes()
        device = next((v.device for v in inputs.values() if torch is not None
                       and isinstance(v, torch.Tensor)), None)
        env = evaluate(self.ir.values, inputs, "torch", roots=roots, device=device)
        return mr0.lower(self.ir, env, self._layout, device=device, rf_subpulses=rf_subpulses)

    def to_pypulseq(self, **params):
        """The ``pypulseq.Sequence`` the script builds at these values (float64, exact)."""
        from .backends import pypulseq as backend
        return backend.to_pypulseq(self.ir, self.evaluate("numpy", **params))

    def write(self, path, create_signature: bool = True, remove_duplicates: bool = True, **params):
        """Write the ``.seq`` file at these values via pypulseq (atomically)."""
        from .backends import pypulseq as backend
        env = self.evaluate("numpy", **params)
        return backend.write(self.ir, env, path, create_signature, remove_duplicates)


def _detach(value):
    if torch is not None and isinstance(value, torch.Tensor):
        return value.detach().cpu().to(torch.float64).numpy()
    return value
