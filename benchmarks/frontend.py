"""Front-end speed: tracing and ``.seq`` export against pypulseq itself.

Two sequences, each measured in this one process with the two sides alternating
(pypulseq, pulseqzero, pypulseq, ...), medians over ``--repeat`` runs:

* ``gre``: ``examples/gre.py`` with N phase-encode lines (default 256) and N
  readout samples;
* ``mprage``: pypulseq 1.4.2's own ``write_MPRAGE.py`` example, unmodified
  (run by pypulseq; traced with ``pulseqzero.trace_script``).

Ratios printed (the goals of issue 17 in brackets):

* first trace / pypulseq build [<= 1.0]: a fresh trace (no cache) against the
  same script run by pypulseq up to the built ``Sequence`` (no file written);
* export / (pypulseq build + write) [<= 1.2]: ``graph.write(path)`` of the
  traced graph against pypulseq building the sequence and writing it.

    .venv/bin/python benchmarks/frontend.py [--cases gre mprage] [--lines 256] [--repeat 3]
"""
from __future__ import annotations

import argparse
import contextlib
import gc
import io
import os
import runpy
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path[:0] = [ROOT, os.path.join(ROOT, "examples")]  # this checkout's pulseqzero
from gre import gre  # noqa: E402

import pypulseq  # noqa: E402
from pypulseq.Sequence.sequence import Sequence as RealSequence  # noqa: E402

import pulseqzero  # noqa: E402
from pulseqzero.scripts import _trace_script  # noqa: E402

MPRAGE = Path(pypulseq.__file__).parent / "seq_examples" / "scripts" / "write_MPRAGE.py"


def timed(fn):
    gc.collect()
    t = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        result = fn()
    return time.perf_counter() - t, result


class GRE:
    def __init__(self, lines):
        self.name = f"GRE {lines} lines"
        self.args = (12e-3, 5e-3, np.full(lines, 10.0))
        self.kwargs = dict(Nx=lines, Ny=lines)

    def build(self):
        return gre(*self.args, **self.kwargs)  # outside a trace: real pypulseq

    def build_and_write(self, path):
        self.build().write(str(path))

    def trace(self):
        return pulseqzero.trace(gre).trace(*self.args, **self.kwargs)


class MPRAGEScript:
    name = "pypulseq's write_MPRAGE.py"

    def _run(self, write_seq):
        namespace = runpy.run_path(str(MPRAGE), run_name="benchmark")
        namespace["main"](plot=False, write_seq=write_seq)

    def build(self):
        self._run(False)

    def build_and_write(self, path):
        original = RealSequence.write
        RealSequence.write = lambda seq, name, *a, **k: original(seq, str(path), *a, **k)
        try:
            self._run(True)
        finally:
            RealSequence.write = original

    def trace(self):
        return _trace_script(MPRAGE, "main", dict(plot=False, write_seq=True))[0]


def measure(case, repeat, directory):
    times = {k: [] for k in ("build", "trace", "build+write", "export")}
    for _ in range(repeat):
        times["build"].append(timed(case.build)[0])
        t, graph = timed(case.trace)
        times["trace"].append(t)
        times["build+write"].append(timed(lambda: case.build_and_write(directory / "ref.seq"))[0])
        times["export"].append(timed(lambda: graph.write(directory / "ours.seq"))[0])
        del graph
    return {k: statistics.median(v) for k, v in times.items()}


def main(cases, lines, repeat):
    warnings.simplefilter("ignore")
    print(f"pulseqzero from {os.path.dirname(pulseqzero.__file__)}")
    chosen = {"gre": GRE(lines), "mprage": MPRAGEScript()}
    print(f"medians of {repeat}, alternating in one process; x: pulseqzero / pypulseq "
          "(goals: trace x <= 1.0, export x <= 1.2)")
    print(f"{'sequence':28} {'build s':>8} {'trace s':>8} {'trace x':>8} "
          f"{'build+write s':>13} {'export s':>8} {'export x':>8}")
    with tempfile.TemporaryDirectory() as tmp:
        cwd = os.getcwd()
        os.chdir(tmp)  # the MPRAGE script writes into the working directory
        try:
            for name in cases:
                case = chosen[name]
                m = measure(case, repeat, Path(tmp))
                print(f"{case.name:28} {m['build']:8.2f} {m['trace']:8.2f} "
                      f"{m['trace'] / m['build']:8.2f} {m['build+write']:13.2f} "
                      f"{m['export']:8.2f} {m['export'] / m['build+write']:8.2f}", flush=True)
        finally:
            os.chdir(cwd)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", nargs="+", choices=["gre", "mprage"], default=["gre", "mprage"])
    parser.add_argument("--lines", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=3)
    a = parser.parse_args()
    main(a.cases, a.lines, a.repeat)
