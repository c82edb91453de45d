"""One optimisation step, stage by stage: where the time of ``pulseqzero.optimize`` goes.

For the example sequences (examples/gre.py, examples/flair_epi.py, examples/tse.py)
at n × n on the built-in brain phantom, after one warm-up step (trace, phantom,
first pre-pass), the median over ``--repeat`` steps of:

* to_mr0    -- guard check, re-execution of the graph (torch), mr0 lowering;
* pre-pass  -- MRzeroCore ``compute_graph`` (skipped by ``steps_per_graph=k``);
* PDG       -- the main pass (forward simulation): ``pulseqzero.execute_graph``, or
  MRzeroCore's ``execute_graph`` with ``--simulator mrzerocore``;
* reco      -- ``reco_adjoint`` with the sequence's k-space;
* backward  -- autograd through all of it to the parameters;

    .venv/bin/python benchmarks/optimize_step.py [gre:16 gre:32 flair_epi:32 tse:32] [--repeat 3]
        [--simulator mrzerocore]

The last column is the peak resident memory of the process so far (VmHWM, GiB).

A case is NAME:N (TSE: N/2 echoes, 2 shots).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples"))


def case(name: str, n: int):
    """(sequence function, parameters, static keyword arguments)."""
    f64 = dict(dtype=torch.float64)
    if name == "gre":
        from gre import gre
        return gre, (12e-3, 5e-3, torch.full((n,), 10.0, **f64, requires_grad=True)), \
            dict(Nx=n, Ny=n)
    if name == "tse":
        from tse import tse
        return tse, (12e-3, 2.0, torch.full((n // 2,), 150.0, **f64, requires_grad=True)), \
            dict(Nx=n, Ny=n, n_echo=n // 2)
    if name == "flair_epi":
        from flair_epi import flair_epi
        return flair_epi, (torch.tensor(2.0, **f64, requires_grad=True),), dict(Nx=n, Ny=n)
    raise SystemExit(f"unknown case {name!r}: gre, flair_epi or tse")


def main(argv=None):
    from pulseqzero.optimize import Simulator, compute_pdg, reconstruct

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="*", default=["gre:16", "gre:32", "flair_epi:32", "tse:32"])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--simulator", choices=("pulseqzero", "mrzerocore"),
                        default="pulseqzero")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"{'case':<14}{'to_mr0':>9}{'pre-pass':>10}{'PDG':>9}{'reco':>8}{'backward':>10}"
          f"{'step':>9}{'peak GiB':>9}  (s, median of {args.repeat})")
    for spec in args.cases:
        name, n = spec.split(":")
        n = int(n)
        fn, params, kw = case(name, n)
        sim = Simulator(fn, (n, n), seq_kwargs=kw, simulator=args.simulator)
        sim.image(*params).abs().sum().backward()  # warm-up
        rows = []
        for _ in range(args.repeat):
            t = [time.perf_counter()]
            seq = sim.sequence(*params)
            t.append(time.perf_counter())
            graph = compute_pdg(seq, sim.data)
            t.append(time.perf_counter())
            signal = sim.execute(graph, seq, sim.data)
            t.append(time.perf_counter())
            image = reconstruct(signal, seq, (n, n), sim.seq_fov(*params))
            t.append(time.perf_counter())
            image.abs().pow(2).mean().backward()
            t.append(time.perf_counter())
            rows.append([b - a for a, b in zip(t, t[1:])] + [t[-1] - t[0]])
        med = [statistics.median(c) for c in zip(*rows)]
        print(f"{spec:<14}" + "".join(f"{v:>{w}.3f}" for v, w in zip(med, (9, 10, 9, 8, 10, 9)))
              + f"{_peak_gib():>8.2f}", flush=True)


def _peak_gib() -> float:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 2 ** 20
    except OSError:
        pass
    return float("nan")


if __name__ == "__main__":
    main()
