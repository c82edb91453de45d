"""A small 2D gradient echo written against the PyPulseq 1.5 API (our own script): ppm
offsets on the pulse and the ADC, an RF ``use`` and ``center``, an ADC phase modulation,
an oversampled arbitrary spoiler and ADC segmentation limits."""
import numpy as np
import pypulseq as pp


def main(plot=False, write_seq=False, seq_filename="gre_ppm.seq", n=16, fov=0.25, TR=14e-3):
    system = pp.Opts(max_grad=28, grad_unit="mT/m", max_slew=150, slew_unit="T/m/s",
                     rf_ringdown_time=20e-6, rf_dead_time=100e-6, adc_dead_time=10e-6,
                     adc_samples_limit=8192)
    seq = pp.Sequence(system)

    rf, gz, gzr = pp.make_sinc_pulse(flip_angle=np.deg2rad(12), duration=2e-3,
                                     slice_thickness=4e-3, apodization=0.5, time_bw_product=4,
                                     system=system, return_gz=True, use="excitation",
                                     freq_ppm=-3.4, phase_ppm=0.25)
    dk = 1 / fov
    gx = pp.make_trapezoid("x", flat_area=n * dk, flat_time=2.56e-3, system=system)
    segments, per_segment = pp.calc_adc_segments(n, gx.flat_time / n, system=system)
    adc = pp.make_adc(segments * per_segment, duration=gx.flat_time, delay=gx.rise_time,
                      system=system, freq_ppm=-3.4,
                      phase_modulation=np.linspace(0, np.pi / 4, segments * per_segment))
    gx_pre = pp.make_trapezoid("x", area=-gx.area / 2, duration=1e-3, system=system)
    # an oversampled spoiler: samples on the raster edges and centres (an odd count)
    spoil = np.concatenate([np.linspace(0, 2e5, 11), np.full(9, 2e5), np.linspace(2e5, 0, 11)])
    gz_spoil = pp.make_arbitrary_grad("z", spoil, first=0, last=0, oversampling=True,
                                      system=system)
    for i in range(n):
        rf.phase_offset = (117 * i * (i + 1) / 2 % 360) * np.pi / 180
        adc.phase_offset = rf.phase_offset
        seq.add_block(rf, gz)
        gy_pre = pp.make_trapezoid("y", area=(i - n / 2) * dk, duration=1e-3, system=system)
        seq.add_block(gx_pre, gy_pre, gzr)
        seq.add_block(gx, adc)
        seq.add_block(pp.scale_grad(gy_pre, -1), gz_spoil)
        seq.add_block(pp.make_delay(TR - 2e-3 - 2.2e-3 - 1e-3 - 2.84e-3 - 1e-3 - 0.5e-3))
    seq.set_definition("FOV", [fov, fov, 4e-3])
    if write_seq:
        # pypulseq 1.5.0.post1 cannot remove duplicates of an oversampled gradient (KeyError -1)
        seq.write(seq_filename, remove_duplicates=False)
    return seq


if __name__ == "__main__":
    main(write_seq=True)
