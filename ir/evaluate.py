"""Evaluate a value graph with numpy (float64, exact) or torch (autograd).

Two evaluators live here:

* :func:`evaluate` -- the reference interpreter: one op call per node, in
  topological order. ``evaluate(values, inputs, "numpy")`` reproduces the
  trace-time numbers bit for bit; ``"torch"`` computes the same graph on
  tensors (float64, on the device of the inputs) so gradients flow back.
* :class:`Plan` -- the compiled evaluation the hot path uses. It is built
  once per graph (and set of root nodes) and re-run with new parameters:

  - nodes that do not depend on a parameter are computed once, at compile
    time, exactly (the reference interpreter's numpy values);
  - the parameter-dependent nodes are scheduled by *level* (1 + the largest
    level of their parameter-dependent inputs) and, within a level, nodes
    that apply the same op to inputs of the same shapes form one *group*
    evaluated as ONE array op (auto-batching). The unrolled loop of a
    sequence script (``flips[i]``, 256 phase-encode amplitudes, per-line
    delays) becomes a handful of tensor ops whose count does not grow with
    the number of loop iterations;
  - every scalar lives in one float64 *slab* (a row per batch element), so a
    group gathers its inputs with one index op and a backend gathers many
    fields at once (:meth:`Env.gather`);
  - everything carries a leading batch dimension: one pass evaluates a batch
    of parameter sets (sweeps), a plain call is a batch of one.

  numpy stays bit-exact: only ops whose array result equals the per-node
  result bit for bit (IEEE-exact arithmetic, rounding, comparisons, logic,
  indexing) are vectorised across nodes; transcendental functions and
  reductions (whose SIMD code may differ from the trace's call in the last
  bit) are evaluated per node, exactly as the trace called them. torch is
  vectorised throughout and keeps autograd and straight-through rounding.

:func:`guard_failures` checks all guards of a graph for all batch elements in
one vectorised pass over a numpy :class:`Env`.
"""
from __future__ import annotations

from collections import defaultdict

import numpy as np

from . import ops as _ops
from .values import Const, Op, Param, Values

try:
    import torch
except ImportError:  # pragma: no cover
    torch = None


class MissingParameter(KeyError):
    pass


# ====================================================================== reference


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


def _param_tensor(value, device):
    """A parameter value as a float64 tensor (a tensor keeps its autograd graph; numbers
    and arrays are converted in float64 -- never through torch's float32 default)."""
    if isinstance(value, torch.Tensor):
        return value.to(device=device, dtype=torch.float64)
    value = np.array(value, dtype=np.float64)  # a writable float64 copy
    return torch.as_tensor(value, device=device)


def evaluate(values: Values, inputs: dict, backend: str = "numpy", roots=None,
             device=None) -> list:
    """Values of the nodes (all, or those ``roots`` need), as a list by node id.

    ``inputs`` maps node id -> value for every parameter needed. Nodes that are
    not evaluated are None. (The reference interpreter; :class:`Plan` is the
    fast path and is tested against it.)
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
            env[i] = _param_tensor(inputs[i], device)
        else:
            env[i] = _ops.eval_torch(node.op, [env[j] for j in node.inputs], node.attrs)
    return env


def failed_guards(guards, values: Values, inputs: dict) -> list:
    """The guards that do not hold for these inputs (checked in numpy float64)."""
    if not guards:
        return []
    plan = Plan(values, [g.node for g in guards])
    env = plan.run(inputs, "numpy")
    bad = guard_failures(guards, env)[0]
    return [g for g, b in zip(guards, bad) if b]


# ====================================================================== op classes

#: ops applied element by element (numpy broadcasting); cumsum shares their
#: shape rule but is not one of them
ELEMENTWISE = frozenset(name for name, d in _ops.OPS.items()
                        if d.shape is _ops._broadcast and name != "cumsum")

#: ops whose numpy result on a stacked array equals, bit for bit, the results
#: of the per-node calls the trace made: IEEE-exact arithmetic (correctly
#: rounded, so SIMD or not gives the same bits), rounding, comparisons, logic.
#: Everything else (sin, exp, pow, ... whose vector code may differ in the last
#: bit, and reductions) runs per node in numpy.
NUMPY_EXACT = frozenset({
    "add", "sub", "mul", "div", "floordiv", "mod", "neg", "abs", "sign", "sqrt",
    "minimum", "maximum", "floor", "ceil", "round", "trunc", "round_digits",
    "lt", "le", "gt", "ge", "eq", "ne", "isfinite", "not", "and", "or", "where",
})

_REDUCE = {"sum", "prod", "max_reduce", "min_reduce"}

#: node arrays whose slot index :meth:`Env.gather` keeps (per plan and device)
MAX_CACHED_GATHERS = 1024


def _kinds(values: Values) -> list:
    """Per node: ``"b"`` truth values, ``"c"`` complex, ``"f"`` real numbers, ``"x"``
    arithmetic on truth values only (numpy's own rules: evaluated per node).

    The slab stores real scalars (truth values as 1.0 / 0.0); complex and ``"x"``
    values are kept per node."""
    kinds = ["f"] * len(values.nodes)
    for i, node in enumerate(values.nodes):
        if isinstance(node, Const):
            k = np.asarray(node.value).dtype.kind
            kinds[i] = "b" if k == "b" else ("c" if k == "c" else "f")
        elif isinstance(node, Op):
            ins = [kinds[j] for j in node.inputs]
            if node.op == "where":
                ins = ins[1:]
            if _ops.OPS[node.op].boolean:
                kinds[i] = "b"
            elif "x" in ins:  # (int8 // int8 ... : numpy's small dtypes follow)
                kinds[i] = "x"
            elif "c" in ins:
                kinds[i] = "f" if node.op == "abs" else "c"
            elif all(k == "b" for k in ins):
                if node.op in ("getitem", "slice", "stack", "concat", "max_reduce", "min_reduce",
                               "where"):
                    kinds[i] = "b"
                else:  # numpy arithmetic on truth values has its own rules (True + True is True)
                    kinds[i] = "x"
    return kinds


def _real_scalar(value) -> bool:
    """Can this constant live in the float64 slab (exactly)?"""
    if isinstance(value, (bool, np.bool_, float, np.floating)):
        return True
    if isinstance(value, (int, np.integer)):
        return abs(int(value)) <= 2 ** 53
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return value.dtype.kind in "bfiu"
    return False


# ====================================================================== backends


class _NumpyBackend:
    name = "numpy"

    def __init__(self):
        self.device = None

    def array(self, value, dtype=None):
        a = np.asarray(value)
        if dtype is None:
            dtype = a.dtype if a.dtype.kind in "bc" else np.float64
        return np.array(a, dtype=dtype)

    def index(self, idx):
        return idx

    def param(self, value):
        return _as_numpy(value)

    def gather(self, slab, idx):
        return slab[:, idx]

    def stack(self, xs, axis):
        return np.stack(xs, axis=axis)

    def cat(self, xs, axis):
        return np.concatenate(xs, axis=axis)

    def expand(self, x, batch):
        return np.broadcast_to(x, (batch,) + x.shape[1:])

    def to_float(self, x):
        return x.astype(np.float64) if x.dtype != np.float64 else x

    def as_bool(self, x):
        return x != 0 if x.dtype != np.bool_ else x

    def op(self, name, args, attrs):  # (a run evaluates under np.errstate(all="ignore"))
        return _ops.OPS[name].numpy(*args, *attrs)

    def unbind(self, x):
        return [x[:, r] for r in range(x.shape[1])]


class _TorchBackend:
    name = "torch"

    def __init__(self, device):
        self.device = device

    def array(self, value, dtype=None):
        a = np.asarray(value)
        if dtype is None:
            dtype = np.complex128 if a.dtype.kind == "c" else (bool if a.dtype.kind == "b" else np.float64)
        return torch.as_tensor(np.array(a, dtype=dtype), device=self.device)

    def index(self, idx):
        return torch.as_tensor(idx, dtype=torch.int64, device=self.device)

    def param(self, value):
        return _param_tensor(value, self.device)

    def gather(self, slab, idx):  # (index_select: about twice as fast as slab[:, idx])
        return torch.index_select(slab, 1, idx)

    def stack(self, xs, axis):
        return torch.stack(xs, axis)

    def cat(self, xs, axis):
        return torch.cat(xs, axis)

    def expand(self, x, batch):
        return x.expand((batch,) + tuple(x.shape[1:]))

    def to_float(self, x):
        return x.to(torch.float64) if x.dtype != torch.float64 else x

    def as_bool(self, x):
        return x != 0 if x.dtype != torch.bool else x

    def op(self, name, args, attrs):
        if name == "where":
            return torch.where(self.as_bool(args[0]), args[1], args[2])
        return _ops.OPS[name].torch(*args, *attrs)

    def reduce(self, name, x):  # x: (B, m, *s) -> (B, m)  (numpy reduces per node instead)
        x = x.reshape(x.shape[0], x.shape[1], -1)
        if name == "sum":
            return x.sum(-1)
        if name == "prod":
            return x.prod(-1)
        x = self.to_float(x)
        return x.amax(-1) if name == "max_reduce" else x.amin(-1)

    def unbind(self, x):
        return list(x.unbind(1))


# ====================================================================== steps
#
# A step computes some nodes of one level (its ``members``). ``run(r)`` reads the
# run state ``r`` (slab, others) and returns the (B, m) block of scalar results to
# append to the slab, or None when its results are not slab scalars (they go to
# ``r.others``); ``step.scalar`` (set by the plan) says which.


class _Input:
    """One input position of a group: from the slab, a constant, or per node."""

    def __init__(self, kind, data):
        self.kind = kind  # "slab": slot array; "const": (1, m, *s) array; "nodes": node ids
        self.data = data


class _Elementwise:
    def __init__(self, plan, op, attrs, members, out_shape):
        self.op, self.attrs, self.members = op, attrs, members
        self.out_shape = out_shape
        nodes = plan.values.nodes
        self.inputs = []
        for k in range(len(nodes[members[0]].inputs)):
            srcs = [nodes[i].inputs[k] for i in members]
            self.inputs.append(plan.input_spec(srcs))
        self.exact_numpy = op in NUMPY_EXACT

    def run(self, r):
        be = r.backend
        if be.name == "numpy" and not self.exact_numpy:
            return r.per_node(self.members, self.out_shape, self.scalar)
        d = len(self.out_shape)
        args = []
        for spec in self.inputs:
            x = r.fetch(spec)  # (B | 1, m, *s)
            nd = x.ndim - 2
            if nd < d:
                x = x.reshape(tuple(x.shape[:2]) + (1,) * (d - nd) + tuple(x.shape[2:]))
            args.append(x)
        out = be.op(self.op, args, self.attrs)
        return r.emit(self.members, out, self.scalar)


class _GetItem:
    """``x[i]`` of 1-D vectors: one advanced-indexing op for the whole group."""

    def __init__(self, plan, members):
        nodes = plan.values.nodes
        self.members = members
        self.sources = [nodes[i].inputs[0] for i in members]
        self.shared = len(set(self.sources)) == 1
        self.idx = np.array([nodes[i].attrs[0] for i in members], dtype=np.int64)
        self.rows = np.arange(len(members), dtype=np.int64)

    def run(self, r):
        if self.shared:
            out = r.backend.gather(r.batch_value(self.sources[0]), r.index(self, "idx"))
        else:
            x = r.fetch(_Input("nodes", self.sources))
            out = x[:, r.index(self, "rows"), r.index(self, "idx")]
        return r.emit(self.members, out, self.scalar)


class _StackScalars:
    """``[a, b, c]`` of scalars: one gather from the slab for the whole group."""

    def __init__(self, plan, members, all_bool):
        nodes = plan.values.nodes
        self.members = members
        self.slots = np.array([[plan.slot[j] for j in nodes[i].inputs] for i in members],
                              dtype=np.int64)
        self.all_bool = all_bool

    def run(self, r):
        out = r.slab[:, r.index(self, "slots")]  # (B, m, a)
        if self.all_bool:
            out = r.backend.as_bool(out)
        return r.emit(self.members, out, False)


class _Reduce:
    """sum / prod / max / min of same-shaped vectors (per node in numpy: pairwise sums)."""

    def __init__(self, plan, op, members):
        nodes = plan.values.nodes
        self.op, self.members = op, members
        self.spec = plan.input_spec([nodes[i].inputs[0] for i in members])

    def run(self, r):
        if r.backend.name == "numpy":
            return r.per_node(self.members, (), self.scalar)
        x = r.fetch(self.spec)
        return r.emit(self.members, r.backend.reduce(self.op, x), self.scalar)


class _Single:
    """Any other node, alone (batch-aware)."""

    def __init__(self, plan, node):
        self.node = node
        self.members = [node]
        self.op = plan.values.nodes[node]

    def run(self, r):
        node, i = self.op, self.node
        shape = r.plan.values.shapes[i]
        be = r.backend
        if be.name == "numpy" and (r.plan.kind[i] == "x" or not (
                node.op in NUMPY_EXACT or node.op in ("getitem", "slice", "stack", "concat"))):
            return r.per_node([i], shape, self.scalar)
        xs = [r.batch_value(j) for j in node.inputs]  # (B | 1, *s)
        op = node.op
        if op in ELEMENTWISE:
            d = len(shape)
            xs = [x.reshape((x.shape[0],) + (1,) * (d - (x.ndim - 1)) + tuple(x.shape[1:]))
                  if x.ndim - 1 < d else x for x in xs]
            out = be.op(op, xs, node.attrs)
        elif op == "getitem":
            out = xs[0][(slice(None),) + tuple(node.attrs)]
        elif op == "slice":
            out = xs[0][:, slice(*node.attrs)]
        elif op in ("stack", "concat"):
            xs = [be.expand(x, r.batch) for x in xs]
            if not all(r.plan.is_bool[j] for j in node.inputs):
                xs = [be.to_float(x) if x.dtype != _complex(be) else x for x in xs]
            out = be.stack(xs, 1) if op == "stack" else be.cat(xs, 1)
        elif op in _REDUCE:
            out = be.reduce(op, xs[0].reshape((xs[0].shape[0], 1) + tuple(xs[0].shape[1:])))[:, 0]
        elif op == "cumsum":
            x = xs[0]
            out = torch.cumsum(x.reshape(x.shape[0], -1), 1).reshape(x.shape)
        else:  # an op without a batched form here: its own implementation per batch element
            out = be.stack([be.op(op, [x[b if x.shape[0] > 1 else 0] for x in xs], node.attrs)
                            for b in range(r.batch)], 0)
        if out.shape[0] != r.batch:
            out = be.expand(out, r.batch)
        return r.emit([i], out[:, None], self.scalar)


def _complex(be):
    return np.complex128 if be.name == "numpy" else torch.complex128


# ====================================================================== the plan


class Plan:
    """A compiled evaluation of the parameter-dependent part of a value graph.

    ``Plan(values, roots)`` compiles once (``roots=None``: every node);
    ``plan.run(inputs, backend, device, batch)`` evaluates and returns an
    :class:`Env`. ``inputs`` maps a parameter's node id to its value; with
    ``batch=B`` every input has a leading batch dimension of size B.
    """

    def __init__(self, values: Values, roots=None):
        self.values = values
        nodes, shapes = values.nodes, values.shapes
        n = len(nodes)
        cone = needed(values, roots) if roots is not None else list(range(n))
        self.dep = values.depends_on_params()
        self.kind = _kinds(values)
        self.is_bool = [k == "b" for k in self.kind]
        self.in_cone = np.zeros(n, dtype=bool)
        self.in_cone[cone] = True

        # constants: computed once, exactly (the reference interpreter's values)
        self.consts: dict = {}
        for i in cone:
            if not self.dep[i]:
                node = nodes[i]
                self.consts[i] = node.value if isinstance(node, Const) else _ops.eval_numpy(
                    node.op, [self.consts[j] for j in node.inputs], node.attrs)

        # the slab: constant scalars, then parameters, then each level's scalar results
        self.slot = np.full(n, -1, dtype=np.int64)
        const_scalars = [i for i in self.consts if shapes[i] == () and _real_scalar(self.consts[i])]
        self.slot[const_scalars] = np.arange(len(const_scalars))
        self.const_slab = np.array([float(self.consts[i]) for i in const_scalars],
                                   dtype=np.float64).reshape(1, -1)
        self.n_slots = len(const_scalars)

        dyn = [i for i in cone if self.dep[i]]
        self.params = [i for i in dyn if isinstance(nodes[i], Param)]
        self.scalar_params = [i for i in self.params if shapes[i] == ()]
        self._assign(self.scalar_params)
        level = {i: 0 for i in self.params}
        by_level = defaultdict(list)
        for i in dyn:
            node = nodes[i]
            if isinstance(node, Op):
                level[i] = 1 + max(level[j] for j in node.inputs if self.dep[j])
                by_level[level[i]].append(i)
        self.levels = [self._compile_level(by_level[lv]) for lv in sorted(by_level)]
        self._cache: dict = {}  # per backend / device: converted constants and index arrays

    # -- compilation ------------------------------------------------------------
    def _assign(self, members):
        self.slot[members] = np.arange(self.n_slots, self.n_slots + len(members))
        self.n_slots += len(members)

    def input_spec(self, srcs) -> _Input:
        slots = self.slot[srcs]
        if np.all(slots >= 0) and all(self.values.shapes[j] == () for j in srcs):
            if not any(self.dep[j] for j in srcs):  # all constant: fixed at compile time
                return _Input("const", self.const_slab[0, slots].reshape(1, -1))
            return _Input("slab", slots)
        if not any(self.dep[j] for j in srcs):
            arrays = [np.asarray(self.consts[j]) for j in srcs]
            kind = np.result_type(*arrays).kind
            dtype = np.complex128 if kind == "c" else (bool if kind == "b" else np.float64)
            return _Input("const", np.stack([a.astype(dtype) for a in arrays])[None])
        return _Input("nodes", list(srcs))

    def _group_key(self, i):
        node = self.values.nodes[i]
        shapes = self.values.shapes
        ins = tuple(shapes[j] for j in node.inputs)
        bools = tuple(self.kind[j] for j in node.inputs)
        op = node.op
        if self.kind[i] == "x":
            return ("single", i)
        if op in ELEMENTWISE:
            return ("ew", op, node.attrs, ins, bools, shapes[i])
        if (op == "getitem" and len(ins[0]) == 1 and len(node.attrs) == 1
                and isinstance(node.attrs[0], (int, np.integer))):
            return ("getitem", ins[0], bools)
        if op == "stack" and all(s == () for s in ins) and all(self.slot[j] >= 0 for j in node.inputs):
            return ("stack", len(ins), all(b == "b" for b in bools))
        if op in _REDUCE and len(ins[0]) == 1:
            return ("reduce", op, ins[0], bools)
        return ("single", i)

    def _compile_level(self, members) -> list:
        groups = defaultdict(list)
        for i in members:
            groups[self._group_key(i)].append(i)
        steps = []
        for key, ids in groups.items():
            kind = key[0]
            if kind == "ew":
                step = _Elementwise(self, key[1], key[2], ids, key[5])
            elif kind == "getitem":
                step = _GetItem(self, ids)
            elif kind == "stack":
                step = _StackScalars(self, ids, key[2])
            elif kind == "reduce":
                step = _Reduce(self, key[1], ids)
            else:
                step = _Single(self, ids[0])
            step.scalar = self.values.shapes[ids[0]] == () and self.kind[ids[0]] in "bf"
            if step.scalar:
                self._assign(ids)
            steps.append(step)
        return steps

    @property
    def n_groups(self) -> int:
        return sum(len(steps) for steps in self.levels)

    # -- running ------------------------------------------------------------------
    def backend_cache(self, backend) -> dict:
        key = backend.name if backend.name == "numpy" else ("torch", str(backend.device))
        hit = self._cache.get(key)
        if hit is None:
            hit = self._cache[key] = {}
        return hit

    def run(self, inputs: dict, backend: str = "numpy", device=None, batch: int | None = None):
        """Evaluate for these parameter values; an :class:`Env` (batch element 0 unless
        ``batch`` is given: then every input has a leading batch dimension)."""
        if backend == "numpy":
            be = _NumpyBackend()
        elif backend == "torch":
            if device is None:
                device = next((v.device for v in inputs.values() if isinstance(v, torch.Tensor)),
                              torch.device("cpu"))
            be = _TorchBackend(torch.device(device))
        else:
            raise ValueError(f"unknown backend {backend!r}")
        with np.errstate(all="ignore"):  # numpy ops as the trace evaluated them (ops.eval_numpy)
            r = _Run(self, be, inputs, batch)
        return Env(self, r, 0 if batch is None else None)


class _Run:
    """The state of one evaluation: the slab and the non-scalar values."""

    def __init__(self, plan: Plan, backend, inputs: dict, batch):
        self.plan = plan
        self.backend = be = backend
        self.cache = plan.backend_cache(be)
        self.others: dict = {}
        shapes = plan.values.shapes
        self.batch = 1 if batch is None else int(batch)
        values = {}
        for i in plan.params:
            if i not in inputs:
                raise MissingParameter(plan.values.nodes[i].name)
            v = be.param(inputs[i])
            want = (() if batch is None else (self.batch,)) + tuple(shapes[i])
            if tuple(v.shape) != want:
                raise ValueError(f"parameter {plan.values.nodes[i].name}: shape {tuple(v.shape)}, "
                                 f"expected {want}")
            values[i] = v.reshape((self.batch,) + tuple(shapes[i]))
        const = self.cached("const_slab", lambda: be.array(plan.const_slab))
        parts = [be.expand(const, self.batch)]
        if plan.scalar_params:
            parts.append(be.stack([values[i] for i in plan.scalar_params], 1))
        for i in plan.params:
            if shapes[i] != ():
                self.others[i] = values[i]
        self.slab = be.cat(parts, 1) if len(parts) > 1 else parts[0]
        for steps in plan.levels:
            new = [be.to_float(out) for out in (step.run(self) for step in steps) if out is not None]
            if new:
                self.slab = be.cat([self.slab] + new, 1)

    # -- helpers for the steps ------------------------------------------------------
    def cached(self, key, make):
        hit = self.cache.get(key)
        if hit is None:
            hit = self.cache[key] = make()
        return hit

    def index(self, step, name):
        return self.cached((id(step), name), lambda: self.backend.index(getattr(step, name)))

    def fetch(self, spec: _Input):
        """An input position of a group as a (B | 1, m, *s) array."""
        be = self.backend
        if spec.kind == "slab":
            return be.gather(self.slab, self.cached((id(spec), "i"), lambda: be.index(spec.data)))
        if spec.kind == "const":
            return self.cached((id(spec), "c"), lambda: be.array(spec.data))
        xs = [be.expand(self.batch_value(j), self.batch) for j in spec.data]
        if not all(self.plan.is_bool[j] for j in spec.data):
            xs = [be.to_float(x) if x.dtype != _complex(be) else x for x in xs]
        return be.stack(xs, 1)

    def batch_value(self, j):
        """One node's value as a (B | 1, *shape) array."""
        plan = self.plan
        if plan.dep[j]:
            hit = self.others.get(j)
            if hit is not None:
                return hit
            return self.slab[:, int(plan.slot[j])]
        shape = plan.values.shapes[j]
        return self.cached(("node", j), lambda: self.backend.array(plan.consts[j]).reshape((1,) + shape))

    def emit(self, members, out, scalar: bool):
        """Store a group's (B, m, *s) result: scalars go to the slab (returned)."""
        if scalar:
            return out
        for i, x in zip(members, self.backend.unbind(out)):
            self.others[i] = x
        return None

    def per_node(self, members, shape, scalar: bool):
        """numpy, exactly as the trace: each node, each batch element, its own call."""
        plan = self.plan
        nodes = plan.values.nodes
        rows = []
        for b in range(self.batch):
            row = []
            for i in members:
                node = nodes[i]
                args = [self.row_value(j, b) for j in node.inputs]
                row.append(_ops.eval_numpy(node.op, args, node.attrs))
            rows.append(row)
        out = np.array(rows)
        if out.dtype == object:  # pragma: no cover - mixed shapes cannot share a group
            raise TypeError("inconsistent group")
        out = out.reshape((self.batch, len(members)) + tuple(shape))
        if scalar and out.dtype.kind != "b":
            out = out.astype(np.float64)  # to the slab
        return self.emit(members, out, scalar)

    def row_value(self, j, b):
        """What the trace saw for node j (batch element b): consts as the script gave them."""
        plan = self.plan
        if not plan.dep[j]:
            return plan.consts[j]
        hit = self.others.get(j)
        if hit is not None:
            return hit[b]
        v = self.slab[b, int(plan.slot[j])]
        return np.bool_(v != 0) if plan.is_bool[j] else v


class Env:
    """The evaluated nodes of a :class:`Plan` run, for one batch element or all.

    ``env[node]`` is a node's value (numpy scalars / arrays or torch tensors;
    constants as the script gave them in numpy); ``env.gather(node_ids)`` the
    concatenated (flattened) values of many nodes in one op -- a float64
    vector, or (B, k) for all batch elements. ``env.select(b)`` is the Env of
    batch element b. ``len(env)`` and iteration behave like the list
    :func:`evaluate` returns (None for nodes the plan did not evaluate).
    """

    def __init__(self, plan: Plan, run: _Run, index):
        self.plan = plan
        self._run = run
        self.index = index
        self.backend = run.backend.name
        self.device = run.backend.device

    @property
    def batch_size(self) -> int:
        return self._run.batch

    def select(self, b: int | None) -> "Env":
        if b is not None and not -self.batch_size <= b < self.batch_size:
            raise IndexError(f"batch element {b} of {self.batch_size}")
        return Env(self.plan, self._run, b)

    def __len__(self):
        return len(self.plan.values.nodes)

    def __iter__(self):
        for i in range(len(self)):
            yield self[i] if self.available(i) else None

    def available(self, node: int) -> bool:
        plan = self.plan
        return bool(plan.in_cone[node]) or isinstance(plan.values.nodes[node], Const)

    def __getitem__(self, node):
        node = int(node)
        plan, r = self.plan, self._run
        if not plan.dep[node]:
            return self._const(node)
        if not plan.in_cone[node]:
            raise KeyError(f"node %{node} was not evaluated by this plan (not among its roots' inputs)")
        hit = r.others.get(node)
        if hit is None:
            hit = r.slab[:, int(plan.slot[node])]
            if plan.is_bool[node]:
                hit = r.backend.as_bool(hit)
        return hit if self.index is None else hit[self.index]

    def _const(self, node):
        plan = self.plan
        value = plan.consts.get(node)
        if value is None:
            n = plan.values.nodes[node]
            if not isinstance(n, Const):
                raise KeyError(f"node %{node} was not evaluated by this plan")
            value = n.value
        if self.backend == "numpy":
            return value
        return self._run.cached(("const", node), lambda: _const_torch(value, self.device))

    def gather(self, node_ids):
        """Values of these nodes (flattened, concatenated; real parts) as one float64
        vector -- (B, k) for all batch elements of a batched Env."""
        r = self._run
        # a backend gathers the same (persistent) node arrays at every run: their slot
        # index is cached by identity, a bounded number of them
        gathers = r.cache.setdefault("gathers", {})
        key = id(node_ids) if isinstance(node_ids, np.ndarray) else None
        hit = gathers.get(key) if key is not None else None
        if hit is None or hit[0] is not node_ids:
            ids = np.asarray(node_ids, dtype=np.int64).reshape(-1)
            slots = self.plan.slot[ids] if len(ids) else ids
            ok = len(ids) > 0 and bool(np.all(slots >= 0)) and bool(np.all(self.plan.in_cone[ids]))
            hit = (node_ids, r.backend.index(slots) if ok else None, ids)
            if key is not None:
                if len(gathers) >= MAX_CACHED_GATHERS:
                    gathers.clear()
                gathers[key] = hit
        _, idx, ids = hit
        if idx is not None:
            out = r.backend.gather(r.slab, idx)
            return out if self.index is None else out[self.index]
        be = r.backend
        parts = []
        for i in ids:
            v = self[int(i)]
            if be.name == "numpy":
                v = np.asarray(np.real(v), dtype=np.float64)
                parts.append(v.reshape(v.shape[:1] + (-1,)) if self.index is None else v.reshape(-1))
            else:
                v = v.real if v.is_complex() else v
                v = v.to(torch.float64) if v.dtype != torch.float64 else v
                parts.append(v.reshape(tuple(v.shape[:1]) + (-1,)) if self.index is None else v.reshape(-1))
        if not parts:
            return be.array(np.zeros((self.batch_size, 0) if self.index is None else 0))
        return be.cat(parts, -1)


# ====================================================================== guards


def guard_failures(guards, env: Env) -> np.ndarray:
    """(B, G) booleans: guard g fails for batch element b. One vectorised pass over a
    numpy :class:`Env` whose plan includes the guards' nodes.

    ``bool``: the truth value is the observed one; ``int``: ``int(value)`` is;
    ``float``: the value is the observed float, bit for bit (signed zeros differ: a
    script continues with the concrete number, so -0.0 is not 0.0; NaN is NaN);
    ``format``: ``format()`` gives the observed string (a short Python loop).
    """
    batch = env.batch_size
    if not guards:
        return np.zeros((batch, 0), dtype=bool)
    if env.backend != "numpy":
        raise ValueError("guards are checked on a numpy evaluation (float64, exact)")
    nodes = [g.node for g in guards]
    slots = env.plan.slot[nodes]
    if np.all(slots >= 0) and np.all(env.plan.in_cone[nodes]):
        values = env._run.slab[:, slots]
    else:  # a guard on a node outside the slab (cannot happen for traced guards)
        values = np.stack([np.broadcast_to(np.asarray(env.select(None)[n], dtype=np.float64),
                                           (batch,)) for n in nodes], 1)
    fails = np.zeros((batch, len(guards)), dtype=bool)
    by_kind = defaultdict(list)
    for k, g in enumerate(guards):
        by_kind[g.kind].append(k)
    with np.errstate(all="ignore"):
        if by_kind["bool"]:
            k = by_kind["bool"]
            observed = np.array([bool(guards[j].observed) for j in k])
            fails[:, k] = (values[:, k] != 0) != observed
        if by_kind["int"]:
            k = [j for j in by_kind["int"] if abs(guards[j].observed) <= 2 ** 53]
            v = values[:, k]
            observed = np.array([float(guards[j].observed) for j in k], dtype=np.float64)
            fails[:, k] = ~np.isfinite(v) | (np.trunc(v) != observed)
            for j in by_kind["int"]:
                if j not in k:  # beyond float64's exact integers: Python's int()
                    fails[:, j] = [not guards[j].holds(x) for x in values[:, j]]
        if by_kind["float"]:
            k = by_kind["float"]
            v = values[:, k]
            observed = np.array([float(guards[j].observed) for j in k], dtype=np.float64)
            same = (v == observed) & (np.signbit(v) == np.signbit(observed))
            fails[:, k] = ~(same | (np.isnan(v) & np.isnan(observed)))
    for j in by_kind["format"]:
        g = guards[j]
        for b in range(batch):
            value = values[b, j]
            if env.plan.is_bool[g.node]:
                value = bool(value)
            try:
                fails[b, j] = not g.holds(value)
            except (ValueError, OverflowError):  # int() of nan / inf
                fails[b, j] = True
    return fails
