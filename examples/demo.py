"""The demo `make demo` runs: trace a GRE, export it, then optimise its flip-angle train.

1. trace ``examples/gre.py`` once and print the IR (params, guards, folded blocks);
2. write ``gre.seq`` through pypulseq;
3. a short version of ``examples/gre_flip_opt.py``: simulate the GRE with PDG on
   the built-in brain phantom, reconstruct, and run Adam steps on the flip
   train towards a sharp, fully relaxed target image;
4. save the pictures (images, loss, flip train, sequence diagram, k-space).

    python examples/demo.py --out out             # what `make demo` runs
    python examples/demo.py --lines 32 --steps 40 # the full example's size
"""
from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # examples/

import pulseqzero  # noqa: E402

import gre_flip_opt  # noqa: E402
from gre import gre  # noqa: E402


def main(out: Path = Path("out"), lines: int = 20, steps: int = 10):
    t_total = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    warnings.simplefilter("ignore", pulseqzero.TracingWarning)

    print("== 1. trace examples/gre.py (64 lines) once ==")
    t0 = time.perf_counter()
    graph = pulseqzero.trace(gre).trace(12e-3, 5e-3, np.full(64, 10.0))
    print(f"traced in {time.perf_counter() - t0:.2f} s\n")
    print(graph)
    (out / "gre_ir.txt").write_text(str(graph) + "\n")

    print("\n== 2. export through pypulseq ==")
    t0 = time.perf_counter()
    graph.write(out / "gre.seq")
    print(f"wrote {out / 'gre.seq'} in {time.perf_counter() - t0:.2f} s")

    print(f"\n== 3. optimise the flip train ({lines} lines, {steps} Adam steps, PDG on the "
          "built-in brain phantom) ==")
    result = gre_flip_opt.main(out, lines=lines, steps=steps)

    print(f"\n== done in {time.perf_counter() - t_total:.0f} s ==")
    print(f"pictures in {out.resolve()}/:")
    for key in ("images", "loss", "flips", "sequence", "kspace"):
        print(f"  {Path(result['files'][key]).name}")
    print("full examples: examples/gre_flip_opt.py, examples/flair_epi.py, "
          "examples/tse_flip_opt.py (each with --quick)")
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("out"), help="folder for the results")
    parser.add_argument("--lines", type=int, default=20, help="phase-encode lines (= resolution)")
    parser.add_argument("--steps", type=int, default=10, help="optimisation steps")
    args = parser.parse_args()
    main(args.out, args.lines, args.steps)
