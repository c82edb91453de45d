"""The PDG main pass: ``pulseqzero.execute_graph`` vs MRzeroCore's ``execute_graph``.

For each case (a sequence of the examples at N lines on the built-in brain phantom
at N × N, or the phantom size given as NAME:N@P), on the same pre-pass graph:

* time of the forward pass and of the backward pass (loss ``sum |signal|²`` to the
  sequence parameters), medians over ``--repeat`` runs, the two executors
  alternating in this one process;
* peak memory growth of forward + backward (VmHWM after minus VmRSS before, the
  peak reset first), each executor in a process of its own;
* the minimum work, emitting states × ADC samples × voxels (the complex
  exponentials any exact PDG needs), and our forward time per element of it.

    .venv/bin/python benchmarks/simulate.py                       # gre/tse at 32, 64, 128
    .venv/bin/python benchmarks/simulate.py gre:256@256 --ours-only
    .venv/bin/python benchmarks/simulate.py gre:128 --device cuda

MRzeroCore's executor runs only up to ``--reference-lines`` lines (default 64): at
128 lines on 128² it needs tens of GB.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import warnings

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "examples"))


def parse_case(text: str):
    name, _, size = text.partition(":")
    lines, _, phantom = size.partition("@")
    return name, int(lines), int(phantom or lines)


def setup(name: str, lines: int, phantom: int, device: str):
    """(sequence builder of the parameters, parameters, SimData, pre-pass graph)."""
    import pulseqzero
    from pulseqzero.optimize import compute_pdg
    from pulseqzero.phantom import sim_data
    f64 = dict(dtype=torch.float64, device=device)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if name == "gre":
            from gre import gre
            graph = pulseqzero.trace(gre).trace(12e-3, 5e-3, np.full(lines, 10.0), Nx=lines, Ny=lines)
            params = [torch.tensor(5e-3, **f64), torch.full((lines,), 10.0, **f64)]
            names = ["TE", "flips"]
        elif name == "tse":
            from tse import tse
            graph = pulseqzero.trace(tse).trace(12e-3, 2.0, np.full(16, 150.0), Nx=lines, Ny=lines,
                                                n_echo=16)
            params = [torch.tensor(12e-3, **f64), torch.full((16,), 150.0, **f64)]
            names = ["TE", "refoc_flips"]
        else:
            raise SystemExit(f"unknown case {name!r}: gre or tse")
        data = sim_data(resolution=phantom, device=device)
        cpu = data if device == "cpu" else data.cpu()
        pre = compute_pdg(graph.to_mr0(), cpu)
    for p in params:
        p.requires_grad_()

    def make(*values):
        return graph.to_mr0(**dict(zip(names, values)))
    return make, params, data, pre


def executor(which: str):
    if which == "none":  # the lowering alone: the baseline of the memory columns
        def lowering_only(graph, seq, data, **_):
            return sum(rep.gradm.sum() + rep.event_time.sum() + rep.pulse.angle.sum()
                       for rep in seq).reshape(1, 1) * (1 + 0j)
        return lowering_only
    if which == "ours":
        from pulseqzero.simulate import execute_graph
        return execute_graph
    import MRzeroCore as mr0
    return mr0.execute_graph


def sync(device):
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def one_run(run, make, params, data, pre, device):
    """(forward s, backward s) of one simulation with gradients."""
    seq = make(*params)
    sync(device)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        signal = run(pre, seq, data, print_progress=False)
    sync(device)
    t1 = time.perf_counter()
    loss = (signal.abs() ** 2).sum()
    grads = torch.autograd.grad(loss, params)
    sync(device)
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, signal.detach(), grads


def minimum_work(pre, seq, data):
    from pulseqzero.simulate.plan import plan_of
    plan = plan_of(pre, 1e-2, 1e-2, "cpu")
    samples = [int((rep.adc_usage > 0).sum()) for rep in seq]
    return sum(r.n_emit * n for r, n in zip(plan.repetitions, samples)) * data.PD.numel()


def memory_child(which, case, device):
    """In a process of its own: peak RSS growth (bytes) of one forward + backward."""
    make, params, data, pre = setup(*parse_case(case), device)
    run = executor(which)
    one_run(run, make, params, data, pre, device)  # warm up (imports, plan)
    import ctypes
    import gc
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)  # hand the warm-up's freed memory back
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset VmHWM to the current RSS
    before = _status("VmRSS")
    one_run(run, make, params, data, pre, device)
    print(json.dumps({"growth": _status("VmHWM") - before}))


def _status(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(key)


def memory(which, case, device):
    cmd = [sys.executable, os.path.abspath(__file__), "--memory-child", which, case,
           "--device", device]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])["growth"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="*",
                        default=["gre:32", "tse:32", "gre:64", "tse:64", "gre:128", "tse:128"])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--reference-lines", type=int, default=64,
                        help="run MRzeroCore's executor only up to this many lines")
    parser.add_argument("--ours-only", action="store_true")
    parser.add_argument("--no-memory", action="store_true")
    parser.add_argument("--memory-child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    if args.memory_child:
        memory_child(*args.memory_child, args.device)
        return
    print(f"torch {torch.__version__}, 1 thread, device {args.device}, "
          f"load average {os.getloadavg()[0]:.1f}")
    head = (f"{'case':<12}{'voxels':>7}{'min work':>10}{'':>3}{'fwd s':>8}{'bwd s':>8}"
            f"{'mem MB':>8}{'ns/elem':>9}  | {'mr0 fwd':>8}{'bwd':>7}{'mem MB':>8}"
            f"  | {'fwd+bwd x':>9}{'mem x':>7}{'sig err':>9}")
    print(head)
    for case in args.cases:
        name, lines, phantom = parse_case(case)
        make, params, data, pre = setup(name, lines, phantom, args.device)
        with_ref = not args.ours_only and lines <= args.reference_lines
        runs = {"ours": [], "mr0": []}
        ours_run, ref_run = executor("ours"), executor("mr0")
        one_run(ours_run, make, params, data, pre, args.device)  # warm-up: the plan
        for _ in range(args.repeat):
            runs["ours"].append(one_run(ours_run, make, params, data, pre, args.device))
            if with_ref:
                runs["mr0"].append(one_run(ref_run, make, params, data, pre, args.device))
        work = minimum_work(pre, make(*params), data)
        fwd = statistics.median(r[0] for r in runs["ours"])
        bwd = statistics.median(r[1] for r in runs["ours"])
        mem = None if args.no_memory else memory("ours", case, args.device)
        row = (f"{case:<12}{data.PD.numel():>7}{work:>10.3g}{'':>3}{fwd:>8.3f}{bwd:>8.3f}"
               f"{_mb(mem):>8}{1e9 * fwd / max(work, 1):>9.1f}  | ")
        if with_ref:
            rfwd = statistics.median(r[0] for r in runs["mr0"])
            rbwd = statistics.median(r[1] for r in runs["mr0"])
            rmem = None if args.no_memory else memory("mr0", case, args.device)
            sig, ref = runs["ours"][-1][2], runs["mr0"][-1][2]
            err = float((sig - ref).norm() / ref.norm())
            ratio_mem = f"{rmem / mem:>7.1f}" if mem and rmem else f"{'-':>7}"
            row += (f"{rfwd:>8.3f}{rbwd:>7.3f}{_mb(rmem):>8}  | "
                    f"{(rfwd + rbwd) / (fwd + bwd):>9.1f}{ratio_mem}{err:>9.1e}")
        else:
            row += f"{'-':>8}{'-':>7}{'-':>8}  | {'-':>9}{'-':>7}{'-':>9}"
        print(row, flush=True)
        del make, params, data, pre, runs


def _mb(value):
    return "-" if value is None else f"{value / 2 ** 20:.0f}"


if __name__ == "__main__":
    main()
