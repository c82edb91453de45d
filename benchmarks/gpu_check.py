"""Lowering and a PDG forward / backward of a 128-line GRE on CUDA (or the CPU).

    .venv/bin/python benchmarks/gpu_check.py [--lines 128] [--device cuda] [--simulator mrzerocore]

Prints the device, the time of ``graph.to_mr0`` (re-execution + lowering), of the
PDG pre-pass, forward and backward (the main pass: ``pulseqzero.execute_graph``, or
MRzeroCore's with ``--simulator mrzerocore``), checks that every tensor of the lowered
sequence lives on the device and that the gradients w.r.t. TR, TE and the flip
train are finite.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import time
import warnings

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "examples"))
from gre import gre  # noqa: E402

import pulseqzero  # noqa: E402
from pulseqzero.phantom import sim_data  # noqa: E402


def timed(fn, sync):
    sync()
    t = time.perf_counter()
    out = fn()
    sync()
    return out, time.perf_counter() - t


def main(lines: int, device: str, simulator: str = "pulseqzero"):
    import MRzeroCore as mr0
    warnings.simplefilter("ignore")
    dev = torch.device(device if device != "cuda" or torch.cuda.is_available() else "cpu")
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    print(f"device: {dev} ({torch.cuda.get_device_name(dev) if dev.type == 'cuda' else 'cpu'}), "
          f"torch {torch.__version__}")
    f64 = dict(dtype=torch.float64, device=dev)
    TR = torch.tensor(12e-3, **f64, requires_grad=True)
    TE = torch.tensor(5e-3, **f64, requires_grad=True)
    flips = torch.full((lines,), 10.0, **f64, requires_grad=True)
    traced = pulseqzero.trace(gre)
    (_, t_trace) = timed(lambda: traced(TR, TE, flips, Nx=lines, Ny=lines), sync)
    bound = traced(TR, TE, flips, Nx=lines, Ny=lines)
    bound.to_mr0()  # layout
    data = sim_data(resolution=lines)
    data = data.cuda() if dev.type == "cuda" else data
    ok = True
    # The first round pays for CUDA context / kernel warm-up; the second is what an
    # optimisation loop sees per step.
    for round_ in ("first", "second"):
        for p in (TR, TE, flips):
            p.grad = None
        seq, t_lower = timed(bound.to_mr0, sync)
        assert all(r.event_time.device.type == dev.type and r.gradm.device.type == dev.type
                   and r.pulse.angle.device.type == dev.type for r in seq)
        with contextlib.redirect_stdout(io.StringIO()):
            graph, t_pre = timed(lambda: mr0.compute_graph(seq, data, 200, 1e-4), sync)
        execute = pulseqzero.execute_graph if simulator == "pulseqzero" else mr0.execute_graph
        signal, t_fwd = timed(lambda: execute(graph, seq, data, print_progress=False), sync)
        loss = (signal.abs() ** 2).sum()
        _, t_bwd = timed(loss.backward, sync)
        grads = {"TR": TR.grad, "TE": TE.grad, "flips": flips.grad}
        ok &= all(g is not None and bool(torch.isfinite(g).all()) for g in grads.values())
        print(f"lines {lines}, {round_} round: trace {t_trace:.3f} s, to_mr0 {t_lower * 1e3:.1f} ms, "
              f"pre-pass {t_pre:.3f} s, forward {t_fwd:.3f} s, backward {t_bwd:.3f} s")
    print(f"dL/dTR {float(TR.grad):.4g}, dL/dTE {float(TE.grad):.4g}, "
          f"|dL/dflips| {float(flips.grad.norm()):.4g}, finite: {ok}")
    if dev.type == "cuda":
        print(f"peak GPU memory: {torch.cuda.max_memory_allocated(dev) / 2**20:.0f} MiB")
    return ok


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=128)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--simulator", choices=("pulseqzero", "mrzerocore"), default="pulseqzero")
    args = parser.parse_args()
    sys.exit(0 if main(args.lines, args.device, args.simulator) else 1)
