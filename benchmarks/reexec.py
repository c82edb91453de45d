"""Re-execution vs re-running the script: time per optimisation-loop step.

For a GRE (examples/gre.py) and a TSE (examples/tse.py) at N phase-encode
lines, one optimisation-loop step builds the MRzeroCore sequence for new
parameter tensors (TR, TE / echo spacing, flip angles; requires_grad):

  (a) script  -- the original project's loop: run the sequence script again
                 inside ``pulseqzero.mr0_mode()`` and call ``seq.to_mr0()``;
  (b) reexec  -- ``traced(...).to_mr0()``: trace once, then per step check the
                 guards and re-execute the compiled graph (then lower to mr0).

Printed, all from this one run: the median time per step of (a) and (b) and
their ratio; the split of (b) into guard check, graph evaluation and mr0
lowering (``backends/mr0.py lower``); a/lower, the ceiling of a/b: (a) ends in
the same lowering, so no engine can make (b) cheaper than it; the torch ops per
re-execution of the graph (compiled plan) next to the per-node reference
interpreter, and the torch ops of the whole step (counted with a
``TorchFunctionMode``); the peak memory of one step (Python / numpy heap via
tracemalloc; CUDA peak when run on a GPU) and how far the resident memory rises.

    python benchmarks/reexec.py [--device cuda] [--lines 64 128 256 512] [--repeat 15] [--threads 1]
"""
from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import time
import tracemalloc
import warnings
from pathlib import Path

import torch
from torch.overrides import TorchFunctionMode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "examples"))
os.environ.setdefault("MPLBACKEND", "Agg")

import pulseqzero  # noqa: E402
from pulseqzero.backends import mr0 as mr0_backend  # noqa: E402
from pulseqzero.ir.evaluate import evaluate  # noqa: E402
from tests.conftest import load_example  # noqa: E402
import tse as tse_module  # noqa: E402
from tse import tse  # noqa: E402


class OpCounter(TorchFunctionMode):
    """Counts torch function calls (functions, methods, operators) made inside it."""

    def __init__(self):
        super().__init__()
        self.count = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        self.count += 1
        return func(*args, **(kwargs or {}))


def count_ops(fn):
    with OpCounter() as counter:
        fn()
    return counter.count


def median_time(fn, repeat):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def interleaved_medians(script_step, reexec_step, repeat):
    """Median times of (a) and (b) measured alternately -- one (a) step every other
    (b) step -- so that a machine whose speed drifts during the run (a shared or
    throttled CPU) slows both alike and their ratio stays meaningful."""
    times_a, times_b = [], []
    for i in range(repeat):
        if i % 2 == 0:
            t = time.perf_counter()
            script_step()
            times_a.append(time.perf_counter() - t)
        t = time.perf_counter()
        reexec_step()
        times_b.append(time.perf_counter() - t)
    return statistics.median(times_a), statistics.median(times_b)


def _status_kib(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise OSError(field)


def peak_rss_growth(fn):
    """How far the resident memory rose above its level before one call, in MiB (Linux:
    the peak is reset through /proc/self/clear_refs); nan where that is not available."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        before = _status_kib("VmRSS")
    except OSError:
        fn()
        return float("nan")
    fn()
    return max(0, _status_kib("VmHWM") - before) / 1024


def peak_memory(fn, device):
    """(peak RSS growth, Python / numpy heap peak, CUDA peak allocated) of one call, in MiB."""
    rss = peak_rss_growth(fn)
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    cuda = torch.cuda.max_memory_allocated() / 2 ** 20 if device.type == "cuda" else float("nan")
    return rss, peak / 2 ** 20, cuda


def cases(n, device):
    """(name, script function, positional params (tensors), static kwargs).

    Both scripts phase-encode in 1 ms: beyond 256 lines the FOV grows with N (the
    largest phase-encode area stays what the gradient system can play)."""
    f64 = dict(dtype=torch.float64, device=device)
    gre_module = load_example("gre")
    gre = gre_module.gre
    gre_module.FOV = tse_module.FOV = 0.22 * max(1.0, n / 256)
    yield ("gre", gre,
           lambda: (torch.tensor(12e-3, **f64, requires_grad=True),
                    torch.tensor(5e-3, **f64, requires_grad=True),
                    torch.linspace(5.0, 20.0, n, **f64).requires_grad_()),
           dict(Nx=64, Ny=n))
    yield ("tse", tse,
           lambda: (torch.tensor(12e-3, **f64, requires_grad=True),
                    torch.tensor(2.0, **f64, requires_grad=True),
                    torch.full((16,), 160.0, **f64).requires_grad_()),
           dict(Nx=64, Ny=n, n_echo=16))


def measure(name, fn, make_params, static, device, repeat, gc_freeze=True):
    params = make_params()

    def script_step():  # (a): the script again, in mr0 mode
        with pulseqzero.mr0_mode():
            seq = fn(*params, **static)
            return seq.to_mr0()

    traced = pulseqzero.trace(fn)
    traced(*params, **static).to_mr0()  # the one trace (and plan compilation)
    assert traced.trace_count == 1

    def reexec_step():  # (b): guards + re-execution + lowering
        return traced(*params, **static).to_mr0()

    reexec_step()
    assert traced.trace_count == 1, "re-execution re-traced"
    with pulseqzero.frozen_heap() if gc_freeze else contextlib.nullcontext():
        t_a, t_b = interleaved_medians(script_step, reexec_step, repeat)

    graph = traced.trace(*params, **static)
    names = graph.ir.param_names
    given = dict(zip(names, params))
    plan = graph.plan("mr0")
    layout = graph.layout()
    inputs = graph.inputs(given)
    env = plan.run(inputs, "torch")
    t_guard = median_time(lambda: graph.inputs(given), repeat)
    t_eval = median_time(lambda: plan.run(inputs, "torch"), repeat)
    t_lower = median_time(lambda: mr0_backend.lower(graph.ir, env, layout, device=env.device),
                          repeat)
    roots = layout.dynamic_nodes()
    ops_plan = count_ops(lambda: plan.run(inputs, "torch"))
    ops_ref = count_ops(lambda: evaluate(graph.ir.values, inputs, "torch", roots=roots))
    ops_step = count_ops(reexec_step)
    mem_a = peak_memory(script_step, device)
    mem_b = peak_memory(reexec_step, device)
    return dict(seq=name, t_a=t_a, t_b=t_b, guard=t_guard, eval=t_eval, lower=t_lower,
                ops_plan=ops_plan, ops_ref=ops_ref, ops_step=ops_step, groups=plan.n_groups,
                levels=len(plan.levels), nodes=len(graph.ir.values), blocks=len(graph.blocks),
                mem_a=mem_a, mem_b=mem_b)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--lines", type=int, nargs="+", default=[64, 128, 256, 512])
    parser.add_argument("--repeat", type=int, default=15,
                        help="steps of (b) per case, (a) every other one (default 15: single steps "
                             "on a shared machine vary by tens of per cent)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch intra-op threads (default 1: the step's tensors are small; on "
                             "a busy machine more threads mostly wait for each other)")
    parser.add_argument("--no-freeze", action="store_true",
                        help="time the loops without pulseqzero.frozen_heap() (what "
                             "Optimization.run uses): full garbage collections of the imported "
                             "modules then land in some steps")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    warnings.simplefilter("ignore")
    torch.manual_seed(0)
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(f"pulseqzero re-execution benchmark -- device {gpu}, torch {torch.__version__}, "
          f"{os.cpu_count()} CPUs, {torch.get_num_threads()} torch thread(s); median of "
          f"{args.repeat} steps (script: {(args.repeat + 1) // 2}, interleaved), "
          f"{'default garbage collection' if args.no_freeze else 'frozen_heap()'}")
    head = (f"{'seq':4} {'N':>4} {'blocks':>6} {'(a) script':>11} {'(b) reexec':>11} {'a/b':>6} | "
            f"{'guards':>8} {'eval':>8} {'lower':>8} {'a/(g+e)':>8} {'a/lower':>8} | "
            f"{'ops plan':>8} {'ops ref':>8} "
            f"{'ops step':>8} | {'RSS+ a':>7} {'RSS+ b':>7} {'heap a':>7} {'heap b':>7}"
            + (" | CUDA MiB a, b" if device.type == "cuda" else ""))
    print(head)
    print("-" * len(head))
    for n in args.lines:
        for name, fn, make_params, static in cases(n, device):
            r = measure(name, fn, make_params, static, device, args.repeat, not args.no_freeze)
            ms = lambda s: f"{s * 1e3:9.1f}ms"  # noqa: E731
            line = (f"{r['seq']:4} {n:>4} {r['blocks']:>6} {ms(r['t_a']):>11} {ms(r['t_b']):>11} "
                    f"{r['t_a'] / r['t_b']:6.1f} | {ms(r['guard'])[:-2]:>6}ms {ms(r['eval'])[:-2]:>6}ms "
                    f"{ms(r['lower'])[:-2]:>6}ms {r['t_a'] / (r['guard'] + r['eval']):8.0f} "
                    f"{r['t_a'] / r['lower']:8.1f} | "
                    f"{r['ops_plan']:>8} {r['ops_ref']:>8} {r['ops_step']:>8} | "
                    f"{r['mem_a'][0]:7.1f} {r['mem_b'][0]:7.1f} {r['mem_a'][1]:7.1f} {r['mem_b'][1]:7.1f}")
            if device.type == "cuda":
                line += f" | {r['mem_a'][2]:.1f}, {r['mem_b'][2]:.1f}"
            print(line, flush=True)
    print("a/b: whole step; a/(g+e): the script vs guard check + graph evaluation (what this "
          "engine replaces; lowering excluded); a/lower: the script vs the mr0 lowering alone "
          "(freeing its result included), the most a/b can be while (a) and (b) share that "
          "lowering. ops: torch function calls per graph evaluation "
          "(compiled plan vs per-node reference) and per whole re-execution step. Memory of one "
          "step in MiB: peak resident growth (RSS+) and Python / numpy heap peak (tracemalloc).")


if __name__ == "__main__":
    main()
