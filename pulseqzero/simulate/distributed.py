"""One simulation split by voxels: across processes (``torch.distributed``) or in chunks.

Why the split is exact: the signal is a sum over voxels, and MRzeroCore's
pre-pass graph (which states are simulated, how they are made) does not depend
on which voxels are simulated. So each process can simulate its own voxels on
the same graph and the partial signals add up to the whole; in one process,
``voxel_chunks=k`` simulates k parts one after the other.

How autograd stays exact (S the signal, s_r the part of rank r, x a tensor the
simulation reads: a flip angle, a gradient moment, a T2 map; L the loss)::

    x ──ShareGradients──▶ x (identity) ──simulate own voxels──▶ s_r ──SumOverRanks──▶ S ──▶ L

* ``SumOverRanks`` all-reduces s_r in forward. Every rank then holds the same
  S and computes the same L, so dL/dS is the same on every rank, and since
  S = Σ_r s_r, dL/ds_r = dL/dS: its backward passes the gradient through as it
  is (nothing to send).
* Backward through rank r's own voxels gives dL/dS · ds_r/dx, the part of
  dL/dx that flows through its voxels. dL/dx is the sum of these parts, so
  ``ShareGradients`` (identity in forward) all-reduces them in backward. After
  it, every rank holds the whole dL/dx, and everything upstream of the
  simulation (the lowering to MRzeroCore, the parameters) gets the gradients a
  single process gets. This is why the sum happens at the simulation's inputs,
  not at the parameters: a parameter also reaches the loss around the
  simulation (a penalty, the k-space of the reconstruction), and those parts,
  identical on every rank, must not be summed.

What is sent: the signal (samples × coils complex numbers) in forward, and in
backward the gradients of the simulation's tensors that require grad (per
repetition at most its pulse's angle, phase and shim, and per event the time,
gradient moments and ADC phase; phantom maps only when they require grad).
Neither depends on the number of voxels, except phantom maps that require grad.

``ChunkedSignal`` gives the same gradients in one process with the memory of
one chunk: its forward sums the chunks' signals without keeping autograd
graphs, its backward simulates each chunk again with autograd and back-propagates
it before the next (one more forward pass in all).
"""
from __future__ import annotations

import torch
import torch.distributed as dist

from .memory import trim_freed_memory

__all__ = ["rank_and_size", "is_main_rank", "voxel_slices", "voxel_shard", "shard_data",
           "execute_sharded", "wants_split", "SumOverRanks", "ShareGradients", "ChunkedSignal",
           "broadcast_from_main"]


# ---------------------------------------------------------------- the process group

def rank_and_size() -> tuple:
    """(rank, number of ranks) of torch.distributed's default process group; (0, 1) when
    none is initialised (a single process)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_main_rank() -> bool:
    """True in a single process and on rank 0: the process that writes files, pictures
    and progress bars."""
    return rank_and_size()[0] == 0


def wants_split(voxel_chunks: int, distributed: bool) -> bool:
    """Whether a simulation is split by voxels: in chunks, or across more than one rank."""
    return voxel_chunks != 1 or (distributed and rank_and_size()[1] > 1)


def broadcast_from_main(tensors) -> None:
    """Overwrite ``tensors`` (in place) with rank 0's values, all in one message per dtype."""
    tensors = list(tensors)
    for group in _by_dtype(tensors):
        like = [tensors[i] for i in group]
        flat = _flatten([t.detach() for t in like])
        dist.broadcast(flat, src=0)
        with torch.no_grad():
            for t, value in zip(like, _unflatten(flat, like)):
                t.copy_(value)


# ---------------------------------------------------------------- voxels

def voxel_slices(voxels: int, parts: int) -> list:
    """``parts`` contiguous slices of ``range(voxels)`` whose sizes differ by at most one
    (every voxel costs the same work: all states are simulated on every voxel)."""
    if parts < 1 or parts > voxels:
        raise ValueError(f"cannot split {voxels} voxels into {parts} parts (voxel_chunks × "
                         "ranks must be between 1 and the phantom's number of voxels)")
    size, extra = divmod(voxels, parts)
    bounds = [i * size + min(i, extra) for i in range(parts + 1)]
    return [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:])]


def voxel_shard(voxels: int) -> slice:
    """The voxels this rank simulates (all of them in a single process): which part of
    ``data``'s voxels a rank's ``mag_adc`` covers."""
    rank, ranks = rank_and_size()
    return voxel_slices(voxels, ranks)[rank]


#: SimData fields with one entry per voxel, and the axis that runs over the voxels
_PER_VOXEL = dict(PD=0, T1=0, T2=0, T2dash=0, D=0, B0=0, voxel_pos=0, B1=1, coil_sens=1)
#: SimData fields the executors read that are the same for every voxel
_SHARED = ("size", "nyquist")


def shard_data(data, voxels: slice):
    """``data`` (MRzeroCore ``SimData``) restricted to ``voxels``: every per-voxel map
    sliced (views, so gradients reach the whole maps), everything else shared
    (size, nyquist, dephasing function; ``avg_B1_trig`` stays the whole phantom's: only the
    pre-pass reads it, and the pre-pass is made from the whole phantom)."""
    shard = _shallow_copy(data)
    for name, axis in _PER_VOXEL.items():
        value = getattr(data, name)
        setattr(shard, name, value[voxels] if axis == 0 else value[:, voxels])
    if data.voxel_motion is not None:  # time -> (events, voxels, 3) positions
        motion = data.voxel_motion
        shard.voxel_motion = lambda time: motion(time)[:, voxels]
    return shard


def _shallow_copy(obj):
    """A new object of ``obj``'s class sharing its attributes (no ``__init__``: SimData's
    would clamp and clone every map, Repetition's would check shapes again)."""
    copy = object.__new__(type(obj))
    copy.__dict__.update(obj.__dict__)
    return copy


# ---------------------------------------------------------------- what autograd tracks

_PULSE_FIELDS = ("angle", "phase", "shim_array")
_REPETITION_FIELDS = ("event_time", "gradm", "adc_phase")
_DATA_FIELDS = tuple(_PER_VOXEL) + _SHARED


class Inputs:
    """The tensors of a simulation (sequence, phantom, initial magnetisation) that
    autograd tracks, and the same simulation with other tensors in their places.

    Only these need to go through ``ShareGradients`` and ``ChunkedSignal``; the
    others are read as they are.
    """

    def __init__(self, seq, data, initial_mag):
        self.seq, self.data, self.initial_mag = seq, data, initial_mag
        self.places, self.tensors = [], []  # (where, index, field), tensor
        if not torch.is_grad_enabled():
            return
        for i, rep in enumerate(seq):
            for name in _PULSE_FIELDS:
                self._add(("pulse", i, name), getattr(rep.pulse, name))
            for name in _REPETITION_FIELDS:
                self._add(("repetition", i, name), getattr(rep, name))
        for name in _DATA_FIELDS:
            self._add(("data", None, name), getattr(data, name))
        self._add(("initial_mag", None, None), initial_mag)

    def _add(self, place, value):
        if isinstance(value, torch.Tensor) and value.requires_grad:
            self.places.append(place)
            self.tensors.append(value)

    def rebuild(self, tensors) -> tuple:
        """(seq, data, initial_mag) reading ``tensors`` in the places of ``self.tensors``;
        copies only of what changes (the repetitions and pulses with a tracked tensor)."""
        if not self.places:
            return self.seq, self.data, self.initial_mag
        reps = list(self.seq)
        copied = set()
        data, initial_mag = self.data, self.initial_mag
        for (where, i, name), tensor in zip(self.places, tensors):
            if where == "data":
                if data is self.data:
                    data = _shallow_copy(data)
                setattr(data, name, tensor)
            elif where == "initial_mag":
                initial_mag = tensor
            else:
                if i not in copied:
                    reps[i] = _shallow_copy(reps[i])
                    reps[i].pulse = _shallow_copy(reps[i].pulse)
                    copied.add(i)
                setattr(reps[i].pulse if where == "pulse" else reps[i], name, tensor)
        seq = type(self.seq).__new__(type(self.seq))
        list.__init__(seq, reps)
        seq.__dict__.update(self.seq.__dict__)  # normalized_grads
        return seq, data, initial_mag


# ---------------------------------------------------------------- autograd functions

class SumOverRanks(torch.autograd.Function):
    """The sum of every rank's ``partial`` signal, on every rank (an all-reduce).

    Backward passes dL/dS through unchanged: every rank computes the same loss from
    the same sum S, so each already holds the whole dL/dS, which is dL/ds_r for its
    own part (see the module docstring). Complex tensors travel as their real view
    (gloo's all-reduce has no complex sum).
    """

    @staticmethod
    def forward(ctx, partial):
        total = partial.detach().clone()
        dist.all_reduce(torch.view_as_real(total) if total.is_complex() else total)
        return total

    @staticmethod
    def backward(ctx, grad):
        return grad


class ShareGradients(torch.autograd.Function):
    """The identity in forward; in backward, the sum over the ranks of each input's
    gradient (each rank's is the part that flowed through its own voxels), all in one
    all-reduce per dtype."""

    @staticmethod
    def forward(ctx, *tensors):
        return tuple(t.view_as(t) for t in tensors)

    @staticmethod
    def backward(ctx, *grads):
        out = list(grads)  # zeros where no gradient came (autograd materialises them)
        for group in _by_dtype(grads):
            flat = _flatten([grads[i] for i in group])
            dist.all_reduce(flat)
            for i, value in zip(group, _unflatten(flat, [grads[i] for i in group])):
                out[i] = value
        return tuple(out)


class ChunkedSignal(torch.autograd.Function):
    """``Σ_chunks simulate(chunk, *tensors)`` keeping no chunk's autograd graph: backward
    simulates each chunk again, with autograd, and back-propagates it before the next.

    ``simulate(chunk, *tensors, recomputing=False)`` must read tracked tensors only
    through ``tensors`` (:class:`Inputs` rebuilds the simulation from them);
    ``recomputing`` is True in backward (no second progress bar). Peak memory is one
    chunk's autograd graph plus the gradients of ``tensors``; the price is one forward
    pass more (without autograd, the cheaper kind).
    """

    @staticmethod
    def forward(ctx, simulate, chunks, *tensors):
        ctx.simulate, ctx.chunks = simulate, chunks
        ctx.save_for_backward(*tensors)
        total = None
        for chunk in chunks:
            trim_freed_memory()
            part = simulate(chunk, *tensors)
            total = part if total is None else total + part
        trim_freed_memory()
        return total

    @staticmethod
    def backward(ctx, grad):
        need = ctx.needs_input_grad[2:]
        inputs = [t.detach().requires_grad_(n) for t, n in zip(ctx.saved_tensors, need)]
        wanted = [t for t in inputs if t.requires_grad]
        sums = [None] * len(wanted)
        for chunk in ctx.chunks:
            trim_freed_memory()  # the previous chunk's graph, before this one's is built
            with torch.enable_grad():
                part = ctx.simulate(chunk, *inputs, recomputing=True)
            if not part.requires_grad:  # e.g. no ADC sample: nothing depends on the inputs
                continue
            found = torch.autograd.grad(part, wanted, grad, allow_unused=True)
            sums = [f if s is None else (s if f is None else s + f)
                    for s, f in zip(sums, found)]
            del part, found  # this chunk's graph goes before the next chunk's is built
        trim_freed_memory()
        found = iter(sums)
        return (None, None, *(next(found) if t.requires_grad else None for t in inputs))


def _by_dtype(tensors) -> list:
    """Indices of ``tensors`` grouped by dtype, in the same order on every rank."""
    groups = {}
    for i, t in enumerate(tensors):
        groups.setdefault(t.dtype, []).append(i)
    return list(groups.values())


def _flatten(tensors) -> torch.Tensor:
    """One contiguous real buffer of ``tensors`` (of one dtype), complex as (re, im)."""
    return torch.cat([(torch.view_as_real(t.contiguous()) if t.is_complex() else t).reshape(-1)
                      for t in tensors])


def _unflatten(flat, like) -> list:
    out, at = [], 0
    for t in like:
        n = t.numel() * (2 if t.is_complex() else 1)
        part = flat[at:at + n]
        out.append(torch.view_as_complex(part.reshape(*t.shape, 2)) if t.is_complex()
                   else part.reshape(t.shape))
        at += n
    return out


# ---------------------------------------------------------------- the split simulation

def execute_sharded(executor, graph, seq, data, min_emitted_signal, min_latent_signal,
                    print_progress, return_mag_adc, clear_state_mag, initial_mag,
                    voxel_chunks: int = 1, distributed: bool = True):
    """``executor(graph, seq, data, ...)`` (ours or MRzeroCore's, MRzeroCore's arguments)
    on this rank's voxels in ``voxel_chunks`` parts, summed over the chunks and the ranks.

    The signal is the whole signal on every rank, and gradients are the single
    process's on every rank (module docstring). ``mag_adc`` (return_mag_adc) covers
    this rank's voxels, ``voxel_shard(voxels)``, with the chunks joined: in a single
    process, all voxels, as without chunks (then the chunks keep their autograd graphs:
    mag_adc is as large as what they would save).
    """
    if isinstance(voxel_chunks, bool) or not isinstance(voxel_chunks, int) or voxel_chunks < 1:
        raise ValueError(f"voxel_chunks={voxel_chunks!r}: a whole number of voxel parts "
                         "simulated one after the other, 1 or more")
    rank, ranks = rank_and_size() if distributed else (0, 1)
    voxels = data.PD.numel()
    if ranks > 1:
        _check_same_problem(graph, seq, data, rank, ranks)
    shard = voxel_slices(voxels, ranks)[rank]
    chunks = [slice(shard.start + part.start, shard.start + part.stop)
              for part in voxel_slices(shard.stop - shard.start, voxel_chunks)]
    inputs = Inputs(seq, data, initial_mag)
    tensors = inputs.tensors
    if ranks > 1 and tensors:
        tensors = ShareGradients.apply(*tensors)
    show = print_progress and rank == 0

    def simulate(chunk, *tensors, mag_adc=False, recomputing=False):
        seq, data, initial_mag = inputs.rebuild(tensors)
        start = None if initial_mag is None else torch.as_tensor(initial_mag).reshape(-1)[chunk]
        return executor(graph, seq, shard_data(data, chunk), min_emitted_signal,
                        min_latent_signal, show and not recomputing, mag_adc, clear_state_mag,
                        start)

    mag_adc = None
    if return_mag_adc:
        parts = [simulate(c, *tensors, mag_adc=True) for c in chunks]
        signal = _sum(p[0] for p in parts)
        # per repetition, per emitting state: (samples, voxels) with the chunks' voxels joined
        mag_adc = [[torch.cat(states, -1) for states in zip(*reps)]
                   for reps in zip(*(p[1] for p in parts))]
    elif len(chunks) == 1 or not tensors:
        # nothing to recompute: without autograd each chunk's work is freed before the next
        signal = _sum(simulate(c, *tensors) for c in chunks)
    else:
        signal = ChunkedSignal.apply(simulate, chunks, *tensors)
    if ranks > 1:
        signal = SumOverRanks.apply(signal)
    return (signal, mag_adc) if return_mag_adc else signal


def _sum(parts):
    total = None
    for part in parts:
        total = part if total is None else total + part
    return total


def _check_same_problem(graph, seq, data, rank, ranks) -> None:
    """Every rank must simulate the same sequence and graph on the same phantom; a
    mismatch would otherwise hang or sum unrelated signals."""
    mine = torch.tensor([data.PD.numel(), int(data.coil_sens.shape[0]), len(seq), len(graph),
                         sum(len(states) for states in graph)], dtype=torch.int64,
                        device=data.device)
    everyone = [torch.empty_like(mine) for _ in range(ranks)]
    dist.all_gather(everyone, mine)
    if any(not torch.equal(other, everyone[0]) for other in everyone):
        what = ("voxels", "coils", "repetitions", "graph repetitions", "graph states")
        table = "; ".join(f"rank {r}: " + ", ".join(f"{int(n)} {w}" for n, w in zip(t, what))
                          for r, t in enumerate(everyone))
        raise ValueError("execute_graph under torch.distributed splits one simulation by "
                         "voxels, so every rank must pass the same sequence, pre-pass graph "
                         f"and phantom; they differ: {table}")
