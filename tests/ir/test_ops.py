"""The op table: numpy and torch implementations agree; rounding is straight-through."""
import numpy as np
import pytest
import torch

from pulseqzero.ir import ops

UNARY_DOMAIN = {"sqrt": (0.1, 4), "log": (0.1, 4), "log10": (0.1, 4), "arcsin": (-0.9, 0.9),
                "arccos": (-0.9, 0.9)}


@pytest.mark.parametrize("name", sorted(n for n, d in ops.OPS.items() if d.arity in (1, 2)
                                        and n not in ("getitem", "round_digits", "round_np", "slice")))
def test_numpy_and_torch_agree(name):
    spec = ops.OPS[name]
    lo, hi = UNARY_DOMAIN.get(name, (-3, 3))
    rng = np.random.default_rng(0)
    args = [rng.uniform(lo, hi, 16) for _ in range(spec.arity)]
    if spec.boolean and name in ("not", "and", "or"):
        args = [a > 0 for a in args]
    if name == "pow":
        args[0] = np.abs(args[0]) + 0.1
    if name in ("div", "floordiv", "mod"):
        args[1] = np.where(np.abs(args[1]) < 0.1, 0.5, args[1])
    expected = ops.eval_numpy(name, args)
    got = ops.eval_torch(name, [torch.as_tensor(a) for a in args]).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ["round", "ceil", "floor", "trunc", "floordiv"])
def test_rounding_is_straight_through_in_torch(name):
    x = torch.tensor([1.3, -2.7], dtype=torch.float64, requires_grad=True)
    args = [x] if ops.OPS[name].arity == 1 else [x, torch.tensor(1.0, dtype=torch.float64)]
    y = ops.eval_torch(name, args)
    y.sum().backward()
    assert torch.equal(x.grad, torch.ones(2, dtype=torch.float64))
    assert ops.OPS[name].straight_through


def test_python_round_with_digits_is_pythons():
    # numpy's round(x, 2) gives 2.68 here; Python's correctly rounded one 2.67
    assert ops.eval_numpy("round_digits", [2.675], (2,)) == round(2.675, 2)
    assert ops.eval_numpy("round", [2.5]) == round(2.5) == 2
