"""``Graph``: a traced sequence you can print, re-execute, export, save and load.

It wraps the IR's :class:`~ir.graph.SequenceGraph` and connects it to the
backends: ``to_mr0(**params)`` (torch, differentiable), ``to_pypulseq`` and
``write`` (numpy float64, exact). Parameters not given keep their traced
values; one traced from a tensor reads that tensor (its current value, and
gradients reach it). Before evaluating with new values every guard is checked (one
vectorised numpy pass); a guard that no longer holds raises
:class:`GuardError` naming the script line.

Re-execution runs compiled :class:`~ir.evaluate.Plan` s, built once per graph:
constants are computed once, the parameter-dependent nodes are evaluated
group by group (the nodes of an unrolled loop as one tensor op).

Batches: ``to_mr0_batch(TE=te_vector)`` evaluates the graph for B parameter
sets in one pass (every parameter given carries a leading batch dimension of
size B; the others keep their traced value) and lowers each to an MRzeroCore
sequence; guards are checked per batch element.
"""
from __future__ import annotations

import warnings

import numpy as np

from .heap import growing_heap
from .ir.evaluate import Plan, guard_failures
from .ir.graph import SequenceGraph

try:
    import torch
except ImportError:  # pragma: no cover
    torch = None


class GuardError(RuntimeError):
    """The graph was traced under a condition that these parameter values break.

    ``failed`` lists (batch element or None, guard) for every broken guard.
    """

    def __init__(self, message: str, failed=()):
        super().__init__(message)
        self.failed = list(failed)


class Graph:
    """A traced sequence (see the module docstring)."""

    def __init__(self, ir_graph: SequenceGraph):
        self.ir = ir_graph
        self._layout = None
        self._plans: dict = {}

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

    # -- compiled plans ------------------------------------------------------------
    def plan(self, purpose: str = "all") -> Plan:
        """The compiled evaluation for ``"all"`` nodes, the ``"guards"`` or ``"mr0"``."""
        hit = self._plans.get(purpose)
        if hit is None:
            if purpose == "all":
                roots = None
            elif purpose == "guards":
                roots = [g.node for g in self.ir.guards]
            elif purpose == "mr0":  # what the lowering gathers, and the RF shapes it reads
                from .ir.events import shape_nodes
                roots = self.layout().dynamic_nodes() + [
                    n for b in self.ir.blocks for e in b.events if e.kind == "rf"
                    for n in [e.flip_angle, *shape_nodes(e.shape)]]
            else:
                raise ValueError(f"unknown plan {purpose!r}")
            hit = self._plans[purpose] = Plan(self.ir.values, roots)
        return hit

    def layout(self):
        """The mr0 backend's static structure of this graph (computed once)."""
        if self._layout is None:
            from .backends import mr0
            self._layout = mr0.Layout(self.ir)
        return self._layout

    # -- parameters --------------------------------------------------------------
    def _check_names(self, params: dict):
        names = self.ir.param_names
        unknown = set(params) - set(names)
        if unknown:
            raise TypeError(f"{self.name} has no parameter(s) {sorted(unknown)}; "
                            f"its parameters are {list(names)}")

    def inputs(self, params: dict, check: bool = True) -> dict:
        """Node id -> value for every parameter (given, captured, or as traced)."""
        self._check_names(params)
        inputs = {}
        for p in self.ir.params:
            if p.name in params:
                value = params[p.name]
                check_value(p.name, value)
                check_precision(p.name, value)
                if _shape(value) != tuple(p.shape):
                    raise ValueError(f"parameter {p.name} has shape {tuple(p.shape)}, "
                                     f"got {_shape(value)}")
            elif p.captured is not None:
                value = p.captured
            else:
                value = p.traced_value
            inputs[p.node] = value
        if check:
            self.check_guards(inputs)
        return inputs

    def batch_inputs(self, params: dict, check: bool = True) -> tuple:
        """(B, node id -> value with a leading batch dimension) for a batch of parameter sets.

        Every parameter given has shape (B, *its shape); the others keep their value,
        repeated. Guards are checked per batch element."""
        self._check_names(params)
        if not params:
            raise ValueError("a batch needs at least one parameter with a leading batch dimension")
        sizes = {}
        for p in self.ir.params:
            if p.name in params:
                shape = _shape(params[p.name])
                if len(shape) != len(p.shape) + 1 or tuple(shape[1:]) != tuple(p.shape):
                    want = "(B" + "".join(f", {d}" for d in p.shape) + ")"
                    raise ValueError(f"parameter {p.name} of shape {tuple(p.shape)} needs shape "
                                     f"{want} in a batch, got {shape}")
                sizes[p.name] = shape[0]
        if len(set(sizes.values())) != 1:
            raise ValueError(f"batch sizes differ: {sizes}")
        batch = next(iter(sizes.values()))
        inputs = {}
        for p in self.ir.params:
            if p.name in params:
                inputs[p.node] = params[p.name]
            else:
                value = p.captured if p.captured is not None else p.traced_value
                inputs[p.node] = _repeat(value, batch)
        if check:
            self.check_guards(inputs, batch=batch)
        return batch, inputs

    def check_guards(self, inputs: dict, batch: int | None = None) -> None:
        """Raise :class:`GuardError` if a guard fails (for any batch element)."""
        guards = self.ir.guards
        if not guards:
            return
        plan = self.plan("guards")  # (only the parameters a guard depends on leave the device)
        env = plan.run({k: _detach(inputs[k]) for k in plan.params}, "numpy", batch=batch)
        fails = guard_failures(guards, env)
        if not fails.any():
            return
        failed = []
        lines = []
        for b, k in zip(*np.nonzero(fails)):
            g = guards[k]
            element = None if batch is None else int(b)
            failed.append((element, g))
            where = "" if batch is None else f"batch element {element}: "
            lines.append(f"  {where}{g.describe()}")
        raise GuardError(
            f"{self.name} was traced under conditions these parameters break:\n"
            + "\n".join(lines)
            + "\nTrace again at these values (call the traced function, or .trace(...)).",
            failed)

    # -- evaluation ------------------------------------------------------------------
    def evaluate(self, backend: str = "numpy", **params):
        """Every node's value for these parameters (guards checked): an
        :class:`~ir.evaluate.Env` (``env[node]``, ``env.gather(nodes)``, list-like)."""
        return self.evaluate_inputs(self.inputs(params), backend)

    def evaluate_inputs(self, inputs: dict, backend: str = "numpy", batch: int | None = None):
        """Like :meth:`evaluate` for inputs from :meth:`inputs` / :meth:`batch_inputs`."""
        if backend == "numpy":
            inputs = {k: _detach(v) for k, v in inputs.items()}
        return self.plan("all").run(inputs, backend, _device(inputs), batch)

    def evaluate_batch(self, backend: str = "torch", **params):
        """All nodes for a batch of parameter sets (see :meth:`batch_inputs`): an Env
        of B elements (``env.select(b)``)."""
        batch, inputs = self.batch_inputs(params)
        return self.evaluate_inputs(inputs, backend, batch)

    # -- backends ------------------------------------------------------------------
    def to_mr0(self, rf_subpulses: int = 1, rf_centre: str = "middle", **params):
        """MRzeroCore sequence at these parameter values; differentiable w.r.t. tensors given.

        ``rf_subpulses=n`` simulates each RF pulse as n sub-pulses (slice profiles).
        ``rf_centre``: where a pulse acts and a repetition starts, ``"middle"`` of the
        shape as MRzeroCore's importer, or ``"peak"`` as PyPulseq's ``calc_rf_center``
        (they differ for asymmetric pulses; docs/mr0-lowering.md)."""
        return self.mr0_from_inputs(self.inputs(params), rf_subpulses, rf_centre)

    def mr0_from_inputs(self, inputs: dict, rf_subpulses: int = 1, rf_centre: str = "middle"):
        """The MRzeroCore sequence for inputs whose guards were checked (:meth:`inputs`)."""
        from .backends import mr0
        layout = self.layout()
        device = _device(inputs)
        env = self.plan("mr0").run(inputs, "torch", device)
        return mr0.lower(self.ir, env, layout, device=env.device, rf_subpulses=rf_subpulses,
                         rf_centre=rf_centre)

    def to_mr0_batch(self, rf_subpulses: int = 1, rf_centre: str = "middle", **params) -> list:
        """One MRzeroCore sequence per batch element: every parameter given has a leading
        batch dimension B (e.g. ``TE=torch.linspace(4e-3, 8e-3, 16)``); the others keep
        their traced value. The graph is evaluated once for the whole batch; a batch
        element that breaks a guard raises :class:`GuardError` naming it."""
        from .backends import mr0
        batch, inputs = self.batch_inputs(params)
        layout = self.layout()
        env = self.plan("mr0").run(inputs, "torch", _device(inputs), batch)
        return [mr0.lower(self.ir, env.select(b), layout, device=env.device,
                          rf_subpulses=rf_subpulses, rf_centre=rf_centre) for b in range(batch)]

    def to_pypulseq(self, **params):
        """The ``pypulseq.Sequence`` the script builds at these values (float64, exact)."""
        from .backends import pypulseq as backend
        with growing_heap():  # one pypulseq object per event, all kept
            return backend.to_pypulseq(self.ir, self.evaluate("numpy", **params))

    def write(self, path, create_signature: bool = True, remove_duplicates: bool = True, **params):
        """Write the ``.seq`` file at these values via pypulseq (atomically)."""
        from .backends import pypulseq as backend
        env = self.evaluate("numpy", **params)
        with growing_heap():  # one pypulseq object per event, all kept until written
            return backend.write(self.ir, env, path, create_signature, remove_duplicates)

    # -- passes, files -------------------------------------------------------------
    def optimized(self) -> "Graph":
        """This graph after the IR passes (folding, CSE, dead-code elimination)."""
        from .ir import passes
        return Graph(passes.optimize(self.ir))

    def save(self, path) -> None:
        """Write the graph as versioned JSON (``pulseqzero.load`` reads it back)."""
        from .ir import serialize
        serialize.save(self.ir, path)


def load(path) -> Graph:
    """A graph saved with :meth:`Graph.save`. The file is data only: it is validated
    (op names, types, node ids, sizes, and that every recorded call is a PyPulseq function
    pulseqzero implements) and a malformed file is refused with
    :class:`~ir.serialize.GraphFileError`."""
    from . import pp
    from .ir import serialize
    return Graph(serialize.load(path, call_names=frozenset(pp.__all__)))


def _detach(value):
    if torch is not None and isinstance(value, torch.Tensor):
        return value.detach().cpu().to(torch.float64).numpy()
    return value


def check_value(name: str, value) -> None:
    """A parameter value is numbers (a number, array or tensor), all finite: NaN or inf
    would go on into the lowering and the simulation and fail far from here, or not at
    all."""
    if torch is not None and isinstance(value, torch.Tensor):
        finite = bool(torch.isfinite(value.detach()).all())
    else:
        try:
            array = np.asarray(value)
        except Exception:  # noqa: BLE001 - ragged lists and such: not a parameter value
            array = np.asarray(None)
        if array.dtype.kind not in "biufc":
            raise TypeError(f"parameter {name}: a number, an array or a tensor, got "
                            f"{type(value).__name__} {value!r}"[:200])
        finite = bool(np.isfinite(array).all())
    if not finite:
        raise ValueError(f"parameter {name} is not finite: {value!r}"[:200])


#: (parameter name, dtype) already warned about by check_precision
_warned_precision: set = set()


def check_precision(name: str, value) -> None:
    """Warn once per parameter when a float32 (or narrower) value is not the decimal it
    prints as: ``torch.tensor(6e-3)`` is 0.006000000052, and a delay the script rounds up
    to the raster (``pp.ceil(TE / raster) * raster``) can come out one raster step longer
    than pypulseq's float64 6e-3. The value is used as it is (in float64); the warning
    says how to get the decimal."""
    if torch is not None and isinstance(value, torch.Tensor):
        if not value.is_floating_point() or value.dtype == torch.float64:
            return
        dtype = str(value.dtype).replace("torch.", "")
        if (name, dtype) in _warned_precision:
            return
        sample = value.detach().flatten()[:16].cpu().to(torch.float32).numpy()
    elif isinstance(value, (np.ndarray, np.floating)) and np.asarray(value).dtype.kind == "f" \
            and np.asarray(value).dtype.itemsize < 8:
        dtype = np.asarray(value).dtype.name
        if (name, dtype) in _warned_precision:
            return
        sample = np.asarray(value, dtype=np.float32).ravel()[:16]
    else:
        return
    for x in sample:
        written = float(str(x))  # the shortest decimal that reads back as this float32
        if float(x) != written:
            _warned_precision.add((name, dtype))
            from .tracer import TracingWarning, user_line
            warnings.warn(f"{user_line()}: parameter {name} is a {dtype} value: {written!r} is "
                          f"{float(x)!r} in it, and raster roundings of the script (pp.ceil(TE / "
                          "raster) * raster) can move by one raster step against pypulseq's "
                          f"float64 {written!r}; give it as float64 (dtype=torch.float64)",
                          TracingWarning, stacklevel=3)
            return


def _shape(value) -> tuple:
    if torch is not None and isinstance(value, torch.Tensor):
        return tuple(value.shape)  # (no copy from the device)
    return tuple(np.shape(value))


def _device(inputs: dict):
    return next((v.device for v in inputs.values() if torch is not None
                 and isinstance(v, torch.Tensor)), None)


def _repeat(value, batch: int):
    """A parameter value repeated along a new leading batch dimension."""
    if torch is not None and isinstance(value, torch.Tensor):
        return value.unsqueeze(0).expand((batch,) + tuple(value.shape))
    value = np.asarray(value, dtype=np.float64)
    return np.broadcast_to(value, (batch,) + value.shape)
