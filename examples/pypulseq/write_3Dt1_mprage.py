"""3D T1 MPRAGE: pypulseq 1.4.2's module-level ``write_3Dt1_mprage.py`` for pulseqzero
(``pp = pulseqzero.pp_impl``, a function of its parameters, ``main()``).
``python write_3Dt1_mprage.py [--traced]``.

pypulseq cannot write the original: its TI and TR delays are off the 10 us block
duration raster. Here they are rounded to it (``pp.round``: straight-through, so they
stay differentiable), and the sequence writes.
"""
import sys
from math import pi

import numpy as np

import pulseqzero

pp = pulseqzero.pp_impl


def mprage_3d(TI=140e-3, TR=10e-3, T_recovery=1e-3, fov=256e-3, fov_z=256e-3,
              Nx: int = 256, Ny: int = 256, Nz: int = 32):
    """TI, TR and recovery time (s), field of view in plane and along z (m), matrix. (The
    original computes a TE delay it does not use: the readout follows the prephasers.)"""
    system = pp.Opts(
        max_grad=32,
        grad_unit="mT/m",
        max_slew=130,
        slew_unit="T/m/s",
        grad_raster_time=10e-6,
        rf_ringdown_time=10e-6,
        rf_dead_time=100e-6,
    )
    seq = pp.Sequence(system)

    # =========
    # RF preparatory, excitation
    # =========
    flip_exc = 12 * pi / 180
    rf = pp.make_block_pulse(
        flip_angle=flip_exc, system=system, duration=250e-6, time_bw_product=4
    )

    flip_prep = 90 * pi / 180
    rf_prep = pp.make_block_pulse(
        flip_angle=flip_prep, system=system, duration=500e-6, time_bw_product=4
    )

    # =========
    # Readout
    # =========
    delta_k = 1 / fov
    k_width = Nx * delta_k
    readout_time = 3.5e-3
    gx = pp.make_trapezoid(
        channel="x", system=system, flat_area=k_width, flat_time=readout_time
    )
    adc = pp.make_adc(num_samples=Nx, duration=gx.flat_time, delay=gx.rise_time)

    # =========
    # Prephase and Rephase
    # =========
    delta_kz = 1 / fov_z
    phase_areas = (np.arange(Ny) - (Ny / 2)) * delta_k
    slice_areas = (np.arange(Nz) - (Nz / 2)) * delta_kz

    gx_pre = pp.make_trapezoid(channel="x", system=system, area=-gx.area / 2, duration=2e-3)
    gy_pre = pp.make_trapezoid(
        channel="y", system=system, area=phase_areas[-1], duration=2e-3
    )

    # =========
    # Spoilers
    # =========
    pre_time = 6.4e-4
    gx_spoil = pp.make_trapezoid(
        channel="x",
        system=system,
        area=(4 * np.pi) / (42.576e6 * delta_k * 1e-3) * 42.576e6,
        duration=pre_time * 6,
    )
    gy_spoil = pp.make_trapezoid(
        channel="y",
        system=system,
        area=(4 * np.pi) / (42.576e6 * delta_k * 1e-3) * 42.576e6,
        duration=pre_time * 6,
    )
    gz_spoil = pp.make_trapezoid(
        channel="z",
        system=system,
        area=(4 * np.pi) / (42.576e6 * delta_kz * 1e-3) * 42.576e6,
        duration=pre_time * 6,
    )

    # =========
    # Extended trapezoids: gx, gx_spoil
    # =========
    t_gx_extended = np.array(
        [0, gx.rise_time, gx.flat_time, (gx.rise_time * 2) + gx.flat_time + gx.fall_time]
    )
    amp_gx_extended = np.array([0, gx.amplitude, gx.amplitude, gx_spoil.amplitude])
    t_gx_spoil_extended = np.array(
        [
            0,
            gx_spoil.rise_time + gx_spoil.flat_time,
            gx_spoil.rise_time + gx_spoil.flat_time + gx_spoil.fall_time,
        ]
    )
    amp_gx_spoil_extended = np.array([gx_spoil.amplitude, gx_spoil.amplitude, 0])

    gx_extended = pp.make_extended_trapezoid(
        channel="x", times=t_gx_extended, amplitudes=amp_gx_extended
    )
    gx_spoil_extended = pp.make_extended_trapezoid(
        channel="x", times=t_gx_spoil_extended, amplitudes=amp_gx_spoil_extended
    )

    # =========
    # Delays, on the block duration raster (the original's are not: pypulseq refuses them)
    # =========
    raster = system.block_duration_raster
    delay_TI = TI - pp.calc_duration(rf_prep) / 2 - pp.calc_duration(gx_spoil)
    delay_TI = pp.round(delay_TI / raster) * raster
    delay_TR = (
        TR
        - pp.calc_duration(rf)
        - pp.calc_duration(gx_pre)
        - pp.calc_duration(gx)
        - pp.calc_duration(gx_spoil)
    )
    delay_TR = pp.round(delay_TR / raster) * raster

    for i in range(Ny):
        gy_pre = pp.make_trapezoid(
            channel="y", system=system, area=phase_areas[i], duration=2e-3
        )

        seq.add_block(rf_prep)
        seq.add_block(gx_spoil, gy_spoil, gz_spoil)
        seq.add_block(pp.make_delay(delay_TI))

        for j in range(Nz):
            gz_pre = pp.make_trapezoid(
                channel="z", system=system, area=slice_areas[j], duration=2e-3
            )
            gz_reph = pp.make_trapezoid(
                channel="z", system=system, area=-slice_areas[j], duration=2e-3
            )

            seq.add_block(rf)
            seq.add_block(gx_pre, gy_pre, gz_pre)
            # Skip TE: readout_time = 3.5e3 --> TE = -2.168404344971009e-19
            seq.add_block(gx_extended, adc)
            seq.add_block(gx_spoil_extended, gz_reph)
            seq.add_block(pp.make_delay(delay_TR))

        seq.add_block(pp.make_delay(T_recovery))

    seq.set_definition(key="Name", value="3D T1 MPRAGE")
    return seq


def main(write_seq: bool = True, seq_filename: str = "256_3d_t1_mprage_pypulseq.seq",
         traced: bool = False):
    """Write the .seq: with pypulseq, or (``traced``) from the recorded graph."""
    if traced:
        graph = pulseqzero.trace(mprage_3d).trace()
        if write_seq:
            graph.write(seq_filename)
        return graph
    seq = mprage_3d()
    if write_seq:
        seq.write(seq_filename)
    return seq


if __name__ == "__main__":
    main(traced="--traced" in sys.argv)
