"""GRE: optimise the flip-angle train for minimal blurring against a target.

A spoiled GRE with a short TR (12 ms) that starts from full relaxation has a
transient signal: with a constant flip angle the first lines are bright and
the signal decays towards the steady state while k-space is filled. That
weights k-space unevenly and blurs the image. The target here is the image
the same sequence gives with a long TR (10 s: every line fully relaxed, an
8° flip): sharp and proton-density weighted. The optimiser changes the 12 ms
sequence's flip train, one angle per phase-encode line, to come as close to
it as possible (relative MSE of the magnitude images). The result is the
textbook variable-flip-angle ramp.

    python examples/gre_flip_opt.py --out out/gre          # 32 lines, 40 steps
    python examples/gre_flip_opt.py --out out/gre --quick  # 16 lines, 3 steps (CI)

Writes ``gre_images.png`` (start / optimised / target), ``gre_loss.png``,
``gre_flips.png`` (the flip train at every step), ``gre_sequence.png`` (the
first two TRs of the optimised sequence), ``gre_kspace.png`` and
``gre_optimised.seq`` (through pypulseq) to ``--out``.
"""
from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))  # examples/ for `import gre`

import pulseqzero  # noqa: E402
from pulseqzero import plotting  # noqa: E402
from pulseqzero.optimize import Optimization, simulate  # noqa: E402

from gre import gre  # noqa: E402

TR, TE = 12e-3, 5e-3  # s
TARGET_TR, TARGET_FLIP = 10.0, 8.0  # s, degrees: every line fully relaxed
START_FLIP = 15.0  # degrees, constant train


def relative_mse(image, target):
    """MSE of the magnitude images relative to the target's mean square."""
    return torch.mean((image.abs() - target.abs()) ** 2) / torch.mean(target.abs() ** 2)


def main(out: Path = Path("out/gre"), lines: int = 32, steps: int = 40, lr: float = 1.5,
         quick: bool = False, sim=None):
    """Run the example; returns a dict with the losses, the flip trains and the files."""
    if quick:
        lines, steps = 16, 3
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    warnings.simplefilter("ignore", pulseqzero.TracingWarning)
    sim = dict(sim or {})
    n = lines
    kw = dict(Nx=n, Ny=n)
    dtype = torch.float64
    t_start = time.perf_counter()

    # the target: same sequence, long TR (not optimised; only its image is used)
    with torch.no_grad():
        target = simulate(gre, TARGET_TR, TE, torch.full((n,), TARGET_FLIP, dtype=dtype),
                          shape=(n, n), seq_kwargs=kw, **sim).abs()

    flips = torch.full((n,), START_FLIP, dtype=dtype, requires_grad=True)
    opt = Optimization(gre, target, torch.tensor(TR, dtype=dtype), torch.tensor(TE, dtype=dtype),
                       flips, seq_kwargs=kw, loss=relative_mse, lr=lr, bounds=[None, None, (0, 90)],
                       **sim)
    with torch.no_grad():
        start_image = opt.image().abs()
    opt.run(steps)
    with torch.no_grad():
        final_image = opt.image().abs()
        final_loss = float(relative_mse(final_image, target))
    seconds = time.perf_counter() - t_start

    files = {}
    files["images"] = plotting.plot_images(
        {f"start: {START_FLIP:g}° train, TR {TR * 1e3:g} ms": start_image,
         f"optimised train ({steps} steps)": final_image,
         f"target: {TARGET_FLIP:g}°, TR {TARGET_TR:g} s": target},
        out / "gre_images.png",
        suptitle=f"GRE {n}×{n}: relative MSE {opt.losses[0]:.3f} → {final_loss:.3f}")
    files["loss"] = plotting.plot_loss(opt.losses + [final_loss], out / "gre_loss.png",
                                       title="GRE flip train: loss",
                                       ylabel="relative MSE of magnitude images")
    files["flips"] = plotting.plot_param_history(
        opt.param_history(2), out / "gre_flips.png", name="flip angle", unit="°",
        final=flips.detach().numpy(), xlabel="phase-encode line (acquisition order)",
        title="flip train (one angle per phase-encode line)")
    bound = opt.bound()
    files["sequence"] = plotting.plot_sequence(bound, time_range=(0, 2 * TR),
                                               path=out / "gre_sequence.png",
                                               title="optimised GRE: the first two TRs")
    files["kspace"] = plotting.plot_kspace(bound, path=out / "gre_kspace.png",
                                           title="GRE k-space (MR-zero's view)")
    bound.write(out / "gre_optimised.seq")
    files["seq"] = out / "gre_optimised.seq"
    print(f"GRE flip train: relative MSE {opt.losses[0]:.4f} -> {final_loss:.4f} in {steps} steps "
          f"({seconds:.1f} s); flips {flips.detach().min():.1f}..{flips.detach().max():.1f}°")
    for path in files.values():
        print(f"  wrote {path}")
    return dict(losses=opt.losses, final_loss=final_loss, flips=flips.detach().numpy(),
                files=files, seconds=seconds, optimization=opt)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("out/gre"), help="folder for the results")
    parser.add_argument("--lines", type=int, default=32, help="phase-encode lines (= resolution)")
    parser.add_argument("--steps", type=int, default=40, help="optimisation steps")
    parser.add_argument("--lr", type=float, default=1.5, help="Adam learning rate (degrees)")
    parser.add_argument("--quick", action="store_true", help="16 lines, 3 steps (for CI)")
    args = parser.parse_args()
    main(args.out, args.lines, args.steps, args.lr, args.quick)
