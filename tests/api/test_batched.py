"""Batched parameters: one evaluation for B parameter sets equals B evaluations, exactly."""
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings

import pulseqzero
from pulseqzero import GuardError
from pulseqzero.ir.evaluate import Plan
from tests.ir.test_passes import bitwise_equal, random_graphs

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))
from tse import tse  # noqa: E402

F64 = dict(dtype=torch.float64)


@pytest.fixture(scope="module")
def tse_graph():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pulseqzero.trace(tse).trace(12e-3, 1.0, np.linspace(150.0, 180.0, 4), Nx=8, Ny=8,
                                           n_echo=4)


def assert_same(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        for name in ("event_time", "gradm", "adc_phase", "adc_usage"):
            assert torch.equal(getattr(x, name), getattr(y, name)), name
        for name in ("angle", "phase", "grad"):
            assert torch.equal(getattr(x.pulse, name), getattr(y.pulse, name)), name
        for name in ("freq_offset", "duration"):  # floats where constant
            assert torch.equal(torch.as_tensor(getattr(x.pulse, name)),
                               torch.as_tensor(getattr(y.pulse, name))), name
        assert x.pulse.usage == y.pulse.usage
        assert x.adc_labels.keys() == y.adc_labels.keys()


def test_a_te_sweep_in_one_pass_equals_the_loop(gre_graph):
    te = torch.linspace(4.5e-3, 7e-3, 6, **F64)
    batch = gre_graph.to_mr0_batch(TE=te)
    assert len(batch) == 6
    for k in range(6):
        assert_same(batch[k], gre_graph.to_mr0(TE=te[k]))


def test_a_batch_of_vector_and_scalar_parameters_equals_the_loop(gre_graph, tse_graph):
    flips = torch.stack([torch.linspace(5.0, 20.0, 16, **F64) * s for s in (0.5, 1.0, 1.5)])
    tr = torch.tensor([12e-3, 13e-3, 15e-3], **F64)
    batch = gre_graph.to_mr0_batch(flips=flips, TR=tr)
    for k in range(3):
        assert_same(batch[k], gre_graph.to_mr0(flips=flips[k], TR=tr[k]))
    refoc = torch.stack([torch.full((4,), a, **F64) for a in (120.0, 150.0, 180.0)])
    te = np.array([12e-3, 14e-3, 20e-3])
    batch = tse_graph.to_mr0_batch(refoc_flips=refoc, TE=te)
    for k in range(3):
        assert_same(batch[k], tse_graph.to_mr0(refoc_flips=refoc[k], TE=te[k]))


def test_batched_gradients_equal_the_looped_ones(gre_graph):
    def loss(seq):
        return sum((r.event_time.double() * r.pulse.angle.double()).sum()
                   + r.gradm.double().square().sum() * 1e-12 for r in seq)

    te = torch.tensor([5.05e-3, 6.05e-3], **F64, requires_grad=True)
    flips = torch.linspace(5.0, 20.0, 16, **F64).repeat(2, 1).requires_grad_()
    sum(loss(s) for s in gre_graph.to_mr0_batch(TE=te, flips=flips)).backward()
    looped_te, looped_flips = [], []
    for k in range(2):
        t = te.detach()[k].clone().requires_grad_()
        f = flips.detach()[k].clone().requires_grad_()
        loss(gre_graph.to_mr0(TE=t, flips=f)).backward()
        looped_te.append(t.grad)
        looped_flips.append(f.grad)
    torch.testing.assert_close(te.grad, torch.stack(looped_te), rtol=1e-10, atol=0)
    torch.testing.assert_close(flips.grad, torch.stack(looped_flips), rtol=1e-10, atol=0)


def test_numpy_batches_are_bit_exact(gre_graph):
    te = np.array([4.5e-3, 5.5e-3, 6.123456789e-3])
    env = gre_graph.evaluate_batch("numpy", TE=te)
    for k in range(3):
        one = gre_graph.evaluate(TE=te[k])
        element = env.select(k)
        for i in range(len(gre_graph.ir.values)):
            assert bitwise_equal(element[i], one[i]), i


def test_each_batch_element_is_guarded(gre_graph):
    te = torch.tensor([5e-3, 1e-4, 6e-3, 2e-4], **F64)  # elements 1 and 3: TE too short
    with pytest.raises(GuardError, match="batch element 1:.*gre.py") as info:
        gre_graph.to_mr0_batch(TE=te)
    assert {b for b, _ in info.value.failed} == {1, 3}
    assert "batch element 3" in str(info.value)


def test_batch_shapes_are_checked(gre_graph):
    with pytest.raises(ValueError, match=r"needs shape \(B, 16\)"):
        gre_graph.to_mr0_batch(flips=np.ones(16))
    with pytest.raises(ValueError, match="batch sizes differ"):
        gre_graph.to_mr0_batch(TE=np.full(2, 5e-3), TR=np.full(3, 12e-3))
    with pytest.raises(ValueError, match="at least one parameter"):
        gre_graph.to_mr0_batch()
    with pytest.raises(TypeError, match="no parameter"):
        gre_graph.to_mr0_batch(T2=np.ones(2))


@settings(max_examples=40, deadline=None)
@given(random_graphs())
def test_a_batched_plan_equals_the_looped_plan_on_random_graphs(case):
    values, inputs = case
    plan = Plan(values)
    scale = np.array([1.0, -0.5, 2.0])
    batched = {k: np.stack([np.asarray(v) * s for s in scale]) for k, v in inputs.items()}
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            env = plan.run(batched, "numpy", batch=3)
        except TypeError:  # numpy refuses this graph (e.g. -True) anyway
            return
        for b in range(3):
            one = plan.run({k: v[b] for k, v in batched.items()}, "numpy")
            for i in range(len(values)):
                assert bitwise_equal(env.select(b)[i], one[i]), i
        env_t = plan.run({k: torch.as_tensor(v) for k, v in batched.items()}, "torch", batch=3)
        exact = exact_nodes(values)
        for b in range(3):
            one = plan.run({k: torch.as_tensor(v[b]) for k, v in batched.items()}, "torch")
            for i in range(len(values)):
                if plan.kind[i] == "x":
                    continue
                got, want = np.asarray(env_t.select(b)[i]), np.asarray(one[i])
                if exact[i]:
                    # torch's vectorised minimum / maximum may return either zero of
                    # minimum(0.0, -0.0): signed zeros are equal here (+ 0.0 makes -0.0 +0.0)
                    assert bitwise_equal(_unsigned_zeros(got), _unsigned_zeros(want)), i
                else:  # torch's vector code for sin, pow, ... may differ in the last bit
                    np.testing.assert_allclose(got, want, rtol=1e-14, atol=0, equal_nan=True)


def _unsigned_zeros(array):
    array = np.asarray(array)
    return array + 0.0 if array.dtype.kind in "fc" else array


def exact_nodes(values):
    """Nodes computed with IEEE-exact ops only (equal bits in any batch size, also in torch)."""
    from pulseqzero.ir.evaluate import NUMPY_EXACT
    from pulseqzero.ir.values import Op
    exact = []
    for node in values.nodes:
        ok = not isinstance(node, Op) or (
            (node.op in NUMPY_EXACT or node.op in ("getitem", "slice", "stack", "concat"))
            and all(exact[j] for j in node.inputs))
        exact.append(ok)
    return exact
