"""The evaluator: numpy reproduces the trace bit for bit, torch matches and differentiates."""
import numpy as np
import torch

from pulseqzero.ir.evaluate import evaluate
from pulseqzero.tracer import TraceContext, value_of


def test_numpy_evaluation_reproduces_trace_values(gre_graph):
    env = gre_graph.evaluate("numpy")
    g = gre_graph.ir
    for block in g.blocks:
        assert np.isfinite(float(env[block.duration]))
    with TraceContext("t") as ctx:
        te = ctx.new_param("TE", 5e-3)
        x = np.ceil((te - 1.234e-3) / 1e-5) * 1e-5 + te ** 2 / 3
        env = evaluate(ctx.builder.freeze(), {te.node: 5e-3})
        assert env[x.node] == value_of(x) == np.ceil((5e-3 - 1.234e-3) / 1e-5) * 1e-5 + 5e-3 ** 2 / 3


def test_torch_evaluation_matches_and_has_gradients():
    with TraceContext("t") as ctx:
        te = ctx.new_param("TE", 5e-3)
        x = np.ceil((te - 1.234e-3) / 1e-5) * 1e-5 + np.sin(te * 100)
        values = ctx.builder.freeze()
    t = torch.tensor(5e-3, dtype=torch.float64, requires_grad=True)
    env = evaluate(values, {te.node: t}, "torch")
    assert abs(float(env[x.node]) - value_of(x)) < 1e-15
    env[x.node].backward()
    assert abs(float(t.grad) - (1 + 100 * np.cos(0.5))) < 1e-9  # ceil is straight-through
