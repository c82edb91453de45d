"""Evaluate a value graph with numpy (float64, exact) or torch (autograd).

``evaluate(values, inputs, "numpy")`` reproduces the trace-time numbers bit
for bit; ``"torch"`` computes the same graph on tensors (float64, on the
device of the inputs) so gradients flow back to the parameters.
"""
from __future__ import annotations

import numpy as np

from . import ops as _ops
from .values import Const, Op, Param, Values

try:
    import torch
except ImportError:  # pragma: no cover
    torch = None


class MissingParameter(KeyError):
    pass


def needed(values: Values, roots) -> list:
    """Node ids the roots depend on, in topological order."""
    keep = [False] * len(values.nodes)
    stack = [int(r) for r in roots]
    while stack:
        i = stack.pop()
        if keep[i]:
            continue
        keep[i] = True
        node = values.nodes[i]
        if isinstance(node, Op):
            stack.extend(node.inputs)
    return [i for i, k in enumerate(keep) if k]


def _as_numpy(value):
    if torch is not None and isinstance(value, torch.Tensor):
        value = value.detach().cpu().to(torch.float64).numpy()
    value = np.asarray(value, dtype=np.float64)
    return value[()] if value.ndim == 0 else value


def _const_torch(value, device):
    if isinstance(value, (bool, np.bool_)):
        return torch.tensor(bool(value), device=device)
    value = np.asarray(value)
    dtype = np.complex128 if value.dtype.kind == "c" else (bool if value.dtype.kind == "b" else np.float64)
    return torch.as_tensor(np.array(value, dtype=dtype), device=device)


def evaluate(values: Values, inputs: dict, backend: str = "numpy", roots=None,
             device=None) -> list:
    """Values of the nodes (all, or those ``roots`` need), as a list by node id.

    ``inputs`` maps node id -> value for every parameter needed. Nodes that are
    not evaluated are None.
    """
    order = range(len(values.nodes)) if roots is None else needed(values, roots)
    env = [None] * len(values.nodes)
    if backend == "numpy":
        for i in order:
            node = values.nodes[i]
            if isinstance(node, Const):
                env[i] = node.value
            elif isinstance(node, Param):
                if i not in inputs:
                    raise MissingParameter(node.name)
                env[i] = _as_numpy(inputs[i])
            else:
                env[i] = _ops.eval_numpy(node.op, [env[j] for j in node.inputs], node.attrs)
        return env
    if backend != "torch":
        raise ValueError(f"unknown backend {backend!r}")
    if device is None:
        device = next((v.device for v in inputs.values() if isinstance(v, torch.Tensor)),
                      torch.device("cpu"))
    for i in order:
        node = values.nodes[i]
        if isinstance(node, Const):
            env[i] = _const_torch(node.value, device)
        elif isinstance(node, Param):
            if i not in inputs:
                raise MissingParameter(node.name)
            value = inputs[i]
            if isinstance(value, np.ndarray) and not value.flags.writeable:
                value = value.copy()
            env[i] = torch.as_tensor(value, device=device).to(torch.float64)
        else:
            env[i] = _ops.eval_torch(node.op, [env[j] for j in node.inputs], node.attrs)
    return env


def failed_guards(guards, values: Values, inputs: dict) -> list:
    """The guards that do not hold for these inputs (checked in numpy float64)."""
    if not guards:
        return []
    env = evaluate(values, inputs, "numpy", roots=[g.node for g in guards])
    return [g for g in guards if not g.holds(env[g.node])]
