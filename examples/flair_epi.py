"""FLAIR: optimise the inversion time of an inversion-recovery EPI to null CSF.

The sequence (``flair_epi``) is written the way PyPulseq users write it and
runs under real pypulseq as well as traced: a non-selective 180° block
inversion pulse, a spoiler, the inversion delay TI, a 90° slice-selective
sinc excitation, and a blipped Cartesian EPI readout (single shot, or
``shots`` interleaved shots each with its own inversion, TR apart). All
delays are rounded up to the gradient raster with ``pp.ceil``, which is
straight-through when traced, so the simulated image is differentiable in TI.

The optimisation (``main``) starts at TI = 1.2 s and minimises the CSF signal
relative to the brain (grey + white matter) signal of the simulated image.
For a single shot from full relaxation the magnetisation of CSF crosses zero
at TI = T1·ln 2 (2.88 s for CSF's T1 of 4.16 s); the optimiser should land
close to it (the EPI's point-spread function mixes a little brain into the
CSF voxels, so it need not hit the number exactly).

    python examples/flair_epi.py --out out/flair          # 32×32, 30 steps
    python examples/flair_epi.py --out out/flair --quick  # 16×16, 3 steps (CI)
    python examples/flair_epi.py --write flair.seq        # under real pypulseq

Writes ``flair_images.png`` (start / optimised / ideal FLAIR), ``flair_loss.png``,
``flair_ti.png`` (TI per step), ``flair_sequence.png``, ``flair_kspace.png`` and
``flair_optimised.seq`` to ``--out``.
"""
from __future__ import annotations

import argparse
import math
import sys
import time
import warnings
from pathlib import Path

import numpy as np

import pulseqzero

pp = pulseqzero.pp_impl

FOV = 0.22  # m
SLICE_THICKNESS = 5e-3  # m
SYSTEM = dict(max_grad=32, grad_unit="mT/m", max_slew=130, slew_unit="T/m/s",
              rf_ringdown_time=30e-6, rf_dead_time=100e-6)
DWELL = 10e-6  # s, ADC dwell time of the EPI readout


def flair_epi(TI=2.5, TE=30e-3, TR=10.0, Nx: int = 32, Ny: int = 32, shots: int = 1):
    """Inversion-recovery EPI: TI (inversion to excitation centre), TE (excitation centre to
    the centre of k-space), TR (inversion to inversion, only used with ``shots`` > 1), in s."""
    assert Ny % shots == 0, "Ny must be a multiple of the number of shots"
    system = pp.Opts(**SYSTEM)
    seq = pp.Sequence(system)
    raster = seq.grad_raster_time

    # inversion: non-selective 180° block pulse, then a spoiler
    rf_inv = pp.make_block_pulse(flip_angle=math.pi, duration=1e-3, system=system, use="inversion")
    gz_spoil = pp.make_trapezoid(channel="z", area=8 / SLICE_THICKNESS, system=system)

    # excitation: 90° slice-selective sinc, rephaser
    rf, gz, _ = pp.make_sinc_pulse(flip_angle=math.pi / 2, duration=3e-3,
                                   slice_thickness=SLICE_THICKNESS, apodization=0.5,
                                   time_bw_product=4, system=system, return_gz=True,
                                   use="excitation")

    # EPI readout without ramp sampling (as PyPulseq's write_epi.py)
    delta_k = 1 / FOV
    readout_time = Nx * DWELL
    flat_time = np.ceil(readout_time / raster) * raster
    gx = pp.make_trapezoid(channel="x", amplitude=Nx * delta_k / readout_time,
                           flat_time=flat_time, system=system)
    adc = pp.make_adc(num_samples=Nx, duration=readout_time,
                      delay=gx.rise_time + flat_time / 2 - (readout_time - DWELL) / 2,
                      system=system)
    pre_time = 8e-4
    gx_pre = pp.make_trapezoid(channel="x", area=-gx.area / 2, duration=pre_time, system=system)
    gz_reph = pp.make_trapezoid(channel="z", area=-gz.area / 2, duration=pre_time, system=system)
    # the shortest triangle: each ramp rounded up to the raster
    blip_time = 2 * np.ceil(np.sqrt(shots * delta_k / system.max_slew) / raster) * raster
    gy_blip = pp.make_trapezoid(channel="y", area=shots * delta_k, duration=blip_time,
                                system=system)
    lines = Ny // shots

    # timing: inversion centre -> excitation centre = TI; excitation centre -> centre line = TE
    inv_after = pp.calc_duration(rf_inv) - (rf_inv.delay + rf_inv.shape_dur / 2)
    ex_before = rf.delay + 3e-3 / 2
    ex_after = pp.calc_duration(rf, gz) - ex_before
    echo_spacing = pp.calc_duration(gx) + pp.calc_duration(gy_blip)
    centre = lines // 2  # the shot's echo through the centre of k-space
    delay_TI = pp.ceil((TI - inv_after - pp.calc_duration(gz_spoil) - ex_before)
                       / raster) * raster
    delay_TE = pp.ceil((TE - ex_after - pre_time - centre * echo_spacing
                        - pp.calc_duration(gx) / 2) / raster) * raster
    assert delay_TI >= 0, "TI is too short"
    assert delay_TE >= 0, "TE is too short"
    shot_time = (pp.calc_duration(rf_inv) + pp.calc_duration(gz_spoil) + delay_TI
                 + pp.calc_duration(rf, gz) + pre_time + delay_TE + lines * echo_spacing
                 + pp.calc_duration(gz_spoil))
    delay_TR = pp.ceil((TR - shot_time) / raster) * raster
    if shots > 1:
        assert delay_TR >= 0, "TR is too short for the shot"

    for shot in range(shots):
        seq.add_block(rf_inv)
        seq.add_block(gz_spoil)
        seq.add_block(pp.make_delay(delay_TI))
        seq.add_block(rf, gz)
        gy_pre = pp.make_trapezoid(channel="y", area=(shot - Ny / 2) * delta_k,
                                   duration=pre_time, system=system)
        seq.add_block(gx_pre, gy_pre, gz_reph)
        seq.add_block(pp.make_delay(delay_TE))
        for _ in range(lines):
            seq.add_block(gx, adc)
            seq.add_block(gy_blip)
            gx.amplitude = -gx.amplitude  # the next line runs the other way
        seq.add_block(gz_spoil)
        if shots > 1:
            seq.add_block(pp.make_delay(delay_TR))
            if lines % 2:  # start every shot with the same readout polarity
                gx.amplitude = -gx.amplitude

    seq.set_definition("FOV", [FOV, FOV, SLICE_THICKNESS])
    seq.set_definition("Name", "flair_epi")
    return seq


# ---------------------------------------------------------------- the optimisation

CSF_T1 = 4.16  # s, the phantom's value (pulseqzero.phantom.TISSUES)


def main(out: Path = Path("out/flair"), n: int = 32, steps: int = 30, TI0: float = 1.2,
         lr: float = 0.15, quick: bool = False, sim=None):
    """Optimise TI; returns a dict with the losses, the TI per step and the files."""
    import torch

    from pulseqzero import plotting
    from pulseqzero.optimize import Optimization
    from pulseqzero.phantom import tissue_masks, tissue_maps

    if quick:
        n, steps = 16, 3
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    warnings.simplefilter("ignore", pulseqzero.TracingWarning)
    masks = {k: torch.as_tensor(v) for k, v in tissue_masks(n, fov=FOV).items()}
    csf, brain = masks["csf"], masks["gm"] | masks["wm"]

    def csf_to_brain(image, target):
        """Mean CSF signal energy relative to the brain's (target: only its shape is used)."""
        power = image.abs() ** 2
        return power[csf].mean() / power[brain].mean()

    # what FLAIR should look like: proton density, CSF dark (for the picture)
    maps = tissue_maps(n, fov=FOV)
    ideal = torch.as_tensor(np.where(masks["csf"].numpy(), 0.0, maps["PD"]))

    t_start = time.perf_counter()
    TI = torch.tensor(TI0, dtype=torch.float64, requires_grad=True)
    opt = Optimization(flair_epi, ideal, TI, seq_kwargs=dict(Nx=n, Ny=n), loss=csf_to_brain,
                       lr=lr, bounds=[(0.1, 6.0)], **(sim or {}))
    with torch.no_grad():
        start_image = opt.image().abs()
    opt.run(steps)
    with torch.no_grad():
        final_image = opt.image().abs()
        final_loss = float(csf_to_brain(final_image, ideal))
    seconds = time.perf_counter() - t_start
    ti = float(TI.detach())
    ti_null = CSF_T1 * math.log(2)

    files = {}
    files["images"] = plotting.plot_images(
        {f"start: TI {TI0:.2f} s": start_image,
         f"optimised: TI {ti:.2f} s": final_image,
         "ideal FLAIR (PD, CSF black)": ideal},
        out / "flair_images.png", shared_scale=False,
        suptitle=f"IR-EPI {n}×{n}: CSF/brain signal energy "
                 f"{opt.losses[0]:.3f} → {final_loss:.4f}")
    files["loss"] = plotting.plot_loss(opt.losses + [final_loss], out / "flair_loss.png",
                                       title="FLAIR: CSF suppression",
                                       ylabel="mean |CSF|² / mean |brain|²")
    files["ti"] = plotting.plot_param_history(
        opt.param_history(0), out / "flair_ti.png", name="TI", unit="s",
        final=ti, title="inversion time",
        reference={f"CSF null, T1·ln 2 = {ti_null:.2f} s": ti_null})
    bound = opt.bound()
    t_ex = ti + 2e-3
    files["sequence"] = plotting.plot_sequence(
        bound, time_range=(t_ex - 4e-3, t_ex + 0.04), path=out / "flair_sequence.png",
        title="optimised IR-EPI: excitation and EPI readout (the inversion is TI earlier)")
    files["kspace"] = plotting.plot_kspace(bound, path=out / "flair_kspace.png",
                                           title="EPI k-space (MR-zero's view)")
    bound.write(out / "flair_optimised.seq")
    files["seq"] = out / "flair_optimised.seq"
    print(f"FLAIR: TI {TI0:.3f} s -> {ti:.3f} s in {steps} steps ({seconds:.1f} s); "
          f"CSF null of a single inversion: {ti_null:.3f} s")
    for path in files.values():
        print(f"  wrote {path}")
    return dict(losses=opt.losses, final_loss=final_loss, TI=ti, files=files,
                seconds=seconds, optimization=opt)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("out/flair"),
                        help="folder for the results")
    parser.add_argument("--n", type=int, default=32, help="matrix size (n × n)")
    parser.add_argument("--steps", type=int, default=30, help="optimisation steps")
    parser.add_argument("--ti", type=float, default=1.2, help="start inversion time (s)")
    parser.add_argument("--quick", action="store_true", help="16×16, 3 steps (for CI)")
    parser.add_argument("--write", metavar="SEQ",
                        help="only write the sequence at --ti with real pypulseq and exit")
    args = parser.parse_args()
    if args.write:
        flair_epi(args.ti, Nx=args.n, Ny=args.n).write(args.write)
        print(f"wrote {args.write} (pypulseq)")
        sys.exit(0)
    main(args.out, args.n, args.steps, args.ti, quick=args.quick)
