"""The demo `make demo` runs: trace the GRE, export it, simulate it, optimise its flips.

1. trace ``examples/gre.py`` once and print the IR;
2. write ``gre.seq`` through pypulseq;
3. simulate it with PDG on the built-in brain phantom and reconstruct;
4. a few Adam steps on the flip-angle train: start from a ramp and fit the
   image of a reference train (the optimiser only sees the images);
5. save ``gre_demo.png`` (images, loss curve, flip trains).
"""
from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import torch

import pulseqzero
from pulseqzero.phantom import sim_data

from gre import FOV, gre


def simulate(seq, data):
    import MRzeroCore as mr0
    graph = mr0.compute_graph(seq, data, 200, 1e-4)
    return mr0.execute_graph(graph, seq, data, print_progress=False)


def reconstruct(signal, seq, n):
    import MRzeroCore as mr0
    return mr0.reco_adjoint(signal, seq.get_kspace(), resolution=(n, n, 1), FOV=(FOV, FOV, 1))[:, :, 0]


def main(out: Path, n: int = 32, steps: int = 12):
    out.mkdir(parents=True, exist_ok=True)
    warnings.simplefilter("ignore")
    traced = pulseqzero.trace(gre)
    TR, TE = 12e-3, 5e-3

    t0 = time.perf_counter()
    graph = traced.trace(TR, TE, np.full(n, 10.0), Nx=n, Ny=n)
    print(f"traced gre in {time.perf_counter() - t0:.2f} s\n")
    print(graph)
    (out / "gre_ir.txt").write_text(str(graph) + "\n")
    graph.write(out / "gre.seq")
    print(f"\nwrote {out / 'gre.seq'} (through pypulseq)")

    data = sim_data(resolution=n)
    target_flips = torch.full((n,), 20.0, dtype=torch.float64)
    with torch.no_grad():
        seq = traced(TR, TE, target_flips, Nx=n, Ny=n).to_mr0()
        target = reconstruct(simulate(seq, data), seq, n).abs()

    flips = torch.linspace(4.0, 40.0, n, dtype=torch.float64).requires_grad_()
    optimizer = torch.optim.Adam([flips], lr=1.5)
    losses, images = [], []
    t0 = time.perf_counter()
    for step in range(steps):
        optimizer.zero_grad()
        seq = traced(TR, TE, flips, Nx=n, Ny=n).to_mr0()  # re-executes the graph
        image = reconstruct(simulate(seq, data), seq, n)
        loss = ((image.abs() - target) ** 2).mean() / (target ** 2).mean()
        loss.backward()
        optimizer.step()
        losses.append(float(loss))
        images.append(image.detach().abs())
        print(f"step {step:2d}  loss {float(loss):.4f}  flips {flips.detach().min():.1f}"
              f"..{flips.detach().max():.1f} deg")
    print(f"{steps} optimisation steps in {time.perf_counter() - t0:.1f} s "
          f"(traced once: {traced.trace_count} trace)")

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(1, 5, figsize=(19, 3.8))
    vmax = float(target.max())
    for a, img, title in zip(ax[:3], [images[0], images[-1], target],
                             ["start (flip ramp 4-40°)", f"after {steps} steps", "target (20° train)"]):
        a.imshow(img.T.numpy(), origin="lower", cmap="gray", vmin=0, vmax=vmax)
        a.set_title(title)
        a.set_xlabel("x (pixel)")
        a.set_ylabel("y (pixel)")
    ax[3].plot(losses, "o-")
    ax[3].set_xlabel("step")
    ax[3].set_ylabel("relative MSE of magnitude")
    ax[3].set_title("loss")
    ax[4].plot(np.linspace(4, 40, n), label="start")
    ax[4].plot(flips.detach().numpy(), label="optimised")
    ax[4].plot(target_flips.numpy(), "--", label="target")
    ax[4].set_xlabel("phase-encode line")
    ax[4].set_ylabel("flip angle (°)")
    ax[4].set_title("flip train")
    ax[4].legend()
    fig.tight_layout()
    fig.savefig(out / "gre_demo.png", dpi=110)
    print(f"\npictures: {out / 'gre_demo.png'}")
    return losses


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("out"))
    parser.add_argument("--lines", type=int, default=32, help="phase-encode lines (= resolution)")
    parser.add_argument("--steps", type=int, default=12)
    args = parser.parse_args()
    main(args.out, args.lines, args.steps)
