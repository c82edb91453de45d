"""A 2D spoiled gradient echo, written the way PyPulseq users write it.

Sinc excitation with slice selection and rephaser, phase encodes, a readout
with ADC, spoilers, RF spoiling, and TE / TR delays rounded up to the gradient
raster. ``gre(TR, TE, flips)`` runs under real pypulseq (``pp_impl`` outside
any trace) or traced (``pulseqzero.trace``); both write the same ``.seq``.
"""
import math

import numpy as np

import pulseqzero

pp = pulseqzero.pp_impl

FOV = 0.22  # m
SLICE_THICKNESS = 5e-3  # m
RF_SPOILING_INC = 117  # degrees
SYSTEM = dict(max_grad=28, grad_unit="mT/m", max_slew=150, slew_unit="T/m/s",
              rf_ringdown_time=20e-6, rf_dead_time=100e-6, adc_dead_time=10e-6)


def gre(TR=12e-3, TE=5e-3, flips=None, Nx: int = 64, Ny: int = 64):
    """Spoiled GRE: TR, TE in s, ``flips``: one flip angle (degrees) per phase-encode line
    (default: 10° on every line). The 3.2 ms readout has Nx samples: choose Nx so that
    3.2 ms / Nx is a whole number of 100 ns (8, 16, 20, 32, 64, 128, ...); pypulseq 1.5's
    timing check reports other ADC dwell times as off the ADC raster."""
    if flips is None:
        flips = np.full(Ny, 10.0)
    system = pp.Opts(**SYSTEM)
    seq = pp.Sequence(system)

    delta_k = 1 / FOV
    gx = pp.make_trapezoid(channel="x", flat_area=Nx * delta_k, flat_time=3.2e-3, system=system)
    adc = pp.make_adc(num_samples=Nx, duration=gx.flat_time, delay=gx.rise_time, system=system)
    gx_pre = pp.make_trapezoid(channel="x", area=-gx.area / 2, duration=1e-3, system=system)
    phase_areas = (np.arange(Ny) - Ny / 2) * delta_k
    gx_spoil = pp.make_trapezoid(channel="x", area=2 * Nx * delta_k, system=system)
    gz_spoil = pp.make_trapezoid(channel="z", area=4 / SLICE_THICKNESS, system=system)

    rf, gz, _ = pp.make_sinc_pulse(flip_angle=flips[0] * math.pi / 180, duration=2e-3,
                                   slice_thickness=SLICE_THICKNESS, apodization=0.42,
                                   time_bw_product=4, system=system, return_gz=True)
    gz_reph = pp.make_trapezoid(channel="z", area=-gz.area / 2, duration=1e-3, system=system)

    delay_TE = pp.ceil((TE - pp.calc_duration(gx_pre) - gz.fall_time - gz.flat_time / 2
                        - pp.calc_duration(gx) / 2) / seq.grad_raster_time) * seq.grad_raster_time
    delay_TR = pp.ceil((TR - pp.calc_duration(gz) - pp.calc_duration(gx_pre)
                        - pp.calc_duration(gx) - delay_TE) / seq.grad_raster_time) * seq.grad_raster_time
    assert delay_TE >= 0, "TE is too short"
    assert delay_TR >= pp.calc_duration(gx_spoil, gz_spoil), "TR is too short"

    rf_phase = 0
    rf_inc = 0
    for i in range(Ny):
        rf, gz, _ = pp.make_sinc_pulse(flip_angle=flips[i] * math.pi / 180, duration=2e-3,
                                       slice_thickness=SLICE_THICKNESS, apodization=0.42,
                                       time_bw_product=4, system=system, return_gz=True)
        rf.phase_offset = rf_phase / 180 * np.pi
        adc.phase_offset = rf_phase / 180 * np.pi
        rf_inc = divmod(rf_inc + RF_SPOILING_INC, 360.0)[1]
        rf_phase = divmod(rf_phase + rf_inc, 360.0)[1]

        seq.add_block(rf, gz)
        gy_pre = pp.make_trapezoid(channel="y", area=phase_areas[i],
                                   duration=pp.calc_duration(gx_pre), system=system)
        seq.add_block(gx_pre, gy_pre, gz_reph)
        seq.add_block(pp.make_delay(delay_TE))
        seq.add_block(gx, adc)
        gy_pre.amplitude = -gy_pre.amplitude
        seq.add_block(pp.make_delay(delay_TR), gx_spoil, gy_pre, gz_spoil)

    seq.set_definition("FOV", [FOV, FOV, SLICE_THICKNESS])
    seq.set_definition("Name", "gre")
    return seq
