"""One optimisation step split by voxels: 1 process vs 2 (torch.distributed, gloo) vs chunks.

For the N-line GRE (examples/gre.py, flip train optimised) on the built-in brain
phantom at N × N, each configuration runs in fresh processes (so that the peak
memory is its own), started the way torchrun starts them (RANK, WORLD_SIZE,
MASTER_ADDR, MASTER_PORT), one warm-up step, then the median of ``--repeat``
``Optimization.step()`` calls (lowering, pre-pass, PDG, reconstruction, backward,
Adam step; with 2 processes also the all-reduces and the parameter broadcast):

* ``1 proc``          -- one process, one torch thread;
* ``1 proc, 2 thr``   -- one process, two torch threads (the same cores as 2 × 1);
* ``2 procs``         -- two processes of one thread each, the voxels split between them;
* ``1 proc, chunks k`` -- one process, one thread, ``voxel_chunks=k``.

CPU: the process's CPU time per step (median; all its threads), which a busy
machine does not inflate as it does the wall time: the work per rank.

Memory: per process, the peak resident set during the timed steps (VmHWM, reset
after the warm-up step) and its growth over what the process held before them
(the step's own memory: the pre-pass graph, the simulation and its autograd
graph, the reconstruction, transients, and freed memory the allocator keeps:
the executor gives it back past 256 MB of growth, ``simulate/memory.py``; the
imports, the phantom and the traced graph are held before); "saved": the peak
of what autograd holds for backward during one more step (all of it, the
reconstruction's included; in chunks, one chunk's at a time in backward).

    .venv/bin/python benchmarks/distributed.py [gre:32 gre:64 gre:128] [--repeat 3]
        [--chunks 2 4]

Timings on a shared machine move with its load (printed); compare within one run.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import time
import warnings

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _reset_peak() -> None:
    """Set VmHWM to the current resident set (Linux >= 4.0: clear_refs 5)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


class SavedForBackward:
    """The peak of what autograd holds for backward (bytes of the distinct storages of
    the saved tensors alive at once), while the context is active: the simulation's
    autograd memory without the allocator's slack that the resident set also holds."""

    def __init__(self):
        self.live, self.now, self.peak = {}, 0, 0  # storage pointer -> [bytes, count]

    def pack(self, tensor):
        import weakref
        storage = tensor.untyped_storage()
        key = storage.data_ptr()
        entry = self.live.get(key)
        if entry is None:
            entry = self.live[key] = [storage.nbytes(), 0]
            self.now += entry[0]
            self.peak = max(self.peak, self.now)
        entry[1] += 1
        saved = tensor.detach()  # an object of our own whose end we can see
        weakref.finalize(saved, self._release, key)
        return saved

    def _release(self, key):
        entry = self.live[key]
        entry[1] -= 1
        if entry[1] == 0:
            self.now -= entry[0]
            del self.live[key]

    def __enter__(self):
        import torch
        self._hooks = torch.autograd.graph.saved_tensors_hooks(self.pack, lambda t: t)
        self._hooks.__enter__()
        return self

    def __exit__(self, *exc):
        self._hooks.__exit__(*exc)


def worker(n: int, repeat: int, chunks: int) -> None:
    """One rank: time ``repeat`` optimisation steps, print a JSON line."""
    import torch
    import torch.distributed as dist
    sys.path.insert(0, os.path.join(ROOT, "examples"))
    from gre import gre
    from pulseqzero.optimize import Optimization
    from pulseqzero.simulate.memory import _TRIM

    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        dist.init_process_group("gloo")
    rank = dist.get_rank() if dist.is_initialized() else 0
    warnings.simplefilter("ignore")
    flips = torch.full((n,), 10.0, dtype=torch.float64, requires_grad=True)
    opt = Optimization(gre, torch.zeros(n, n), 12e-3, 5e-3, flips, seq_kwargs=dict(Nx=n, Ny=n),
                       voxel_chunks=chunks)
    opt.step()  # warm-up: trace, phantom, plans, the lowering's and the optimiser's imports
    gc.collect()
    if _TRIM is not None:  # give the warm-up's freed heap back, so that the steps' use shows
        _TRIM(0)
    _reset_peak()  # what is measured: the steps
    before = _status_kib("VmRSS")
    seconds, cpu = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        opt.step()
        seconds.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    peak = _status_kib("VmHWM")
    with SavedForBackward() as saved:  # one more step, counted (not timed)
        opt.step()
    print(json.dumps(dict(rank=rank, step=statistics.median(seconds), cpu=statistics.median(cpu),
                          voxels=int(opt.simulator.data.PD.numel()),
                          peak_mib=peak / 1024, growth_mib=(peak - before) / 1024,
                          saved_mib=saved.peak / 2 ** 20,
                          loss=opt.losses[-1])), flush=True)
    if dist.is_initialized():
        dist.destroy_process_group()


def run(n: int, repeat: int, processes: int, threads: int, chunks: int) -> list:
    """Start ``processes`` workers as torchrun would; their JSON results."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    children = []
    for rank in range(processes):
        env = dict(os.environ, RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(processes),
                   MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), OMP_NUM_THREADS=str(threads),
                   PYTHONPATH=os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")]))
        children.append(subprocess.Popen(
            [sys.executable, __file__, "--worker", str(n), "--repeat", str(repeat),
             "--chunks", str(chunks)], env=env, stdout=subprocess.PIPE, text=True))
    results = []
    for child in children:
        out, _ = child.communicate()
        if child.returncode:
            raise SystemExit(f"a worker failed (exit {child.returncode})")
        results.append(json.loads(out.strip().splitlines()[-1]))
    return sorted(results, key=lambda r: r["rank"])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="*", default=["gre:32", "gre:64", "gre:128"])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--chunks", type=int, nargs="*", default=[4])
    parser.add_argument("--no-two-threads", action="store_true",
                        help="leave out one process with two threads")
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args.worker, args.repeat, args.chunks[0] if args.chunks else 1)
    configs = [("1 proc", 1, 1, 1)] + ([] if args.no_two_threads else [("1 proc, 2 thr", 1, 2, 1)])
    configs += [("2 procs", 2, 1, 1)]
    configs += [(f"1 proc, chunks {k}", 1, 1, k) for k in args.chunks]
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; step (wall) and CPU "
          f"per process: median of {args.repeat}, s; memory per process, MiB")
    print(f"{'case':<9}{'voxels':>7}  {'configuration':<18}{'step':>8}{'speedup':>9}"
          f"{'CPU':>8}{'peak':>8}{'growth':>8}{'saved':>8}{'loss':>12}")
    for spec in args.cases:
        name, n = spec.split(":")
        if name != "gre":
            raise SystemExit(f"unknown case {spec!r}: gre:N")
        base = None
        for label, processes, threads, chunks in configs:
            results = run(int(n), args.repeat, processes, threads, chunks)
            step = max(r["step"] for r in results)  # the ranks wait for each other
            base = base or step
            for r in results:
                who = label + (f" (rank {r['rank']})" if processes > 1 else "")
                print(f"{spec:<9}{r['voxels']:>7}  {who:<18}{step:>8.3f}{base / step:>9.2f}"
                      f"{r['cpu']:>8.3f}{r['peak_mib']:>8.0f}{r['growth_mib']:>8.0f}"
                      f"{r['saved_mib']:>8.0f}{r['loss']:>12.6g}",
                      flush=True)


if __name__ == "__main__":
    main()
