"""A 2D turbo spin echo (TSE / RARE / FSE), written the way PyPulseq users write it.

90° slice-selective sinc excitation and rephaser, then a train of ``n_echo``
slice-selective sinc refocusing pulses (CPMG: the refocusing pulses' phase is
90° from the excitation's), each between two crusher trapezoids, a phase
encode after each refocusing pulse, the readout with ADC at the echo, and the
phase rewinder before the next pulse. ``Ny / n_echo`` shots fill k-space
(line ``echo · shots + shot``: echo ``n_echo/2`` goes through the centre, the
effective TE is ``n_echo/2 · TE``).

Timing: excitation centre to first refocusing centre TE/2, refocusing centre
to echo TE/2 (TE is the echo spacing). Delays are rounded up to the gradient
raster with ``pp.ceil`` (straight-through when traced).

``tse(TE, TR, refoc_flips, Nx, Ny, n_echo)`` -- TE, TR in s, ``refoc_flips``
one refocusing flip angle (degrees) per echo -- runs under real pypulseq
(``pp_impl`` outside any trace) or traced (``pulseqzero.trace``); both write
the same ``.seq``. Uses ``make_sinc_pulse``, ``make_trapezoid``, ``make_adc``,
``make_delay`` and ``calc_duration`` only.

    python examples/tse.py tse.seq      # writes a 64×64 TSE with 180° pulses via pypulseq
"""
import math

import numpy as np

import pulseqzero

pp = pulseqzero.pp_impl

FOV = 0.22  # m
SLICE_THICKNESS = 5e-3  # m
RF_DURATION = 2e-3  # s, excitation and refocusing pulses
SYSTEM = dict(max_grad=28, grad_unit="mT/m", max_slew=150, slew_unit="T/m/s",
              rf_ringdown_time=20e-6, rf_dead_time=100e-6, adc_dead_time=10e-6)


def tse(TE=12e-3, TR=2.0, refoc_flips=None, Nx: int = 64, Ny: int = 64, n_echo: int = 16):
    """2D TSE: echo spacing TE and TR in s, ``refoc_flips`` (degrees, one per echo; default:
    180° each)."""
    if refoc_flips is None:
        refoc_flips = np.full(n_echo, 180.0)
    assert Ny % n_echo == 0, "Ny must be a multiple of the echo train length"
    shots = Ny // n_echo
    system = pp.Opts(**SYSTEM)
    seq = pp.Sequence(system)
    raster = seq.grad_raster_time
    delta_k = 1 / FOV

    rf_ex, gz_ex, _ = pp.make_sinc_pulse(flip_angle=math.pi / 2, phase_offset=math.pi / 2,
                                         duration=RF_DURATION, slice_thickness=SLICE_THICKNESS,
                                         apodization=0.5, time_bw_product=4, system=system,
                                         return_gz=True, use="excitation")
    gz_reph = pp.make_trapezoid(channel="z", area=-gz_ex.area / 2, duration=1e-3, system=system)
    gx = pp.make_trapezoid(channel="x", flat_area=Nx * delta_k, flat_time=3.2e-3, system=system)
    adc = pp.make_adc(num_samples=Nx, duration=gx.flat_time, delay=gx.rise_time, system=system)
    # the first refocusing pulse inverts the prephaser: prephase in the readout's direction
    gx_pre = pp.make_trapezoid(channel="x", area=gx.area / 2, duration=1e-3, system=system)
    # crushers on both sides of every refocusing pulse (the same sign: the echo path survives)
    gz_crush = pp.make_trapezoid(channel="z", area=4 / SLICE_THICKNESS, duration=1e-3,
                                 system=system)
    phase_areas = (np.arange(Ny) - Ny / 2) * delta_k
    pe_duration = 1e-3

    rf_ref, gz_ref, _ = pp.make_sinc_pulse(flip_angle=refoc_flips[0] * math.pi / 180,
                                           duration=RF_DURATION, slice_thickness=SLICE_THICKNESS,
                                           apodization=0.5, time_bw_product=4, system=system,
                                           return_gz=True, use="refocusing")
    # pulse centres: from the start of each block, and what follows the centre
    ex_after = pp.calc_duration(rf_ex, gz_ex) - (rf_ex.delay + RF_DURATION / 2)
    ref_before = rf_ref.delay + RF_DURATION / 2
    ref_after = pp.calc_duration(rf_ref, gz_ref) - ref_before
    crush = pp.calc_duration(gz_crush)
    readout_half = pp.calc_duration(gx) / 2
    after_ref = max(crush, pe_duration)  # the block of crusher and phase encode

    delay_1 = pp.ceil((TE / 2 - ex_after - pp.calc_duration(gx_pre, gz_reph) - crush
                       - ref_before) / raster) * raster
    delay_2 = pp.ceil((TE / 2 - ref_after - after_ref - readout_half) / raster) * raster
    delay_3 = pp.ceil((TE / 2 - readout_half - pe_duration - crush - ref_before)
                      / raster) * raster
    assert delay_1 >= 0, "TE is too short (excitation to first refocusing)"
    assert delay_2 >= 0, "TE is too short (refocusing to echo)"
    assert delay_3 >= 0, "TE is too short (echo to next refocusing)"
    train = (pp.calc_duration(rf_ex, gz_ex) + pp.calc_duration(gx_pre, gz_reph) + delay_1
             + n_echo * (crush + pp.calc_duration(rf_ref, gz_ref) + after_ref + delay_2
                         + pp.calc_duration(gx) + pe_duration + delay_3))
    delay_TR = pp.ceil((TR - train) / raster) * raster
    assert delay_TR >= 0, "TR is too short for the echo train"

    for shot in range(shots):
        seq.add_block(rf_ex, gz_ex)
        seq.add_block(gx_pre, gz_reph)
        seq.add_block(pp.make_delay(delay_1))
        for echo in range(n_echo):
            line = echo * shots + shot
            rf_ref, gz_ref, _ = pp.make_sinc_pulse(
                flip_angle=refoc_flips[echo] * math.pi / 180, duration=RF_DURATION,
                slice_thickness=SLICE_THICKNESS, apodization=0.5, time_bw_product=4,
                system=system, return_gz=True, use="refocusing")
            gy_pre = pp.make_trapezoid(channel="y", area=phase_areas[line], duration=pe_duration,
                                       system=system)
            seq.add_block(gz_crush)
            seq.add_block(rf_ref, gz_ref)
            seq.add_block(gz_crush, gy_pre)
            seq.add_block(pp.make_delay(delay_2))
            seq.add_block(gx, adc)
            gy_pre.amplitude = -gy_pre.amplitude  # rewind the phase encode
            seq.add_block(gy_pre)
            seq.add_block(pp.make_delay(delay_3))
        seq.add_block(pp.make_delay(delay_TR))

    seq.set_definition("FOV", [FOV, FOV, SLICE_THICKNESS])
    seq.set_definition("Name", "tse")
    return seq


if __name__ == "__main__":  # under real pypulseq: write the sequence
    import sys
    out = sys.argv[1] if len(sys.argv) > 1 else "tse.seq"
    tse(12e-3, 2.0, np.full(16, 180.0)).write(out)
    print("wrote", out)
