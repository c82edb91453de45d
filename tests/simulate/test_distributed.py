"""One simulation split by voxels (``pulseqzero/simulate/distributed.py``): in chunks in
this process, and across two gloo processes. The reference is always the same
simulation in one piece, in one process: signal and gradients must agree to float32
rounding (rel. L2 < 1e-6: only the order of the sums over voxels differs)."""
from __future__ import annotations

import datetime
import os
import sys
import warnings

import numpy as np
import pytest
import torch

import MRzeroCore as mr0

from pulseqzero.optimize import Optimization, compute_pdg
from pulseqzero.simulate import execute_graph
from pulseqzero.simulate.distributed import execute_sharded, voxel_shard, voxel_slices
from tests.conftest import EXAMPLES, free_port
from tests.simulate.oracle import _with, bssfp, rel_l2, tse, voxel_phantom

TOL = 1e-6


def simulation(data, refocus, T2, graph, **kw):
    """Signal and gradients (to the refocusing train and the T2 map) of a TSE on ``data``
    with its T2 map replaced by ``T2``; the loss exercises magnitude and phase."""
    out = execute_graph(graph, tse(refocus), _with(data, T2=T2), print_progress=False, **kw)
    signal = out[0] if isinstance(out, tuple) else out
    w = torch.randn(signal.shape, dtype=torch.cfloat, generator=torch.Generator().manual_seed(1))
    loss = (signal.abs() ** 2).sum() + (signal * w).real.sum()
    grads = torch.autograd.grad(loss, [refocus, T2])
    return signal.detach(), grads, (out[1] if isinstance(out, tuple) else None)


def tse_problem(voxels=30):
    data = voxel_phantom(n=voxels, coils=2)
    refocus = torch.linspace(2.2, 3.1, 6).requires_grad_()
    T2 = data.T2.clone().requires_grad_()
    return data, refocus, T2, compute_pdg(tse(refocus.detach()), data)


# ---------------------------------------------------------------- one process, in chunks

def test_voxel_slices_are_contiguous_and_balanced():
    for voxels, parts in [(10, 3), (7, 7), (100, 1), (5, 2)]:
        slices = voxel_slices(voxels, parts)
        assert slices[0].start == 0 and slices[-1].stop == voxels
        assert all(a.stop == b.start for a, b in zip(slices, slices[1:]))
        sizes = [s.stop - s.start for s in slices]
        assert max(sizes) - min(sizes) <= 1
    assert voxel_shard(12) == slice(0, 12)  # a single process simulates every voxel


@pytest.mark.parametrize("chunks", [2, 7, 30])
def test_voxel_chunks_give_the_same_signal_and_gradients(chunks):
    data, refocus, T2, graph = tse_problem()
    whole = simulation(data, refocus, T2, graph)
    split = simulation(data, refocus, T2, graph, voxel_chunks=chunks)
    assert rel_l2(split[0], whole[0]) < TOL
    for g, r in zip(split[1], whole[1]):
        assert rel_l2(g, r) < TOL


def test_voxel_chunks_keep_no_chunk_for_backward():
    """The chunked forward keeps only its inputs for backward (a few hundred bytes per
    repetition here), unchunked autograd keeps states × voxels tensors."""
    data, refocus, T2, graph = tse_problem(voxels=200)

    def saved_bytes(**kw):
        total = [0]

        def pack(t):
            total[0] += t.numel() * t.element_size()
            return t
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            execute_graph(graph, tse(refocus), data, print_progress=False, **kw)
        return total[0]
    whole, chunked = saved_bytes(), saved_bytes(voxel_chunks=4)
    assert chunked < 0.02 * whole, (chunked, whole)


def test_voxel_chunks_with_mag_adc_and_initial_mag():
    """return_mag_adc joins the chunks' voxels: the same list as in one piece."""
    data, refocus, T2, graph = tse_problem()
    voxels = data.PD.numel()
    start = torch.polar(torch.linspace(0.2, 1.0, voxels), torch.linspace(0, 1, voxels))
    kw = dict(return_mag_adc=True, initial_mag=start)
    whole = simulation(data, refocus, T2, graph, **kw)
    split = simulation(data, refocus, T2, graph, voxel_chunks=3, **kw)
    assert rel_l2(split[0], whole[0]) < TOL
    assert len(split[2]) == len(whole[2])
    for reps, ref in zip(split[2], whole[2]):
        assert len(reps) == len(ref)
        for a, b in zip(reps, ref):
            assert a.shape == b.shape and rel_l2(a.detach(), b.detach()) < TOL


def test_voxel_chunks_with_mrzerocores_executor():
    """The split works for any executor with MRzeroCore's arguments (Simulator's
    simulator="mrzerocore")."""
    data = voxel_phantom(n=20)
    flip = torch.tensor(0.6, requires_grad=True)
    graph = compute_pdg(bssfp(flip.detach(), n_lines=4), data)
    results = []
    for split in (False, True):
        seq = bssfp(flip, n_lines=4)
        signal = (execute_sharded(mr0.execute_graph, graph, seq, data, 1e-2, 1e-2, False,
                                  False, True, None, voxel_chunks=3) if split else
                  mr0.execute_graph(graph, seq, data, print_progress=False))
        results.append((signal.detach(), torch.autograd.grad(signal.abs().sum(), flip)[0]))
    assert rel_l2(results[1][0], results[0][0]) < TOL
    assert rel_l2(results[1][1], results[0][1]) < TOL


@pytest.mark.parametrize("chunks, match", [(0, "voxel_chunks=0"), (2.5, "voxel_chunks=2.5"),
                                           (31, "cannot split 30 voxels into 31 parts")])
def test_voxel_chunks_must_fit_the_phantom(chunks, match):
    data, refocus, T2, graph = tse_problem()
    with pytest.raises(ValueError, match=match):
        execute_graph(graph, tse(refocus), data, print_progress=False, voxel_chunks=chunks)


# ---------------------------------------------------------------- two processes (gloo)

GRE_KW = dict(Nx=8, Ny=8)


def gre_optimization():
    """A small flip-train optimisation with a penalty, by plain gradient descent (Adam's
    first steps hardly depend on the gradients' size). The penalty reaches the flips
    around the simulation: summed over the ranks with the rest, it would count twice."""
    sys.path.insert(0, str(EXAMPLES))
    from gre import gre
    flips = torch.linspace(8.0, 20.0, 8, dtype=torch.float64, requires_grad=True)
    TE = torch.tensor(5e-3, dtype=torch.float64, requires_grad=True)
    target = torch.linspace(0.0, 1.0, 64).reshape(8, 8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Optimization(gre, target, 12e-3, TE, flips, seq_kwargs=GRE_KW,
                            optimizer=torch.optim.SGD, lr=[1e-7, 0.5],
                            penalty=lambda TR, TE, flips: 1e-3 * (flips ** 2).sum())


def single_and_split(rank: int, out: str):
    """What both processes and the single-process reference compute, saved to ``out``."""
    data, refocus, T2, graph = tse_problem()
    voxels = data.PD.numel()
    signal, grads, mag_adc = simulation(data, refocus, T2, graph, return_mag_adc=True)
    opt = gre_optimization()
    opt.run(3, progress=False)
    torch.save(dict(signal=signal, grads=grads, mag_adc=[[m.detach() for m in r] for r in mag_adc],
                    shard=voxel_shard(voxels), losses=opt.losses,
                    params=[p.detach() for p in opt.trainable],
                    param_grads=[p.grad for p in opt.trainable],  # of the last step
                    chunked=simulation(data, refocus, T2, graph, voxel_chunks=2)[:2]), out)


def _worker(rank, port, folder):
    torch.set_num_threads(1)
    torch.distributed.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}",
                                         rank=rank, world_size=2,
                                         timeout=datetime.timedelta(seconds=60))
    try:
        single_and_split(rank, os.path.join(folder, f"rank{rank}.pt"))
        # a rank with another phantom is refused on every rank (not a hang, not a wrong sum)
        data = voxel_phantom(n=10 + rank)
        seq = bssfp(torch.tensor(0.5), n_lines=2)
        try:
            execute_graph(compute_pdg(seq, data), seq, data, print_progress=False)
        except ValueError as error:
            with open(os.path.join(folder, f"error{rank}.txt"), "w") as f:
                f.write(str(error))
    finally:
        torch.distributed.destroy_process_group()


def test_two_gloo_processes_match_one_process(tmp_path):
    single_and_split(0, str(tmp_path / "single.pt"))  # the reference, without a process group
    # fork: the children start with what this process has imported and built (torch,
    # MRzeroCore, the traced GRE: seconds each under spawn) and set one torch thread
    # before their first op, as DataLoader workers do
    torch.multiprocessing.start_processes(_worker, args=(free_port(), str(tmp_path)), nprocs=2,
                                          start_method="fork")
    ref = torch.load(tmp_path / "single.pt", weights_only=False)
    voxels = 30
    for rank in (0, 1):
        got = torch.load(tmp_path / f"rank{rank}.pt", weights_only=False)
        # the whole signal and the whole gradients on every rank
        assert rel_l2(got["signal"], ref["signal"]) < TOL
        for g, r in zip(got["grads"], ref["grads"]):
            assert rel_l2(g, r) < TOL
        for g, r in zip(got["chunked"][1], ref["grads"]):  # chunks within each rank
            assert rel_l2(g, r) < TOL
        # mag_adc: this rank's voxels
        shard = got["shard"]
        assert shard == voxel_slices(voxels, 2)[rank]
        assert [len(r) for r in got["mag_adc"]] == [len(r) for r in ref["mag_adc"]]
        assert sum(len(r) for r in ref["mag_adc"]) > 0
        for reps, ref_reps in zip(got["mag_adc"], ref["mag_adc"]):
            for a, b in zip(reps, ref_reps):
                assert rel_l2(a, b[:, shard]) < TOL
        # the optimisation: the same losses and parameters as one process
        assert np.allclose(got["losses"], ref["losses"], rtol=TOL, atol=0)
        for p, r in zip(got["params"], ref["params"]):
            assert rel_l2(p, r) < TOL
        for g, r in zip(got["param_grads"], ref["param_grads"]):
            assert rel_l2(g, r) < TOL
        error = (tmp_path / f"error{rank}.txt").read_text()
        assert "rank 0: 10 voxels" in error and "rank 1: 11 voxels" in error
