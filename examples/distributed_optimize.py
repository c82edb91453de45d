"""GRE flip-train optimisation with the simulation split across processes (torch.distributed).

The same optimisation as ``gre_flip_opt.py`` (a short-TR GRE's flip train
towards the sharp image of a fully relaxed one), written to run on several
processes: each simulates its share of the phantom's voxels, every one gets
the whole signal, the same loss and the same gradients, and only rank 0 writes
files and shows the progress bar (``docs/distributed.md``).

    torchrun --nproc_per_node=2 examples/distributed_optimize.py --out out/dist
    python examples/distributed_optimize.py --out out/dist            # one process
    python examples/distributed_optimize.py --voxel-chunks 4          # one process, 1/4 memory

Under torchrun each process joins the group torchrun describes (environment
variables RANK, WORLD_SIZE, MASTER_ADDR, ...): gloo on CPUs, NCCL with one GPU
per process (LOCAL_RANK) when CUDA is there. Writes ``distributed_images.png``
(start / optimised / target), ``distributed_loss.png`` and
``distributed_optimised.seq`` to ``--out``.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import torch
import torch.distributed as dist

sys.path.insert(0, str(Path(__file__).resolve().parent))  # examples/ for `import gre`

import pulseqzero  # noqa: E402
from pulseqzero import plotting  # noqa: E402
from pulseqzero.optimize import Optimization, simulate  # noqa: E402
from pulseqzero.simulate.distributed import is_main_rank, rank_and_size  # noqa: E402

from gre import gre  # noqa: E402

TR, TE = 12e-3, 5e-3  # s
TARGET_TR, TARGET_FLIP = 10.0, 8.0  # s, degrees: every line fully relaxed
START_FLIP = 15.0  # degrees, constant train


def join_process_group() -> torch.device:
    """Join the process group torchrun describes, if it started us; the device to use."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        if torch.cuda.is_available():  # one GPU per process
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
            torch.cuda.set_device(device)
            dist.init_process_group("nccl")
            return device
        dist.init_process_group("gloo")
    if dist.is_initialized() and dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def relative_mse(image, target):
    """MSE of the magnitude images relative to the target's mean square."""
    return torch.mean((image.abs() - target.abs()) ** 2) / torch.mean(target.abs() ** 2)


def main(out: Path = Path("out/dist"), lines: int = 32, steps: int = 10, lr: float = 1.5,
         quick: bool = False, voxel_chunks: int = 1):
    """Run the example (in every process); returns a dict with the losses and, on rank 0,
    the files written."""
    if quick:
        lines, steps = 16, 2
    device = join_process_group()
    rank, ranks = rank_and_size()
    warnings.simplefilter("ignore", pulseqzero.TracingWarning)
    kw = dict(Nx=lines, Ny=lines)
    f64 = dict(dtype=torch.float64, device=device)
    t_start = time.perf_counter()

    with torch.no_grad():  # the target: also simulated by every process, on its voxels
        target = simulate(gre, TARGET_TR, TE, torch.full((lines,), TARGET_FLIP, **f64),
                          shape=(lines, lines), seq_kwargs=kw, voxel_chunks=voxel_chunks).abs()
    flips = torch.full((lines,), START_FLIP, **f64, requires_grad=True)
    opt = Optimization(gre, target, torch.tensor(TR, **f64), torch.tensor(TE, **f64), flips,
                       seq_kwargs=kw, loss=relative_mse, lr=lr, bounds=[None, None, (0, 90)],
                       voxel_chunks=voxel_chunks)
    with torch.no_grad():
        start_image = opt.image().abs()
    opt.run(steps)
    with torch.no_grad():
        final_image = opt.image().abs()
        final_loss = float(relative_mse(final_image, target))
    seconds = time.perf_counter() - t_start
    step_seconds = sorted(s.seconds for s in opt.history)[len(opt.history) // 2]

    files = {}
    if is_main_rank():  # the other ranks hold the same results: one writer
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        files["images"] = plotting.plot_images(
            {f"start: {START_FLIP:g}° train": start_image.cpu(),
             f"optimised ({steps} steps)": final_image.cpu(),
             f"target: {TARGET_FLIP:g}°, TR {TARGET_TR:g} s": target.cpu()},
            out / "distributed_images.png",
            suptitle=f"GRE {lines}×{lines} on {ranks} process(es): relative MSE "
                     f"{opt.losses[0]:.3f} → {final_loss:.3f}")
        files["loss"] = plotting.plot_loss(opt.losses + [final_loss], out / "distributed_loss.png",
                                           title="GRE flip train: loss",
                                           ylabel="relative MSE of magnitude images")
        opt.bound().write(out / "distributed_optimised.seq")
        files["seq"] = out / "distributed_optimised.seq"
        print(f"{ranks} process(es), voxel_chunks={voxel_chunks}: relative MSE "
              f"{opt.losses[0]:.4f} -> {final_loss:.4f} in {steps} steps ({seconds:.1f} s, "
              f"median step {step_seconds:.2f} s)")
        for path in files.values():
            print(f"  wrote {path}")
    return dict(losses=opt.losses, final_loss=final_loss, flips=flips.detach().cpu().numpy(),
                files=files, rank=rank, ranks=ranks, step_seconds=step_seconds)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("out/dist"),
                        help="folder for the results (written by rank 0)")
    parser.add_argument("--lines", type=int, default=32, help="phase-encode lines (= resolution)")
    parser.add_argument("--steps", type=int, default=10, help="optimisation steps")
    parser.add_argument("--lr", type=float, default=1.5, help="Adam learning rate (degrees)")
    parser.add_argument("--voxel-chunks", type=int, default=1,
                        help="simulate each process's voxels in this many parts, one after "
                             "the other (the same gradients in less memory)")
    parser.add_argument("--quick", action="store_true", help="12 lines, 2 steps (for CI)")
    args = parser.parse_args()
    try:
        main(args.out, args.lines, args.steps, args.lr, args.quick, args.voxel_chunks)
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
