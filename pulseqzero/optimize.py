"""``pulseqzero.optimize``: gradient descent on sequence parameters through a PDG simulation.

One optimisation step is::

    seq_fn(*params) ──trace once, then re-execute──▶ MRzeroCore.Sequence
        ──PDG (MRzeroCore's compute_graph + our execute_graph) on the phantom──▶ signal
        ──adjoint reconstruction with the sequence's k-space──▶ image (the target's shape)
        ──loss(image, target) + penalty(*params)──▶ backward ──▶ optimiser step

The seed README's loop works as written::

    TR = torch.tensor(14e-3, requires_grad=True)
    TE = torch.tensor(5e-3, requires_grad=True)
    for i in range(100):
        pulseqzero.optimize(my_gre_seq, target_image, TR, TE)

because the state of one optimisation (the traced graph, the simulation data,
the torch optimiser, the history) is kept in an :class:`Optimization` that
``optimize`` finds again on the next call with the same function and the
same parameter tensors. For long runs use the object directly::

    opt = pulseqzero.Optimization(my_gre_seq, target_image, TR, TE, steps_per_graph=5)
    opt.run(200)              # progress bar; opt.history has loss and params per step
    opt.losses, opt.param_history(1)

Long runs can be checkpointed and resumed exactly (torch conventions)::

    opt = pulseqzero.Optimization(my_gre_seq, target_image, TR, TE)
    if os.path.exists("run.pt"):
        opt.load_checkpoint("run.pt")     # parameters, Adam's moments, history
    opt.run(500 - len(opt.history), checkpoint="run.pt", checkpoint_every=10)

A step never leaves the parameters broken: a non-finite gradient raises
naming the parameter before anything is updated, and an update that the
script refuses (its own ``assert``, or a guard of a traced graph) is rolled
back, optimiser state included, before the error is raised.

The parameters are updated in place, so after optimising the same function
exports the optimised sequence: ``my_gre_seq(TR.item(), TE.item())`` under
pypulseq, or ``pulseqzero.trace(my_gre_seq)(TR, TE).write("opt.seq")``.
"""
from __future__ import annotations

import contextlib
import copy
import dataclasses
import math
import os
import sys
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
import torch

from .graph import Graph
from .heap import frozen_heap
from .trace import BoundSequence, TracedFunction, trace
from .tracer import TracingWarning

__all__ = ["optimize", "Optimization", "Simulator", "simulate", "Step", "mse_magnitude",
           "scaled_mse"]


# ---------------------------------------------------------------- losses

def mse_magnitude(image: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error of the magnitudes (the default loss)."""
    return torch.mean((image.abs() - target.abs()) ** 2)


def scaled_mse(image: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Relative MSE of the magnitudes after the best global scaling of the image.

    ``min_s |s·|image| - |target||² / |target|²``: 0 for a perfect match up to a
    constant factor, 1 for an image that has nothing in common with the target.
    Use it when only the contrast and sharpness matter, not the signal level.
    """
    a, b = image.abs().reshape(-1), target.abs().reshape(-1).to(image.real.dtype)
    s = torch.dot(a, b) / torch.dot(a, a).clamp_min(torch.finfo(a.dtype).tiny)
    return torch.sum((s * a - b) ** 2) / torch.sum(b ** 2)


# ---------------------------------------------------------------- simulation helpers

@contextlib.contextmanager
def quiet_stdout():
    """Silence file descriptor 1: MRzeroCore's pre-pass (Rust) prints timings there."""
    try:
        sys.stdout.flush()
        saved = os.dup(1)
    except (OSError, ValueError):  # no real stdout (some notebooks): nothing to silence
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


def compute_pdg(seq, data, max_state_count: int = 200, min_state_mag: float = 1e-4):
    """MRzeroCore's pre-pass (the phase distribution graph), quietly, on a CPU copy."""
    import MRzeroCore as mr0
    if len(seq) and seq.device.type != "cpu":  # the pre-pass (Rust) reads CPU tensors
        seq = seq.cpu()
    if data.device.type != "cpu":
        data = data.cpu()
    with quiet_stdout(), warnings.catch_warnings():
        # the pre-pass reads tensors that require grad: harmless, it only needs the numbers
        warnings.simplefilter("ignore", UserWarning)
        return mr0.compute_graph(seq, data, max_state_count, min_state_mag)


def definition(graph, key: str, params: dict | None = None):
    """The value of ``seq.set_definition(key, ...)`` in a traced graph (floats, strings,
    lists of them), or None when the script did not set it."""
    from .ir.evaluate import evaluate
    args = dict(graph.ir.definitions)
    if key not in args:
        return None
    nodes = []

    def collect(arg):
        kind = type(arg).__name__
        if kind == "ArgValue":
            nodes.append(arg.node)
        elif kind == "ArgList":
            for a in arg.items:
                collect(a)
    collect(args[key])
    inputs = {k: _numpy(v) for k, v in graph.inputs(params or {}, check=False).items()}
    env = evaluate(graph.ir.values, inputs, "numpy", roots=nodes)

    def value(arg):
        kind = type(arg).__name__
        if kind == "ArgValue":
            return float(env[arg.node])
        if kind == "ArgList":
            return [value(a) for a in arg.items]
        return getattr(arg, "value", None)
    return value(args[key])


def kspace_fov(kspace: torch.Tensor) -> tuple:
    """FOV (m) per axis from the smallest non-zero k-space step (what ``reco_adjoint`` derives
    for a Cartesian trajectory when given no FOV), without its print."""
    out = []
    for axis in range(3):
        k = kspace[:, axis].detach().abs()
        k = k[k > 1e-3]
        out.append(1.0 if k.numel() == 0 else 1.0 / float(k.min()))
    return tuple(out)


def reconstruct(signal, seq, shape, fov=None) -> torch.Tensor:
    """Adjoint reconstruction of ``signal`` with ``seq``'s k-space to an image of ``shape``.

    shape: (nx, ny) or (nx, ny, nz); fov: (x, y, z) in m (None: from the k-space).
    The result is MRzeroCore's ``reco_adjoint``'s, computed axis by axis
    (``pulseqzero.simulate.reco``): at 256 × 256 its dense matrix needs 34 GB.
    """
    from .simulate.reco import reco_adjoint
    shape = tuple(int(n) for n in shape)
    res = shape + (1,) * (3 - len(shape))
    kspace = seq.get_kspace()
    fov = tuple(fov) if fov is not None else kspace_fov(kspace)
    fov = tuple(float(f) for f in fov) + (1.0,) * (3 - len(fov))
    return reco_adjoint(signal, kspace, res, fov).reshape(shape)


# ---------------------------------------------------------------- the optimisation


@dataclass
class Step:
    """One optimisation step: the loss at the parameters *before* the update."""

    step: int
    loss: float
    params: tuple  # numpy copies of every parameter, before the update
    seconds: float  # wall time of the step
    penalty: float = 0.0  # the penalty part of ``loss``
    extra: dict = field(default_factory=dict)


def _numpy(value):
    """A float64 numpy copy (never a view of a tensor that the optimiser updates in place)."""
    if isinstance(value, torch.Tensor):
        return np.array(value.detach().cpu().to(torch.float64).numpy(), copy=True)
    if isinstance(value, (str, type(None))):
        return value
    return np.array(value, dtype=np.float64, copy=True)


#: attribute under which a plain function keeps its traced wrapper (fn <-> wrapper is a
#: reference cycle: both go when the function goes)
_TRACED_ATTR = "__pulseqzero_traced__"


def traced(seq_fn):
    """``seq_fn`` as a traced function (wrapped once per function and kept on it); a traced
    :class:`~pulseqzero.Graph` is used as it is (re-executed, never re-traced)."""
    if isinstance(seq_fn, (TracedFunction, Graph)):
        return seq_fn
    tf = getattr(seq_fn, _TRACED_ATTR, None)
    if tf is None:
        tf = trace(seq_fn)
        try:
            setattr(seq_fn, _TRACED_ATTR, tf)
        except (AttributeError, TypeError):  # e.g. a builtin: wrapped anew every time
            pass
    return tf


class Simulator:
    """Image of a sequence function on a phantom: trace once, re-execute, PDG, reconstruct.

    seq_fn: plain or traced sequence function; shape: the image shape (nx, ny)
    or (nx, ny, nz); phantom: None (the built-in brain at that resolution and
    the sequence's FOV), a ``.npz`` path, a MRzeroCore phantom or SimData;
    fov: reconstruction FOV (m, x y z; default: the sequence's ``FOV``
    definition, else from the k-space); seq_kwargs: keyword arguments for
    ``seq_fn`` on every call; device: where to simulate (default: CPU, or the
    device of the first tensor parameter); steps_per_graph: reuse the
    pre-pass graph for this many images. sim: ``max_state_count`` (200),
    ``min_state_mag`` (1e-4), ``min_emitted_signal`` (0.01),
    ``min_latent_signal`` (0.01), ``rf_subpulses`` (1), ``rf_centre`` ("middle"),
    ``simulator``: the PDG main pass, ``"pulseqzero"`` (default,
    :func:`pulseqzero.execute_graph`) or ``"mrzerocore"`` (MRzeroCore's own
    ``execute_graph``, the reference: same signal, slower, more memory);
    ``voxel_chunks`` (1): simulate the voxels in this many parts one after the other,
    the same gradients with the autograd memory of one part; ``distributed`` (True):
    under an initialised ``torch.distributed`` process group, split the voxels across
    its ranks (``docs/distributed.md``); False: every rank simulates every voxel.
    """

    OPTIONS = dict(max_state_count=200, min_state_mag=1e-4, min_emitted_signal=1e-2,
                   min_latent_signal=1e-2, rf_subpulses=1, rf_centre="middle",
                   simulator="pulseqzero", voxel_chunks=1, distributed=True)
    #: the PDG main passes ``simulator=`` chooses between
    SIMULATORS = ("pulseqzero", "mrzerocore")

    def __init__(self, seq_fn, shape, phantom=None, fov=None, seq_kwargs=None, device=None,
                 steps_per_graph: int = 1, **sim):
        self.fn = traced(seq_fn)
        self.shape = tuple(int(n) for n in shape)
        if len(self.shape) not in (2, 3):
            raise ValueError(f"image shape (nx, ny) or (nx, ny, nz), got {self.shape}")
        self.fov = fov
        self.seq_kwargs = dict(seq_kwargs or {})
        self.device = torch.device(device) if device is not None else None
        self.steps_per_graph = max(1, int(steps_per_graph))
        self.sim = dict(self.OPTIONS)
        self.set_options(**sim)
        self.phantom = phantom
        self.data = None
        self._pdg = None
        self._pdg_age = 0
        self._pdg_params = None  # the parameters the pre-pass graph was computed at
        self._pdg_restore = None  # (those parameters, age) from a checkpoint
        self._fov_graph = None
        self._fov = None
        self._data_cpu = None
        self._reported = set()  # TracingWarnings already passed on

    def set_options(self, **sim) -> None:
        unknown = set(sim) - set(self.OPTIONS)
        if unknown:
            raise TypeError(f"unknown option(s) {sorted(unknown)}; simulation options are "
                            f"{sorted(self.OPTIONS)}")
        if "simulator" in sim and sim["simulator"] not in self.SIMULATORS:
            raise ValueError(f"simulator={sim['simulator']!r}: one of {self.SIMULATORS}")
        chunks = sim.get("voxel_chunks", 1)
        if isinstance(chunks, bool) or not isinstance(chunks, int) or chunks < 1:
            raise ValueError(f"voxel_chunks={chunks!r}: a whole number of voxel parts "
                             "simulated one after the other, 1 or more")
        self.sim.update(sim)

    @property
    def ranks(self) -> int:
        """How many processes share each simulation (1 without a torch.distributed
        process group, or with ``distributed=False``)."""
        from .simulate.distributed import rank_and_size
        return rank_and_size()[1] if self.sim["distributed"] else 1

    def execute(self, graph, seq, data):
        """The PDG main pass chosen by the ``simulator`` option: the signal of ``seq``
        (split by voxels as ``voxel_chunks`` and ``distributed`` say)."""
        from .simulate.distributed import execute_sharded, wants_split
        emitted, latent = self.sim["min_emitted_signal"], self.sim["min_latent_signal"]
        chunks, distributed = self.sim["voxel_chunks"], self.sim["distributed"]
        if self.sim["simulator"] == "mrzerocore":
            import MRzeroCore as mr0
            if wants_split(chunks, distributed):
                return execute_sharded(mr0.execute_graph, graph, seq, data, emitted, latent,
                                       False, False, True, None, chunks, distributed)
            return mr0.execute_graph(graph, seq, data, emitted, latent, print_progress=False)
        from .simulate import execute_graph
        return execute_graph(graph, seq, data, emitted, latent, print_progress=False,
                             voxel_chunks=chunks, distributed=distributed)

    def bound(self, *params):
        """The traced sequence at these parameters (traces on first use, re-executes after)."""
        if isinstance(self.fn, Graph):  # a graph: its parameters in order, or by keyword
            return BoundSequence(self.fn, {**dict(zip(self.fn.ir.param_names, params)),
                                           **self.seq_kwargs})
        # a trace (the first call, or a re-trace) may say that a parameter's influence is
        # cut (float(), math.*): that is said once per Simulator, naming the parameter and
        # the script line; other warnings of the script were seen when it was written
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            bound = self.fn(*params, **self.seq_kwargs)
        for note in caught:
            text = str(note.message)
            if issubclass(note.category, TracingWarning) and text not in self._reported:
                self._reported.add(text)
                warnings.warn(text, TracingWarning, stacklevel=2)
        return bound

    def sequence(self, *params):
        """The MRzeroCore sequence at these parameters (differentiable w.r.t. tensors)."""
        return self._lower(self.bound(*params))

    def _lower(self, bound):
        return bound.graph.to_mr0(rf_subpulses=self.sim["rf_subpulses"],
                                  rf_centre=self.sim["rf_centre"], **bound.params)

    def seq_fov(self, *params):
        """FOV (m, x y z) to reconstruct: ``fov=``, else the sequence's ``FOV`` definition,
        else None (then it comes from the k-space). Evaluated once per traced graph."""
        if self.fov is not None:
            fov = list(np.atleast_1d(self.fov)) + [1.0] * 3
            return tuple(float(f) for f in fov[:3])
        return self._fov_of(self.bound(*params))

    def _fov_of(self, bound):
        if self.fov is not None:
            return self.seq_fov()
        if self._fov_graph is not bound.graph:
            fov = definition(bound.graph, "FOV", bound.params)
            if fov is not None:
                fov = tuple(float(f) for f in (list(np.atleast_1d(fov)) + [1.0] * 3)[:3])
            self._fov_graph, self._fov = bound.graph, fov
        return self._fov

    def sim_data(self, *params):
        """The simulation data (built on first use)."""
        if self.data is None:
            from .phantom import sim_data
            if self.phantom is None:
                fov = self.seq_fov(*params) or (0.22, 0.22, 5e-3)
                slices = self.shape[2] if len(self.shape) == 3 else 1
                kw = dict(resolution=self.shape[:2], fov=(fov[0], fov[1]), slices=slices)
                if slices > 1:
                    kw["slice_thickness"] = fov[2] / slices
                self.data = sim_data(None, device=self.device, **kw)
            else:
                self.data = sim_data(self.phantom, device=self.device)
        return self.data

    def image(self, *params, reuse_graph: bool = True) -> torch.Tensor:
        """Simulate and reconstruct at these parameters (differentiable; complex, ``shape``).

        reuse_graph: reuse the pre-pass graph if it is younger than ``steps_per_graph``."""
        if self.device is None:
            self.device = next((p.device for p in params if isinstance(p, torch.Tensor)),
                               torch.device("cpu"))
        data = self.sim_data(*params)
        bound = self.bound(*params)  # one guard check per image
        seq = self._lower(bound)
        if self._pdg_restore is not None and reuse_graph:
            # resumed from a checkpoint: the pre-pass graph the interrupted run was using
            at, age = self._pdg_restore
            self._pdg_restore = None
            with torch.no_grad():
                self._new_pdg(self._lower(self.bound(*at)), at)
            self._pdg_age = age
        if self._pdg is None or not reuse_graph or self._pdg_age >= self.steps_per_graph:
            self._new_pdg(seq, params)
        self._pdg_age += 1
        signal = self.execute(self._pdg, seq, data)
        if signal.shape[0] == 0:
            raise ValueError("the sequence has no ADC sample after its first RF pulse: there "
                             "is no signal to reconstruct")
        return reconstruct(signal, seq, self.shape, self._fov_of(bound))

    def _new_pdg(self, seq, params) -> None:
        """MRzeroCore's pre-pass graph of ``seq`` (on the CPU), made at ``params``."""
        data = self.data
        if data.device.type != "cpu" and self._data_cpu is None:
            self._data_cpu = data.cpu()  # for the pre-pass, once
        cpu_data = data if data.device.type == "cpu" else self._data_cpu
        self._pdg = compute_pdg(seq, cpu_data, self.sim["max_state_count"],
                                self.sim["min_state_mag"])
        self._pdg_age = 0
        self._pdg_params = tuple(_numpy(p) for p in params)


def simulate(seq_fn, *params, shape, phantom=None, fov=None, seq_kwargs=None, **sim):
    """The reconstructed image (complex tensor of ``shape``) of ``seq_fn(*params)`` on the
    phantom: one-off use of :class:`Simulator` (which keeps the phantom and the graph)."""
    return Simulator(seq_fn, shape, phantom, fov, seq_kwargs, **sim).image(*params)


class Optimization:
    """The state of one optimisation: what ``optimize`` keeps between calls.

    seq_fn: the sequence function (``seq_fn(*params, **seq_kwargs)`` builds a
    ``pp.Sequence`` with ``pulseqzero.pp_impl``), plain or ``@pulseqzero.trace``d.
    target: the image to reach, a tensor of shape (nx, ny) or (nx, ny, nz)
    (complex or real; the default loss compares magnitudes).
    params: the parameters, torch tensors in ``seq_fn``'s argument order. Those
    with ``requires_grad`` are optimised (if none has it, every floating-point
    tensor is switched to ``requires_grad``); the others are passed through.

    phantom: None (the built-in brain at the target's resolution and the
    sequence's FOV), a path to a MRzeroCore ``.npz``, a MRzeroCore phantom or
    SimData. loss: ``loss(image, target) -> scalar tensor`` (default
    :func:`mse_magnitude`). penalty: ``penalty(*params) -> scalar tensor``
    added to the loss (e.g. RF energy). optimizer: None (Adam), a
    ``torch.optim.Optimizer`` class, a callable ``(param_groups) -> optimizer``
    or an optimizer instance. lr: learning rate, one number or one per
    parameter; None: 5 % of each parameter's largest magnitude at the start
    (Adam moves each parameter by about ``lr`` per step). bounds: per parameter
    ``(low, high)`` or None; parameters are clamped after each step.
    steps_per_graph: recompute MRzeroCore's pre-pass (``compute_graph``) only
    every k steps and reuse it in between (it depends on the sequence's
    structure and, weakly, on its values). fov: reconstruction FOV (m, 3
    numbers); default: the sequence's ``FOV`` definition, else from the
    k-space. seq_kwargs: keyword arguments for ``seq_fn`` on every call
    (static structure such as ``Nx=32``). sim: options of the simulation (see
    :class:`Simulator`).

    Runs on the device of the parameters (CUDA when they are on CUDA).

    Under an initialised ``torch.distributed`` process group (``torchrun``) every
    rank runs the same optimisation and simulates its share of the phantom's voxels
    (``docs/distributed.md``): rank 0's start parameters and target are used on
    every rank, every rank gets the same loss and gradients and takes the same step
    (the parameters are copied from rank 0 after each step, so that kernels that are
    not bit-reproducible, on GPUs, cannot make the ranks drift apart), and only
    rank 0 shows a progress bar.
    """

    def __init__(self, seq_fn, target, *params, phantom=None, loss=None, penalty=None,
                 optimizer=None, lr=None, bounds=None, steps_per_graph: int = 1, fov=None,
                 seq_kwargs=None, **sim):
        if not params:
            raise TypeError("optimize needs the parameter tensors: "
                            "optimize(seq_fn, target, *params)")
        for i, p in enumerate(params):
            if isinstance(p, torch.Tensor) and p.requires_grad and not p.is_leaf:
                raise ValueError(f"parameter {i} is not a leaf tensor (computed from another "
                                 "tensor); pass the tensor you want to optimise, e.g. x.detach()"
                                 ".requires_grad_()")
        tensors = [p for p in params if isinstance(p, torch.Tensor)]
        if not any(p.requires_grad for p in tensors):
            for p in tensors:
                if p.is_floating_point():
                    p.requires_grad_()
        self.trainable = [p for p in tensors if p.requires_grad]
        if not self.trainable:
            raise ValueError("nothing to optimise: give the parameters as floating-point torch "
                             "tensors (with requires_grad=True)")
        self.params = params
        self.device = self.trainable[0].device
        target = torch.as_tensor(target)
        self.simulator = Simulator(seq_fn, target.shape, phantom, fov, seq_kwargs, self.device,
                                   steps_per_graph, **sim)
        self.fn = self.simulator.fn
        self.name = getattr(self.fn, "__name__", None) or self.fn.name
        self.loss_fn = loss or mse_magnitude
        self.penalty = penalty
        self.bounds = list(bounds) if bounds is not None else [None] * len(params)
        if len(self.bounds) != len(params):
            raise ValueError(f"bounds: one entry (or None) per parameter, got {len(self.bounds)} "
                             f"for {len(params)} parameters")
        self.history: list[Step] = []
        self.last_image = None
        self.set_target(target)
        self.optimizer = self._make_optimizer(optimizer, lr)
        self._from_main_rank(self.trainable)

    # -- set-up ------------------------------------------------------------------
    def _make_optimizer(self, optimizer, lr):
        if isinstance(optimizer, torch.optim.Optimizer):
            return optimizer
        if lr is None:
            lrs = [0.05 * (float(p.detach().abs().max()) or 1.0) for p in self.trainable]
        elif np.ndim(lr) == 0:
            lrs = [float(lr)] * len(self.trainable)
        else:
            lr = list(lr)
            trainable_idx = [i for i, p in enumerate(self.params)
                             if isinstance(p, torch.Tensor) and p.requires_grad]
            if len(lr) == len(self.params):
                lrs = [float(lr[i]) for i in trainable_idx]
            elif len(lr) == len(self.trainable):
                lrs = [float(x) for x in lr]
            else:
                raise ValueError(f"lr: one number or one per parameter ({len(self.params)}), "
                                 f"got {len(lr)}")
        groups = [{"params": [p], "lr": r} for p, r in zip(self.trainable, lrs)]
        if optimizer is None:
            return torch.optim.Adam(groups)
        return optimizer(groups)

    def set_target(self, target, phantom=None) -> None:
        """Change the target (and the phantom, if given); the optimiser state is kept."""
        target = torch.as_tensor(target)
        if target.ndim not in (2, 3):
            raise ValueError(f"target: an image of shape (nx, ny) or (nx, ny, nz), got shape "
                             f"{tuple(target.shape)}")
        sim = self.simulator
        if tuple(target.shape) != sim.shape or (phantom is not None and phantom is not sim.phantom):
            sim.shape = tuple(target.shape)
            if phantom is not None:
                sim.phantom = phantom
            sim.data, sim._pdg, sim._data_cpu = None, None, None  # rebuilt for the new shape
        self.target = target.to(self.device)
        if self.simulator.ranks > 1:  # the loss must be the same on every rank
            self.target = self.target.clone()
            self._from_main_rank([self.target])

    def _from_main_rank(self, tensors) -> None:
        """Rank 0's values of ``tensors`` on every rank (in place), when the ranks share
        the simulation."""
        if self.simulator.ranks > 1:
            from .simulate.distributed import broadcast_from_main
            broadcast_from_main(tensors)

    # -- one step ------------------------------------------------------------------
    def bound(self):
        """The traced sequence at the current parameters (``.write(path)``, ``.to_mr0()``)."""
        return self.simulator.bound(*self.params)

    def sequence(self):
        """The MRzeroCore sequence at the current parameters (differentiable)."""
        return self.simulator.sequence(*self.params)

    def image(self, reuse_graph: bool = True) -> torch.Tensor:
        """Simulate and reconstruct at the current parameters (autograd on)."""
        return self.simulator.image(*self.params, reuse_graph=reuse_graph)

    def loss(self, image: torch.Tensor):
        """(total loss, penalty) for an image at the current parameters."""
        value = self.loss_fn(image, self.target)
        pen = self.penalty(*self.params) if self.penalty is not None else None
        if pen is not None:
            value = value + pen
        return value, (float(pen.detach()) if pen is not None else 0.0)

    def step(self) -> float:
        """One step: simulate, loss, backward, optimiser step. Returns the loss.

        Nothing is updated when a gradient is not finite (FloatingPointError naming
        the parameter); an update the script refuses (its ``assert``, a guard of a
        traced graph) or that is not finite is rolled back before the error is raised."""
        t0 = time.perf_counter()
        before = tuple(_numpy(p) for p in self.params)
        self.optimizer.zero_grad()
        image = self.image()
        loss, pen = self.loss(image)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"loss is {float(loss.detach())} at step {len(self.history)}; "
                                     "lower the learning rate or bound the parameters")
        loss.backward()  # under torch.distributed: the whole gradient on every rank
        self._check_gradients()
        good = ([p.detach().clone() for p in self.trainable],
                copy.deepcopy(self.optimizer.state_dict()))
        self.optimizer.step()
        self._clamp()
        self._from_main_rank(self.trainable)
        try:
            self._check_update()  # (the same values on every rank: the same verdict)
        except BaseException:
            with torch.no_grad():
                for p, value in zip(self.trainable, good[0]):
                    p.copy_(value)
            self.optimizer.load_state_dict(good[1])
            raise
        value = float(loss.detach())
        self.history.append(Step(len(self.history), value, before, time.perf_counter() - t0, pen))
        self.last_image = image.detach()
        return value

    def param_names(self) -> list:
        """The parameters' names in the sequence function's signature (else ``param i``)."""
        fn = self.fn
        if isinstance(fn, Graph):
            names = list(fn.ir.param_names)
        else:
            names = list(fn.signature.parameters)
        return [names[i] if i < len(names) else f"param {i}" for i in range(len(self.params))]

    def _check_gradients(self) -> None:
        names = self.param_names()
        for i, p in enumerate(self.params):
            if isinstance(p, torch.Tensor) and p.grad is not None:
                bad = ~torch.isfinite(p.grad)
                if bad.any():
                    where = "" if p.ndim == 0 else f" at {[int(j) for j in bad.nonzero()[0]]}"
                    raise FloatingPointError(
                        f"the gradient of {names[i]} is not finite{where} at step "
                        f"{len(self.history)} ({p.grad.flatten()[bad.flatten()][0].item()}); the "
                        "parameters were not updated. Bound the parameters, lower the learning "
                        "rate, or look for a division by a parameter that reached zero")

    def _check_update(self) -> None:
        """The parameters after an update are finite and the script accepts them."""
        names = self.param_names()
        for i, p in enumerate(self.params):
            if isinstance(p, torch.Tensor) and not bool(torch.isfinite(p.detach()).all()):
                raise FloatingPointError(f"step {len(self.history)} made {names[i]} non-finite; "
                                         "the step was rolled back")
        try:
            self.bound()  # the guards, and a re-trace (the script's checks) if one breaks
        except Exception as e:
            values = ", ".join(f"{n}={_short(_numpy(p))}" for n, p in zip(names, self.params)
                               if isinstance(p, torch.Tensor) and p.requires_grad)
            note = (f"pulseqzero: step {len(self.history)} moved the parameters to values the "
                    f"sequence refuses ({values}); they and the optimiser state were rolled "
                    "back to their values before the step. Bound the parameters "
                    "(bounds=...) or lower the learning rate.")
            if hasattr(e, "add_note"):  # Python 3.11
                e.add_note(note)
            else:  # pragma: no cover
                warnings.warn(note, stacklevel=3)
            raise

    # -- checkpoints ---------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Everything a resumed run needs to continue exactly as an uninterrupted one: the
        parameters, the optimiser's state, the history and the pre-pass graph's schedule.
        Tensors, numbers and strings only (``torch.load(..., weights_only=True)`` reads it)."""
        sim = self.simulator
        return {
            "format": "pulseqzero.Optimization/1",
            "name": self.name,
            "params": [p.detach().clone() if isinstance(p, torch.Tensor) else None
                       for p in self.params],
            "optimizer": copy.deepcopy(self.optimizer.state_dict()),
            "history": [_step_out(step) for step in self.history],
            "pdg": None if sim._pdg_params is None else {
                "age": sim._pdg_age, "params": [_tensor_out(v) for v in sim._pdg_params]},
        }

    def load_state_dict(self, state: dict) -> None:
        """Continue from :meth:`state_dict` (of an Optimization of the same function and
        parameters): the parameter tensors are set in place."""
        if not isinstance(state, dict) or state.get("format") != "pulseqzero.Optimization/1":
            raise ValueError("not a state of pulseqzero.Optimization (made by state_dict() or "
                             "run(checkpoint=...))")
        if state["name"] != self.name or len(state["params"]) != len(self.params):
            raise ValueError(f"the state is of {state['name']} with {len(state['params'])} "
                             f"parameters; this optimises {self.name} with {len(self.params)}")
        names = self.param_names()
        for name, p, value in zip(names, self.params, state["params"]):
            if isinstance(p, torch.Tensor) and value is not None and p.shape != value.shape:
                raise ValueError(f"parameter {name} has shape {tuple(p.shape)} here and "
                                 f"{tuple(value.shape)} in the state")
        with torch.no_grad():
            for p, value in zip(self.params, state["params"]):
                if isinstance(p, torch.Tensor) and value is not None:
                    p.copy_(value)
        self.optimizer.load_state_dict(state["optimizer"])
        self.history = [_step_in(step) for step in state["history"]]
        sim = self.simulator
        sim._pdg, sim._pdg_params, sim._pdg_restore = None, None, None
        if state["pdg"] is not None:
            at = tuple(_like(p, v) for p, v in zip(self.params, state["pdg"]["params"]))
            sim._pdg_restore = (at, state["pdg"]["age"])

    def save_checkpoint(self, path) -> None:
        """Write :meth:`state_dict` to ``path`` atomically (a crash leaves the old file)."""
        from .ir.files import atomic_write
        state = self.state_dict()
        atomic_write(path, lambda tmp: torch.save(state, tmp))

    def load_checkpoint(self, path) -> None:
        """Continue from a file of :meth:`save_checkpoint` / ``run(checkpoint=...)``."""
        self.load_state_dict(torch.load(path, map_location=self.device, weights_only=True))

    def _clamp(self):
        with torch.no_grad():
            for p, b in zip(self.params, self.bounds):
                if b is not None and isinstance(p, torch.Tensor):
                    lo, hi = b
                    p.clamp_(min=lo, max=hi)

    def run(self, steps: int = 1, progress=None, callback=None, checkpoint=None,
            checkpoint_every: int = 10) -> float:
        """``steps`` optimisation steps; returns the last loss.

        progress: show a progress bar (tqdm) with the loss; None: when steps > 1.
        callback: ``callback(optimization, step)`` after every step (return True to stop).
        checkpoint: a path to write :meth:`state_dict` to (atomically) every
        ``checkpoint_every`` steps and after the last one; :meth:`load_checkpoint`
        continues from it exactly.
        """
        from .simulate.distributed import is_main_rank
        every = max(1, int(checkpoint_every))
        main_rank = is_main_rank()  # only rank 0 shows progress and writes checkpoints
        show = (steps > 1 if progress is None else bool(progress)) and main_rank
        bar = None
        if show:
            from tqdm.auto import tqdm
            bar = tqdm(total=steps, desc=f"optimising {self.name}", unit="step",
                       leave=True, dynamic_ncols=True)
        value = math.nan
        try:
            # full garbage collections skip the imports, the graph and the phantom
            with frozen_heap():
                for i in range(steps):
                    value = self.step()
                    if bar is not None:
                        bar.set_postfix(loss=f"{value:.4g}", refresh=False)
                        bar.update(1)
                    stop = callback is not None and callback(self, self.history[-1])
                    if checkpoint is not None and main_rank and (
                            stop or i == steps - 1 or len(self.history) % every == 0):
                        self.save_checkpoint(checkpoint)
                    if stop:
                        break
        finally:
            if bar is not None:
                bar.close()
        return value

    # -- results ---------------------------------------------------------------------
    @property
    def losses(self) -> list:
        return [s.loss for s in self.history]

    def param_history(self, index: int) -> np.ndarray:
        """Values of parameter ``index`` before each step, shape (steps, *param shape)."""
        return np.array([s.params[index] for s in self.history])

    def __repr__(self):
        last = f", loss {self.history[-1].loss:.4g}" if self.history else ""
        return f"<Optimization of {self.name}: {len(self.history)} steps{last}>"

    # -- the registry ``optimize`` uses ---------------------------------------------------
    #: attribute under which the first optimised tensor keeps its optimisations: the state
    #: lives exactly as long as the parameters (tensor <-> optimisation is a reference cycle)
    _ATTR = "_pulseqzero_optimizations"

    @classmethod
    def of(cls, seq_fn, *params):
        """The optimisation ``optimize(seq_fn, target, *params)`` continues, or None."""
        fn = traced(seq_fn)
        for p in params:
            if isinstance(p, torch.Tensor):
                for session in getattr(p, cls._ATTR, ()):
                    if session.fn is fn and len(session.params) == len(params) and all(
                            _same(a, b) for a, b in zip(session.params, params)):
                        return session
                return None  # sessions are kept on the first tensor parameter
        return None

    def _register(self):
        first = next(p for p in self.params if isinstance(p, torch.Tensor))
        sessions = getattr(first, self._ATTR, None)
        if sessions is None:
            sessions = []
            setattr(first, self._ATTR, sessions)
        sessions.append(self)


def _short(value) -> str:
    return np.array2string(np.asarray(value), precision=6, threshold=6)


def _tensor_out(value):
    """A numpy value as a tensor (what ``torch.load(weights_only=True)`` reads)."""
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.array(value))
    return value


def _step_out(step: Step) -> dict:
    out = dataclasses.asdict(step)
    out["params"] = [_tensor_out(v) for v in step.params]
    return out


def _step_in(state: dict) -> Step:
    state = dict(state)
    state["params"] = tuple(v.numpy() if isinstance(v, torch.Tensor) else v
                            for v in state["params"])
    return Step(**state)


def _like(param, value):
    """A checkpointed value given as the parameter is (a tensor of its dtype and device)."""
    if isinstance(param, torch.Tensor) and isinstance(value, torch.Tensor):
        return value.to(dtype=param.dtype, device=param.device)
    return param


def _same(a, b) -> bool:
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return a is b
    try:
        return bool(np.array_equal(a, b))
    except Exception:  # noqa: BLE001 - incomparable values are different
        return a is b


def optimize(seq_fn, target, *params, phantom=None, loss=None, penalty=None, steps: int = 1,
             optimizer=None, lr=None, bounds=None, steps_per_graph: int = 1, fov=None,
             seq_kwargs=None, progress=None, callback=None, **sim) -> float:
    """Run ``steps`` optimisation steps of ``seq_fn``'s parameters towards ``target``.

    Returns the loss (of the last step, before its update). The state (traced
    graph, simulation data, optimiser moments, history) is kept for the next
    call with the same ``seq_fn`` and the same parameter tensors, so calling
    it in a loop is the same as one call with ``steps``; the ``target``,
    ``loss``, ``penalty``, ``bounds``, ``phantom`` and simulation options of the
    latest call are used (``optimizer`` and ``lr`` of the first). See
    :class:`Optimization` for every argument; ``Optimization.of(seq_fn,
    *params)`` gives the state (``.history``, ``.losses``, ``.last_image``).
    """
    session = Optimization.of(seq_fn, *params)
    if session is None:
        session = Optimization(seq_fn, target, *params, phantom=phantom, loss=loss,
                               penalty=penalty, optimizer=optimizer, lr=lr, bounds=bounds,
                               steps_per_graph=steps_per_graph, fov=fov, seq_kwargs=seq_kwargs,
                               **sim)
        session._register()
    else:
        session.set_target(target, phantom)
        if loss is not None:
            session.loss_fn = loss
        if penalty is not None:
            session.penalty = penalty
        if bounds is not None:
            session.bounds = list(bounds)
        if seq_kwargs is not None:
            session.simulator.seq_kwargs = dict(seq_kwargs)
        session.simulator.steps_per_graph = max(1, int(steps_per_graph))
        session.simulator.set_options(**sim)
    return session.run(steps, progress=progress, callback=callback)
