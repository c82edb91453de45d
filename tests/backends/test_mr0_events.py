"""The mr0 lowering beyond the GRE: more event layouts against the importer, the
documented differences, shaped pulses against the isochromat simulator, and
vectorisation (the op count of a lowering does not grow with the sequence)."""
import contextlib
import io
import warnings

import numpy as np
import pytest
import torch
from torch.overrides import TorchFunctionMode

import MRzeroCore  # noqa: F401  (imported before ops are counted)

import pulseqzero
from pulseqzero.backends import mr0 as mr0_backend
from pulseqzero.ir.evaluate import evaluate
from pulseqzero.pp.version import API_15
from tests.backends.test_mr0_lowering import assert_same_repetitions, imported
from tests.conftest import rel_l2, simulate

pp = pulseqzero.pp_impl


@pulseqzero.trace
def mixed(TE, adc_phase, flip):
    """Starts with a gradient before the first pulse, two ADCs in one repetition, a block
    with an explicit duration, a pulse with a frequency offset, RF spoiling phases."""
    system = pp.Opts(max_grad=30, grad_unit="mT/m", max_slew=120, slew_unit="T/m/s",
                     rf_ringdown_time=20e-6, rf_dead_time=100e-6, adc_dead_time=10e-6)
    seq = pp.Sequence(system)
    seq.add_block(pp.make_trapezoid("z", area=200.0, system=system))
    for i in range(4):
        rf = pp.make_block_pulse(flip, duration=0.5e-3, system=system, phase_offset=0.3 * i,
                                 freq_offset=150.0 * (i % 2), use="excitation")
        seq.add_block(rf)
        gx = pp.make_trapezoid("x", flat_area=32 / 0.2, flat_time=1.6e-3, system=system)
        pre = pp.make_trapezoid("x", area=-gx.area / 2, duration=0.6e-3, system=system)
        gy = pp.make_trapezoid("y", area=(i - 2) / 0.2, duration=0.6e-3, system=system)
        seq.add_block(pre, gy)
        seq.add_block(pp.make_delay(pp.ceil(TE / 1e-5) * 1e-5))
        adc = pp.make_adc(32, duration=gx.flat_time, delay=gx.rise_time, system=system,
                          phase_offset=adc_phase * i)
        seq.add_block(gx, adc)
        gx.amplitude = -gx.amplitude
        seq.add_block(gx, adc)  # a second echo in the same repetition
        # (1.5 refuses a raw float duration in add_block: make_delay it is)
        seq.add_block(pp.make_trapezoid("z", area=400.0, system=system),
                      pp.make_delay(3e-3) if API_15 else 3e-3)
    return seq


@pytest.fixture(scope="module")
def mixed_graph():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return mixed.trace(2e-3, 0.7, 0.4)


def test_more_layouts_match_the_importer(mixed_graph, tmp_path, phantom16):
    ours = mixed_graph.to_mr0()
    ref = imported(mixed_graph, tmp_path)
    for rep in ref:  # the 1.4 file format stores no RF use: the importer cannot know it
        rep.pulse.usage = ours[0].pulse.usage
    assert_same_repetitions(ours, ref)
    assert int(sum(r.adc_usage.sum() for r in ours)) == 4 * 64
    assert rel_l2(simulate(ours, phantom16), simulate(ref, phantom16)) < 1e-4


def test_rf_use_sets_the_pulse_usage(mixed_graph, tmp_path):
    import MRzeroCore as mr0
    assert all(r.pulse.usage == mr0.PulseUsage.EXCIT for r in mixed_graph.to_mr0())
    # the 1.4 file format stores no RF use; 1.5's stores it and the importer reads it
    expected = mr0.PulseUsage.EXCIT if API_15 else mr0.PulseUsage.UNDEF
    assert all(r.pulse.usage == expected for r in imported(mixed_graph, tmp_path))


def test_adc_frequency_offset_is_a_per_sample_phase(tmp_path):
    """Documented difference: the importer ignores an ADC frequency offset."""
    @pulseqzero.trace
    def fid(freq):
        seq = pp.Sequence()
        seq.add_block(pp.make_block_pulse(np.pi / 2, duration=1e-3))
        seq.add_block(pp.make_adc(16, dwell=10e-6, delay=20e-6, freq_offset=freq, phase_offset=0.5))
        return seq

    graph = fid.trace(250.0)
    ours, ref = graph.to_mr0()[0], imported(graph, tmp_path)[0]
    adc = ours.adc_usage > 0
    t = (torch.arange(16, dtype=torch.float64) + 0.5) * 10e-6
    expected = ref.adc_phase[adc].double() - 2 * np.pi * 250.0 * t
    torch.testing.assert_close(ours.adc_phase[adc].double(), expected, rtol=0, atol=1e-5)
    torch.testing.assert_close(fid.trace(0.0).to_mr0()[0].adc_phase, ref.adc_phase, rtol=0, atol=1e-6)


THICKNESS = 5e-3


@pulseqzero.trace
def slice_select(flip, duration):
    system = pp.Opts(max_grad=30, grad_unit="mT/m", max_slew=120, slew_unit="T/m/s")
    seq = pp.Sequence(system)
    rf, gz, gzr = pp.make_sinc_pulse(flip_angle=flip, duration=duration, slice_thickness=THICKNESS,
                                     time_bw_product=4, apodization=0.5, system=system,
                                     return_gz=True)
    seq.add_block(rf, gz)
    seq.add_block(gzr)
    seq.add_block(pp.make_adc(1, dwell=10e-6, system=system))
    return seq


def _profile(seq, positions, simulator):
    """|transverse magnetisation| after the pulse of a point at each z position (m)."""
    import MRzeroCore as mr0
    out = []
    for z in positions:
        data = mr0.CustomVoxelPhantom([[0.0, 0.0, float(z)]], T1=10.0, T2=10.0, T2dash=1e3,
                                      D=0.0, voxel_size=1e-5, voxel_shape="box").build()
        with contextlib.redirect_stdout(io.StringIO()):
            if simulator == "pdg":
                graph = mr0.compute_graph(seq, data, 1000, 1e-6)
                signal = mr0.execute_graph(graph, seq, data, print_progress=False,
                                           min_emitted_signal=1e-6, min_latent_signal=1e-6)
            else:
                signal = mr0.isochromat_sim(seq, data, 8, print_progress=False)
        out.append(float(signal.abs().sum()))
    return np.array(out)


def test_slice_profile_matches_the_isochromat_simulator():
    graph = slice_select.trace(np.pi / 2, 2e-3)
    z = np.linspace(-10e-3, 10e-3, 21)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hard = _profile(graph.to_mr0(), z, "pdg")
        seq = graph.to_mr0(rf_subpulses=16)
        pdg, iso = _profile(seq, z, "pdg"), _profile(seq, z, "iso")
    np.testing.assert_allclose(hard, 1.0, atol=1e-3)  # one pulse: no slice selection (T2 decay 2e-4)
    np.testing.assert_allclose(pdg, iso, atol=5e-3)  # PDG agrees with the Bloch simulator
    inside, outside = np.abs(z) <= 1e-3, np.abs(z) >= 6e-3
    assert (iso[inside] > 0.95).all() and (iso[outside] < 0.05).all()
    half = z[iso >= 0.5]  # the profile's full width at half maximum is the slice thickness
    fwhm = half.max() - half.min() + (z[1] - z[0])
    assert fwhm == pytest.approx(THICKNESS, rel=0.25)


def test_subpulses_are_differentiable():
    graph = slice_select.trace(np.pi / 2, 2e-3)
    flip = torch.tensor(np.pi / 2, dtype=torch.float64, requires_grad=True)
    duration = torch.tensor(2e-3, dtype=torch.float64, requires_grad=True)
    seq = graph.to_mr0(rf_subpulses=8, flip=flip, duration=duration)
    # the signed shares (negative lobes have phase π) add up to the flip angle
    (sum(r.pulse.angle * torch.cos(r.pulse.phase) for r in seq[:8]) + seq[3].event_time.sum()).backward()
    assert flip.grad == pytest.approx(1.0, rel=1e-6)
    assert duration.grad is not None and torch.isfinite(duration.grad)


class OpCounter(TorchFunctionMode):
    def __init__(self):
        super().__init__()
        self.count = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        self.count += 1
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("subpulses", [1, 4])
def test_lowering_op_count_does_not_grow_with_the_sequence(gre_module, subpulses):
    counts = []
    for lines in (8, 32):
        graph = pulseqzero.trace(gre_module.gre).trace(12e-3, 5e-3, np.full(lines, 10.0),
                                                       Nx=lines, Ny=lines)
        layout = mr0_backend.Layout(graph.ir)
        inputs = graph.inputs({"TE": torch.tensor(5e-3, dtype=torch.float64)})
        env = evaluate(graph.ir.values, inputs, "torch")
        with OpCounter() as ops:
            mr0_backend.lower(graph.ir, env, layout, rf_subpulses=subpulses)
        counts.append(ops.count)
    assert counts[0] == counts[1]


def test_rf_centre_peak_is_pypulseqs_calc_rf_center():
    """Documented option: repetitions start at the pulse's peak (calc_rf_center) instead
    of the middle of its shape (the importer's convention, the default)."""
    import pypulseq

    @pulseqzero.trace
    def asymmetric(centre_pos):
        seq = pp.Sequence()
        seq.add_block(pp.make_sinc_pulse(0.3, duration=2e-3, center_pos=centre_pos, delay=1e-4))
        seq.add_block(pp.make_adc(4, dwell=1e-5))
        seq.add_block(pp.make_sinc_pulse(0.3, duration=2e-3, center_pos=centre_pos))
        seq.add_block(pp.make_adc(4, dwell=1e-5))
        return seq

    graph = asymmetric.trace(0.3)
    ref_centre, _ = pypulseq.calc_rf_center(pypulseq.make_sinc_pulse(0.3, duration=2e-3, center_pos=0.3))
    layout = mr0_backend.Layout(graph.ir)
    env = evaluate(graph.ir.values, graph.inputs({}), "torch")
    middle = mr0_backend.lower(graph.ir, env, layout)
    peak = mr0_backend.lower(graph.ir, env, layout, rf_centre="peak")
    # first repetition: from the centre to the pulse end, then to the first sample
    assert float(middle[0].event_time[0]) == pytest.approx(1e-3, abs=1e-9)
    assert float(peak[0].event_time[0]) == pytest.approx(2e-3 - ref_centre, abs=1e-9)
    # the time between the two pulses' centres is the same either way
    assert float(middle[0].event_time.double().sum()) == pytest.approx(
        float(peak[0].event_time.double().sum()), abs=1e-9)
    with pytest.raises(ValueError, match="rf_centre"):
        mr0_backend.lower(graph.ir, env, layout, rf_centre="start")
    # the public paths: Graph.to_mr0, the bound call and mr0_mode's Sequence.to_mr0
    for seq in (graph.to_mr0(rf_centre="peak"), asymmetric(0.3).to_mr0(rf_centre="peak")):
        assert torch.equal(seq[0].event_time, peak[0].event_time)
    with pulseqzero.mr0_mode():
        seq = asymmetric.fn(0.3)
    assert torch.equal(seq.to_mr0(rf_centre="peak")[0].event_time, peak[0].event_time)


def test_a_sequence_without_adc_lowers():
    @pulseqzero.trace
    def no_adc(flip):
        seq = pp.Sequence()
        seq.add_block(pp.make_sinc_pulse(flip, duration=2e-3))
        seq.add_block(pp.make_trapezoid("z", area=100.0))
        seq.add_block(pp.make_delay(1e-3))
        seq.add_block(pp.make_sinc_pulse(flip, duration=2e-3))
        return seq

    seq = no_adc.trace(0.5).to_mr0()
    assert len(seq) == 2 and all(int(r.adc_usage.sum()) == 0 and r.adc_labels == {} for r in seq)
