"""Lowering time: ``graph.to_mr0()`` against pypulseq ``write`` + MRzeroCore ``import_file``.

For a 2D GRE (examples/gre.py) with N = 64, 128, 256, 512 phase-encode lines
(N readout samples), all measured in this one run:

* pypulseq: ``seq.write(tmp.seq)`` of the pypulseq Sequence the script built,
  then ``MRzeroCore.Sequence.import_file(tmp.seq)`` (the route a pulseq user
  takes to simulate a .seq);
* pulseqzero: ``graph.to_mr0(TE=tensor)`` of the traced graph (guard check,
  re-evaluation of the parameter-dependent values, lowering);

and the number of torch ops one ``to_mr0`` runs (it must not grow with N).

    .venv/bin/python benchmarks/lowering.py [--lines 64 128 256 512] [--repeat 5]
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import tempfile
import time
import warnings

import numpy as np
import torch
from torch.overrides import TorchFunctionMode

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "examples"))
import gre as gre_module  # noqa: E402
from gre import gre  # noqa: E402

import pulseqzero  # noqa: E402


class OpCounter(TorchFunctionMode):
    """Counts torch function calls (ops) made while active."""

    def __init__(self):
        super().__init__()
        self.count = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        self.count += 1
        return func(*args, **(kwargs or {}))


def best_of(fn, repeat):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main(lines, repeat):
    import MRzeroCore as mr0
    warnings.simplefilter("ignore")
    traced = pulseqzero.trace(gre)
    print(f"{'N':>5} {'write+import (s)':>17} {'to_mr0 (s)':>11} {'ratio':>7} {'torch ops':>10}")
    for n in lines:
        # the prephaser lasts 1 ms: beyond 256 lines the FOV grows with N (the largest
        # phase-encode area stays what the gradient system can play), as in reexec.py
        gre_module.FOV = 0.22 * max(1.0, n / 256)
        flips = np.full(n, 10.0)
        seq = gre(12e-3, 5e-3, flips, Nx=n, Ny=n)  # real pypulseq
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "gre.seq")

            def pypulseq_route():
                with contextlib.redirect_stdout(io.StringIO()):
                    seq.write(path)
                    mr0.Sequence.import_file(path)
            t_ref = best_of(pypulseq_route, max(1, repeat // 2))

        graph = traced.trace(12e-3, 5e-3, flips, Nx=n, Ny=n)
        te = torch.tensor(5e-3, dtype=torch.float64, requires_grad=True)
        graph.to_mr0(TE=te)  # builds the layout once
        t_ours = best_of(lambda: graph.to_mr0(TE=te), repeat)
        with OpCounter() as ops:
            graph.to_mr0(TE=te)
        print(f"{n:>5} {t_ref:>17.3f} {t_ours:>11.4f} {t_ref / t_ours:>7.1f} {ops.count:>10}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, nargs="+", default=[64, 128, 256, 512])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    main(args.lines, args.repeat)
