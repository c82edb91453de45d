"""Graph passes and the compiled evaluation plan preserve every result exactly.

The oracles: the per-node reference interpreter (``ir.evaluate.evaluate``),
the ``.seq`` file pypulseq writes for the unoptimised graph, and the mr0
sequence it lowers to.
"""
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import pulseqzero
from pulseqzero.ir import passes
from pulseqzero.ir.evaluate import Plan, evaluate
from pulseqzero.ir.values import Builder, Const, Op

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))
from tse import tse  # noqa: E402

pp = pulseqzero.pp_impl


def traced(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pulseqzero.trace(fn).trace(*args, **kwargs)


@pytest.fixture(scope="module")
def tse_graph():
    return traced(tse, 12e-3, 1.0, np.linspace(150.0, 180.0, 4), Nx=8, Ny=8, n_echo=4)


def fid(TE, TR, flip):
    """A script with dead values and the same sum written twice, commuted."""
    seq = pp.Sequence()
    unused = TE * 3 + TR  # noqa: F841  (a dead value)
    seq.add_block(pp.make_block_pulse(flip_angle=flip, duration=1e-3))
    seq.add_block(pp.make_delay(TE + 1e-3))
    seq.add_block(pp.make_adc(8, dwell=1e-5))
    seq.add_block(pp.make_delay(1e-3 + TE))  # commuted: one node after CSE
    seq.add_block(pp.make_delay(pp.ceil(TR / 1e-5) * 1e-5))
    return seq


@pytest.fixture(scope="module")
def fid_graph():
    return traced(fid, 4e-3, 20e-3, 0.5)


def seq_text(graph, tmp_path, name, **params):
    path = tmp_path / f"{name}.seq"
    graph.write(path, **params)
    return path.read_text()


def assert_same_mr0(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        for name in ("event_time", "gradm", "adc_phase", "adc_usage"):
            assert torch.equal(getattr(x, name), getattr(y, name)), name
        assert torch.equal(x.pulse.angle, y.pulse.angle) and torch.equal(x.pulse.phase, y.pulse.phase)


PASSES = [passes.fold_constants, passes.eliminate_common_subexpressions,
          passes.eliminate_dead_code, passes.optimize]


@pytest.mark.parametrize("graph_name", ["gre_graph", "tse_graph", "fid_graph"])
@pytest.mark.parametrize("pass_", PASSES, ids=lambda p: p.__name__)
def test_each_pass_preserves_the_seq_file_and_the_mr0_sequence(request, graph_name, pass_, tmp_path):
    graph = request.getfixturevalue(graph_name)
    out = pulseqzero.Graph(pass_(graph.ir))
    assert out.ir.param_names == graph.ir.param_names
    assert len(out.ir.guards) == len(graph.ir.guards)
    new = {p.name: np.asarray(p.traced_value) * 1.01 for p in graph.params}
    for params in ({}, new):
        assert seq_text(out, tmp_path, "after", **params) == seq_text(graph, tmp_path, "before", **params)
        assert_same_mr0(out.to_mr0(**params), graph.to_mr0(**params))


def test_dead_code_and_common_subexpressions_are_removed(fid_graph):
    g = fid_graph.ir
    dce = passes.eliminate_dead_code(g)
    assert len(dce.values) < len(g.values)  # `unused` is gone
    cse = passes.eliminate_common_subexpressions(g)
    assert cse.blocks[1].duration == cse.blocks[3].duration  # TE + 1e-3 == 1e-3 + TE
    assert g.blocks[1].duration != g.blocks[3].duration
    opt = passes.optimize(g)
    assert len(opt.values) < len(dce.values)
    # every reference of the optimised graph is a valid node
    assert max(passes.referenced_nodes(opt)) < len(opt.values)


def test_specialize_then_fold_equals_the_graph_at_those_values(gre_graph, tmp_path):
    te = 6.3e-3
    special = pulseqzero.Graph(passes.specialize(gre_graph.ir, TE=te))
    assert special.ir.param_names == ("TR", "flips")
    assert len(special.ir.values) < len(gre_graph.ir.values)
    # what TE determined is constant now: fewer parameter-dependent nodes, fewer guards
    assert sum(special.ir.values.depends_on_params()) < sum(gre_graph.ir.values.depends_on_params())
    assert len(special.ir.guards) < len(gre_graph.ir.guards)
    assert seq_text(special, tmp_path, "a", TR=14e-3) == seq_text(gre_graph, tmp_path, "b", TR=14e-3, TE=te)
    assert_same_mr0(special.to_mr0(), gre_graph.to_mr0(TE=te))
    with pytest.raises(ValueError, match="guard"):
        passes.specialize(gre_graph.ir, TE=1e-4)  # breaks "TE is too short"


def test_fold_constants_folds_ops_on_constants():
    b = Builder()
    two = b.const(2.0)
    x = b.op("sqrt", [two])
    p = b.param("TE")
    y = b.op("mul", [x, p])
    folded = passes.fold_constants(_bare(b.freeze(), y))
    assert isinstance(folded.values.nodes[x], Const)
    assert folded.values.nodes[x].value == np.sqrt(2.0)
    assert isinstance(folded.values.nodes[y], Op)


def _bare(values, root):
    from pulseqzero.ir.events import System
    from pulseqzero.ir.graph import Block, ParamInfo, SequenceGraph
    system = System(*([1.0] * 12))
    p = values.params()["TE"]
    return SequenceGraph("bare", values, (ParamInfo("TE", p, (), np.float64(1.0)),),
                         (Block((), root),), system)


# ---------------------------------------------------------------- the compiled plan


def bitwise_equal(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return False
    if a.dtype.kind in "fc" or b.dtype.kind in "fc":
        a, b = a.astype(np.complex128), b.astype(np.complex128)
        nan = np.isnan(a) & np.isnan(b)
        # the sign of 0.0 counts; a NaN's sign bit is unspecified (vector and scalar
        # kernels of one op may set it differently)
        same_sign = (np.signbit(a.real) == np.signbit(b.real)) | nan
        return bool(np.all(((a == b) | nan) & same_sign))
    return bool(np.array_equal(a, b))


def assert_plan_matches_reference(values, inputs, roots=None, skip_invalid=False):
    plan = Plan(values, roots)
    try:
        ref = evaluate(values, inputs, "numpy", roots=roots)
    except TypeError:  # e.g. -True: numpy refuses, a script could not have traced it
        assume(not skip_invalid)
        raise
    env = plan.run(inputs, "numpy")
    for i, r in enumerate(ref):
        if r is not None:
            assert bitwise_equal(env[i], r), f"%{i}: plan {env[i]!r}, reference {r!r}"
            assert np.asarray(env[i]).dtype.kind == np.asarray(r).dtype.kind or \
                np.asarray(r).dtype.kind in "iu", f"%{i}: dtype"
    t_inputs = {k: torch.as_tensor(np.asarray(v, dtype=np.float64)) for k, v in inputs.items()}
    env_t = plan.run(t_inputs, "torch")
    try:
        ref_t = evaluate(values, t_inputs, "torch", roots=roots)
    except RuntimeError:
        # the per-node torch table refuses e.g. True - x (bool tensors) where the plan
        # computes on float64, like numpy: nothing to compare with
        assert skip_invalid
        return plan
    for i, r in enumerate(ref_t):
        # (arithmetic on truth values, "x": numpy's small dtypes, torch's float32; compared
        # in numpy above)
        if r is not None and plan.kind[i] != "x":
            got = env_t[i]
            assert got.shape == r.shape, f"%{i}"
            torch.testing.assert_close(got.to(r.dtype), r, rtol=1e-12, atol=1e-300, equal_nan=True)
    return plan


@pytest.mark.parametrize("graph_name", ["gre_graph", "tse_graph", "fid_graph"])
def test_the_plan_equals_the_reference_interpreter(request, graph_name):
    graph = request.getfixturevalue(graph_name)
    inputs = {p.node: np.asarray(p.traced_value) * 0.93 for p in graph.params}
    assert_plan_matches_reference(graph.ir.values, inputs)
    assert_plan_matches_reference(graph.ir.values, inputs, graph.layout().dynamic_nodes())


def test_the_plan_keeps_gradients_and_straight_through_rounding(gre_graph):
    def loss(env_of):
        TE = torch.tensor(5.05e-3, dtype=torch.float64, requires_grad=True)
        flips = torch.linspace(8.0, 16.0, 16, dtype=torch.float64, requires_grad=True)
        inputs = gre_graph.inputs({"TE": TE, "flips": flips})
        env = env_of(inputs)
        total = sum(env[b.duration] * (k + 1) for k, b in enumerate(gre_graph.blocks))
        rf = [e.flip_angle for b in gre_graph.blocks for e in b.events if e.kind == "rf"]
        total = total + sum(env[n] ** 2 for n in rf)
        total.backward()
        return TE.grad, flips.grad

    plan = Plan(gre_graph.ir.values)
    got = loss(lambda inputs: plan.run(inputs, "torch"))
    ref = loss(lambda inputs: evaluate(gre_graph.ir.values, inputs, "torch"))
    for a, b in zip(got, ref):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=0)
    assert got[0] != 0  # through ceil: straight-through


def count_torch_ops(fn):
    from torch.overrides import TorchFunctionMode

    class Counter(TorchFunctionMode):
        n = 0

        def __torch_function__(self, func, types, args=(), kwargs=None):
            Counter.n += 1
            return func(*args, **(kwargs or {}))

    with Counter():
        fn()
    return Counter.n


@pytest.mark.parametrize("script", ["gre", "tse"])
def test_torch_ops_per_reexecution_do_not_grow_with_the_lines(gre_module, script):
    counts, groups, refs = [], [], []
    for n in (8, 32):
        if script == "gre":
            g = traced(gre_module.gre, 12e-3, 5e-3, np.linspace(5.0, 20.0, n), Nx=8, Ny=n)
        else:
            g = traced(tse, 12e-3, 1.0, np.linspace(150.0, 180.0, 4), Nx=8, Ny=n, n_echo=4)
        plan = g.plan("mr0")
        inputs = g.inputs({})
        counts.append(count_torch_ops(lambda: plan.run(inputs, "torch")))
        groups.append(plan.n_groups)
        refs.append(count_torch_ops(lambda: evaluate(g.ir.values, inputs, "torch",
                                                     roots=g.layout().dynamic_nodes())))
    assert counts[0] == counts[1] and groups[0] == groups[1]
    if script == "gre":  # flips[i] and what follows: per line in the reference interpreter
        assert refs[1] >= refs[0] + 3 * 24


# ---------------------------------------------------------------- random graphs

UNARY = ["neg", "abs", "sign", "sqrt", "exp", "log", "sin", "cos", "tan", "arctan", "tanh", "sinc",
         "floor", "ceil", "round", "trunc", "isfinite", "not"]
BINARY = ["add", "sub", "mul", "div", "floordiv", "mod", "pow", "minimum", "maximum", "arctan2",
          "lt", "le", "gt", "ge", "eq", "ne", "and", "or"]
CONSTS = [0.0, -0.0, 1, 2.5, -3.25, 1e-5, np.float64(0.1), True, np.inf, np.nan, 7]


@st.composite
def random_graphs(draw):
    """An unrolled-loop-like graph: repeated chains of random ops over a scalar and a vector
    parameter and constants, with the reductions, stacks and slices scripts use."""
    b = Builder()
    scalar = b.param("x")
    vec = b.param("v", (4,))
    pool = [scalar] + [b.op("getitem", [vec], (i,)) for i in range(4)]
    chain = draw(st.lists(st.tuples(st.sampled_from(UNARY + BINARY), st.integers(0, 10 ** 6),
                                    st.integers(0, 10 ** 6), st.sampled_from(CONSTS)),
                          min_size=1, max_size=8))
    repeats = draw(st.integers(1, 6))
    for rep in range(repeats):  # the same chain per "loop iteration", on other inputs
        local = list(pool)
        for op, i, j, c in chain:
            a = local[(i + rep) % len(local)]
            if op in UNARY:
                local.append(b.op(op, [a]))
            else:
                other = b.const(c) if j % 3 == 0 else local[(j + rep) % len(local)]
                local.append(b.op(op, [a, other] if j % 2 else [other, a]))
        pool.append(local[-1])
    s = b.op("stack", pool[-3:])
    pool.append(b.op("sum", [s]))
    cond = b.op("gt", [pool[-2], b.const(0.5)])
    pool.append(b.op("where", [cond, pool[1], b.const(2.0)]))
    pool.append(b.op("max_reduce", [b.op("slice", [vec], (1, 4, 1))]))
    pool.append(b.op("round_digits", [pool[-1]], (3,)))
    pool.append(b.op("cumsum", [b.op("mul", [vec, pool[-1]])]))
    values = b.freeze()
    x = draw(st.sampled_from([0.5, -1.25, 3.0, 0.0, 1e-3]))
    v = np.array(draw(st.lists(st.sampled_from([0.25, -2.0, 1.5, 4.0, 0.0]), min_size=4, max_size=4)))
    return values, {scalar: np.float64(x), vec: v}


@settings(max_examples=int(__import__('os').environ.get('PZ_EXAMPLES', 60)), deadline=None)
@given(random_graphs())
def test_the_plan_equals_the_reference_on_random_graphs(case):
    values, inputs = case
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert_plan_matches_reference(values, inputs, skip_invalid=True)


def test_a_plan_evaluates_only_what_its_roots_need(gre_graph):
    roots = [gre_graph.blocks[3].duration]
    plan = Plan(gre_graph.ir.values, roots)
    env = plan.run(gre_graph.inputs({}), "numpy")
    assert env[roots[0]] == gre_graph.evaluate()[roots[0]]
    other = gre_graph.blocks[4].duration
    if gre_graph.ir.values.depends_on_params()[other] and not plan.in_cone[other]:
        with pytest.raises(KeyError, match="not evaluated"):
            env[other]
