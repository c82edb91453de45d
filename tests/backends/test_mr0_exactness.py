"""Exactness table: the mr0 lowering against MRzeroCore's own .seq importer.

For the 2D pypulseq 1.4.2 example scripts (traced unmodified), the 2D sequences of
``examples/`` and a small multi-slice inversion-recovery GRE of our own (the case of
the module-level 2D MPRAGE script, which pypulseq cannot write: inversion, TI and TR
delays rounded to the block raster with ``pp.round``):

* the traced graph lowers to the same repetitions, events and ADC samples as
  ``MRzeroCore.Sequence.import_file`` of the ``.seq`` it exports;
* given the numbers the ``.seq`` file holds (the file read back into a graph),
  the lowering gives the importer's PDG signal (rel. L2 < 1e-5: the same
  conventions);
* the traced graph's own signal differs from the importer's only by the file's
  precision (6 significant digits of amplitudes and phases, docs/mr0-lowering.md):
  rel. L2 < 1e-3, measured 5e-6 .. 3e-4.

The 3D scripts (write_MPRAGE.py, write_3Dt1_mprage.py) are left to the script
tests: their size would dominate the run time of the suite.
"""
import contextlib
import io
import os
import warnings

import numpy as np
import pypulseq
import pytest
import torch

import pulseqzero
from pulseqzero.graph import Graph
from tests.conftest import load_example, simulate

SCRIPTS = os.path.join(os.path.dirname(pypulseq.__file__), "seq_examples", "scripts")
# the 2D scripts pypulseq 1.4.2 ships (1.5's wheel ships none: its cases are our own
# scripts; test_pypulseq_scripts checks that 1.4.2 ships all of these)
PYPULSEQ_2D = [name for name in [
    "write_epi.py", "write_epi_label.py", "write_epi_se.py", "write_epi_se_rs.py", "write_gre.py",
    "write_gre_label.py", "write_haste.py", "write_radial_gre.py", "write_tse.py", "write_ute.py"]
    if os.path.exists(os.path.join(SCRIPTS, name))]


def ir_gre(TI, TE, TR, Nx: int = 16, Ny: int = 8, n_slices: int = 2):
    """Multi-slice inversion-recovery GRE: per slice a slice-selective inversion, a
    spoiler, TI (s, inversion centre to the first excitation centre), then Ny lines
    TR (s) apart, echo time TE (s); the delays are rounded to the block raster."""
    pp = pulseqzero.pp_impl
    system = pp.Opts(max_grad=32, grad_unit="mT/m", max_slew=130, slew_unit="T/m/s",
                     rf_ringdown_time=20e-6, rf_dead_time=100e-6, adc_dead_time=10e-6)
    seq = pp.Sequence(system)
    raster, fov, thickness = seq.block_duration_raster, 0.22, 5e-3
    rf_inv, gz_inv, _ = pp.make_sinc_pulse(flip_angle=np.pi, duration=4e-3,
                                           slice_thickness=thickness, time_bw_product=4,
                                           system=system, return_gz=True, use="inversion")
    rf, gz, _ = pp.make_sinc_pulse(flip_angle=np.pi / 18, duration=1e-3,
                                   slice_thickness=thickness, time_bw_product=4,
                                   system=system, return_gz=True)
    gz_reph = pp.make_trapezoid(channel="z", area=-gz.area / 2, duration=1e-3, system=system)
    gx = pp.make_trapezoid(channel="x", flat_area=Nx / fov, flat_time=2e-3, system=system)
    adc = pp.make_adc(num_samples=Nx, duration=gx.flat_time, delay=gx.rise_time, system=system)
    gx_pre = pp.make_trapezoid(channel="x", area=-gx.area / 2, duration=1e-3, system=system)
    spoil = pp.make_trapezoid(channel="z", area=4 / thickness, duration=2e-3, system=system)
    excitation_centre = pp.calc_duration(gz) / 2
    delay_TI = pp.round((TI - pp.calc_duration(gz_inv) / 2 - pp.calc_duration(spoil)
                         - excitation_centre) / raster) * raster
    delay_TE = pp.round((TE - pp.calc_duration(gz) / 2 - pp.calc_duration(gx_pre)
                         - pp.calc_duration(gx) / 2) / raster) * raster
    delay_TR = pp.round((TR - pp.calc_duration(gz) - pp.calc_duration(gx_pre) - delay_TE
                         - pp.calc_duration(gx) - pp.calc_duration(spoil)) / raster) * raster
    assert delay_TI > 0 and delay_TE >= 0 and delay_TR >= 0, "TI, TE or TR too short"
    for s in range(n_slices):
        offset = (s - (n_slices - 1) / 2) * 3 * thickness
        rf_inv.freq_offset = gz_inv.amplitude * offset
        rf.freq_offset = gz.amplitude * offset
        seq.add_block(rf_inv, gz_inv)
        seq.add_block(spoil)
        seq.add_block(pp.make_delay(delay_TI))
        for line in range(Ny):
            seq.add_block(rf, gz)
            gy = pp.make_trapezoid(channel="y", area=(line - Ny / 2) / fov, duration=1e-3,
                                   system=system)
            seq.add_block(gx_pre, gy, gz_reph)
            if delay_TE > 0:
                seq.add_block(pp.make_delay(delay_TE))
            seq.add_block(gx, adc)
            gy.amplitude = -gy.amplitude
            seq.add_block(gy, spoil)
            if delay_TR > 0:
                seq.add_block(pp.make_delay(delay_TR))
    return seq


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def _graph(case: str, directory) -> Graph:
    if case in PYPULSEQ_2D:  # traced unmodified: the conformance tests' cached trace
        from tests.conformance.test_pypulseq_scripts import traced
        return traced(case[:-len(".py")], directory)[0]
    if case == "ir_gre":
        return _quiet(pulseqzero.trace(ir_gre).trace, 0.3, 4e-3, 20e-3)
    if case == "examples/gre.py":
        return _quiet(pulseqzero.trace(load_example("gre").gre).trace, 12e-3, 5e-3,
                      np.linspace(5.0, 25.0, 32), Nx=32, Ny=32)
    if case == "examples/flair_epi.py":
        return _quiet(pulseqzero.trace(load_example("flair_epi").flair_epi).trace, 1.2,
                      Nx=16, Ny=16, shots=2)
    if case == "examples/tse.py":
        return _quiet(pulseqzero.trace(load_example("tse").tse).trace, 12e-3, 2.0,
                      np.full(8, 150.0), Nx=16, Ny=16, n_echo=8)
    raise KeyError(case)


CASES = PYPULSEQ_2D + ["ir_gre", "examples/gre.py",
                       "examples/flair_epi.py", "examples/tse.py"]


@pytest.fixture(scope="module")
def phantom8():
    from pulseqzero.phantom import sim_data
    return sim_data(resolution=8)


def _rel(a, b):
    if float(b.norm()) == 0:
        return float(a.norm())
    return float((a - b).norm() / b.norm())


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES)
def test_lowering_matches_the_importer(case, tmp_path, phantom8):
    import MRzeroCore as mr0
    graph = _graph(case, tmp_path)
    path = tmp_path / "x.seq"
    graph.write(path)
    ref = _quiet(mr0.Sequence.import_file, str(path))
    ours = graph.to_mr0()

    assert len(ours) == len(ref)
    for a, b in zip(ours, ref):
        assert a.event_count == b.event_count
        assert torch.equal(a.adc_usage, b.adc_usage)
        torch.testing.assert_close(a.event_time, b.event_time, rtol=1e-5, atol=1e-8)

    with pulseqzero.mr0_mode():
        back = pulseqzero.pp_impl.Sequence()
        _quiet(back.read, str(path))
        read_back = Graph(back.to_graph())
    ref_signal = _quiet(simulate, ref, phantom8)
    assert _rel(_quiet(simulate, read_back.to_mr0(), phantom8), ref_signal) < 1e-5
    assert _rel(_quiet(simulate, ours, phantom8), ref_signal) < 1e-3
