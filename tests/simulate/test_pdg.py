"""``pulseqzero.execute_graph`` against MRzeroCore's ``execute_graph`` on the same pre-pass
graph: signal rel. L2 < 1e-5, parameter gradients rel. L2 < 1e-4 (``oracle.py``)."""
from __future__ import annotations

import math
import warnings

import hypothesis.strategies as st
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings

import MRzeroCore as mr0

import pulseqzero
from pulseqzero.optimize import compute_pdg
from pulseqzero.simulate import execute_graph, make_plan
from tests.conftest import load_example
from tests.simulate.oracle import (SIGNAL_TOL, assert_same, both, bssfp, dwi, rel_l2, tse,
                                   voxel_phantom, _with)


def test_public_name():
    assert pulseqzero.execute_graph is execute_graph


# ---------------------------------------------------------------- hand-built sequences

def test_bssfp_signal_and_flip_gradient():
    flip = torch.tensor(0.6, requires_grad=True)
    ours, ref = both(lambda f: bssfp(f), voxel_phantom(), [flip])
    assert_same(ours, ref)
    assert ref[1][0].abs() > 0


def test_tse_with_many_echoes():
    refocus = torch.linspace(2.0, 3.1, 24).requires_grad_()
    data = voxel_phantom()
    ours, ref = both(lambda r: tse(r), data, [refocus])
    assert_same(ours, ref)
    plan = make_plan(compute_pdg(tse(refocus.detach()), data), 1e-2, 1e-2)
    assert max(r.n_emit for r in plan.repetitions) > 1  # echoes of several paths


def test_diffusion_weighted_spin_echo():
    moment = torch.tensor(3e4, requires_grad=True)  # rotations/m, b ~ 400 s/mm²
    data = voxel_phantom()
    ours, ref = both(lambda g: dwi(g), data, [moment])
    assert_same(ours, ref)
    weak = both(lambda g: dwi(g), data, [torch.tensor(1.0)])[1][0]
    assert ref[0].abs().sum() < 0.9 * weak.abs().sum()  # the diffusion weighting shows


def test_phantom_gradients():
    """Gradients reach the phantom's maps as they do in MRzeroCore (e.g. for fitting)."""
    data = voxel_phantom()
    T2 = data.T2.clone().requires_grad_()
    B0 = data.B0.clone().requires_grad_()
    D = data.D.clone().requires_grad_()
    graph = compute_pdg(tse(torch.full((6,), 2.8)), data)

    def run(executor):
        sim = _with(data, T2=T2, B0=B0, D=D)
        signal = executor(graph, tse(torch.full((6,), 2.8)), sim, print_progress=False)
        return torch.autograd.grad((signal.abs() ** 2).sum() + signal.real.sum(), [T2, B0, D])
    for g, r in zip(run(execute_graph), run(mr0.execute_graph)):
        assert rel_l2(g, r) < 1e-4


def test_b1_map_several_coils_and_thresholds():
    data = voxel_phantom(coils=3)
    flip = torch.tensor(0.4, requires_grad=True)
    for emitted, latent in [(1e-2, 1e-2), (1e-3, 1e-4), (0.2, 0.05)]:
        ours, ref = both(lambda f: bssfp(f, n_lines=6), data, [flip],
                         min_emitted_signal=emitted, min_latent_signal=latent)
        assert ours[0].shape[1] == 3
        assert_same(ours, ref)


def test_ptx_shim():
    data = voxel_phantom(b1_channels=2)
    shim = torch.tensor([[1.0, 0.3], [0.7, -1.1]], requires_grad=True)

    def make(s):
        seq = bssfp(torch.tensor(0.5), n_lines=6)
        for i, rep in enumerate(seq):
            rep.pulse.shim_array = s * (1 + 0.05 * i)
        return seq
    ours, ref = both(make, data, [shim])
    assert_same(ours, ref)
    assert ref[1][0].abs().sum() > 0


def test_ptx_shim_channel_count_must_match():
    data = voxel_phantom(b1_channels=2)
    seq = bssfp(torch.tensor(0.5), n_lines=2)
    graph = compute_pdg(seq, data)
    for rep in seq:
        rep.pulse.shim_array = torch.tensor([[1.0, 0.0]] * 3)
    with pytest.raises(ValueError, match="3 shim channels"):
        execute_graph(graph, seq, data, print_progress=False)


def test_return_mag_adc_and_initial_mag():
    data = voxel_phantom()
    seq = tse(torch.full((5,), 2.6))
    graph = compute_pdg(seq, data)
    start = torch.polar(torch.linspace(0.2, 1.0, data.PD.numel()),
                        torch.linspace(0, 1, data.PD.numel()))
    ours = execute_graph(graph, seq, data, print_progress=False, return_mag_adc=True,
                         initial_mag=start)
    ref = mr0.execute_graph(graph, seq, data, print_progress=False, return_mag_adc=True,
                            intitial_mag=start)
    assert rel_l2(ours[0], ref[0]) < SIGNAL_TOL
    assert len(ours[1]) == len(ref[1]) == len(seq)
    for a, b in zip(ours[1], ref[1]):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert x.shape == y.shape and rel_l2(x, y) < SIGNAL_TOL
    # MRzeroCore's spelling of the argument works too
    again = execute_graph(graph, seq, data, print_progress=False, intitial_mag=start)
    assert torch.equal(again, ours[0])


def test_a_graph_of_another_sequence_is_refused():
    data = voxel_phantom()
    graph = compute_pdg(tse(torch.full((4,), 3.0)), data)
    with pytest.raises(ValueError, match="5 repetitions, the sequence 6"):
        execute_graph(graph, tse(torch.full((5,), 3.0)), data, print_progress=False)


def test_motion_falls_back_to_mrzerocore_with_a_warning():
    data = voxel_phantom()
    seq = bssfp(torch.tensor(0.5), n_lines=2)
    graph = compute_pdg(seq, data)
    expected = mr0.execute_graph(graph, seq, data, print_progress=False)
    data.phantom_motion = lambda t: (torch.eye(3).expand(len(t), 3, 3), torch.zeros(len(t), 3))
    from pulseqzero.simulate import pdg
    pdg._warned.discard("motion")
    with pytest.warns(RuntimeWarning, match="phantom motion"):
        signal = execute_graph(graph, seq, data, print_progress=False)
    assert rel_l2(signal, expected) < 1e-6


def test_chunked_emission_is_the_same(monkeypatch):
    from pulseqzero.simulate import emission
    data = voxel_phantom(coils=2)
    refocus = torch.full((6,), 2.9, requires_grad=True)
    whole = both(lambda r: tse(r), data, [refocus])[0]
    monkeypatch.setattr(emission, "CHUNK_ELEMENTS", 17)  # one state, a few samples per chunk
    chunked = both(lambda r: tse(r), data, [refocus])[0]
    assert rel_l2(chunked[0], whole[0]) < 1e-6
    assert rel_l2(chunked[1][0], whole[1][0]) < 1e-5


# ---------------------------------------------------------------- hypothesis

@st.composite
def random_sequences(draw):
    """Random MRzeroCore sequences: pulses, phases, gradient moments, timing, ADC masks."""
    n_reps = draw(st.integers(1, 5))
    spec = []
    for _ in range(n_reps):
        events = draw(st.integers(1, 9))
        spec.append(dict(
            angle=draw(st.floats(0.0, 2 * math.pi)),
            phase=draw(st.floats(-math.pi, math.pi)),
            time=draw(st.lists(st.floats(1e-5, 5e-3), min_size=events, max_size=events)),
            gradm=draw(st.lists(st.lists(st.floats(-6, 6), min_size=3, max_size=3),
                                min_size=events, max_size=events)),
            adc=draw(st.lists(st.booleans(), min_size=events, max_size=events)),
            adc_phase=draw(st.floats(-math.pi, math.pi))))
    return spec


def build(spec, angles):
    seq = mr0.Sequence()
    for s, angle in zip(spec, angles):
        rep = seq.new_rep(len(s["time"]))
        rep.pulse.angle = angle
        rep.pulse.phase = torch.tensor(s["phase"])
        rep.event_time = torch.tensor(s["time"])
        rep.gradm = torch.tensor(s["gradm"])
        rep.adc_usage = torch.tensor(s["adc"], dtype=torch.int32)
        rep.adc_phase = torch.full((len(s["time"]),), s["adc_phase"])
    return seq


_PHANTOM = voxel_phantom(n=12, coils=2, seed=3)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_sequences())
def test_random_sequences(spec):
    angles = torch.tensor([s["angle"] for s in spec], requires_grad=True)
    ours, ref = both(lambda a: build(spec, a), _PHANTOM, [angles])
    scale = float(_PHANTOM.PD.sum())  # signals far below the phantom's are float32 noise
    assert ours[0].shape == ref[0].shape
    assert float((ours[0] - ref[0]).norm()) <= SIGNAL_TOL * max(float(ref[0].norm()), scale)
    g, r = ours[1][0], ref[1][0]
    assert float((g - r).norm()) <= 1e-4 * max(float(r.norm()), scale)


# ---------------------------------------------------------------- the examples

def _traced(name, **kwargs):
    module = load_example(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pulseqzero.trace(getattr(module, name)).trace(**kwargs)


EXAMPLES = {
    "gre": dict(TR=12e-3, TE=5e-3, flips=np.linspace(8.0, 16.0, 16), Nx=16, Ny=16),
    "tse": dict(TE=12e-3, TR=1.0, refoc_flips=np.full(8, 150.0), Nx=16, Ny=16, n_echo=8),
    "flair_epi": dict(TI=1.2, Nx=16, Ny=16),
}


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_examples_signal_and_parameter_gradients(name, phantom16):
    graph = _traced(name, **EXAMPLES[name])
    params = {}
    for key, value in EXAMPLES[name].items():
        if key in graph.ir.param_names and not isinstance(value, int):
            params[key] = torch.tensor(value, dtype=torch.float64, requires_grad=True)
    names = list(params)
    ours, ref = both(lambda *p: graph.to_mr0(**dict(zip(names, p))), phantom16,
                     [params[n] for n in names])
    assert_same(ours, ref)
    assert any(float(g.abs().sum()) > 0 for g in ref[1])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
def test_cuda_matches_mrzerocore_on_cuda(phantom16):
    graph = _traced("gre", **EXAMPLES["gre"])
    data = phantom16.cuda()
    TE = torch.tensor(5e-3, dtype=torch.float64, device="cuda", requires_grad=True)
    pre = compute_pdg(graph.to_mr0(), phantom16)
    ours, ref = both(lambda te: graph.to_mr0(TE=te), data, [TE], graph=pre)
    assert ours[0].device.type == "cuda"
    assert_same(ours, ref)


# ---------------------------------------------------------------- pypulseq's 2D example scripts

def _scripts():
    from tests.conformance.test_pypulseq_scripts import SCRIPTS
    return [s for s in SCRIPTS if "3D" not in s and s != "write_MPRAGE"]


@pytest.fixture(scope="module")
def phantom12():
    from pulseqzero.phantom import sim_data
    return sim_data(resolution=12)


@pytest.mark.parametrize("name", _scripts())
def test_pypulseq_2d_example_scripts(name, phantom12, tmp_path_factory):
    """Each 2D script of pypulseq 1.4.2, traced unmodified (the conformance tests' cached
    trace), lowered and simulated by both executors."""
    from tests.conformance.test_pypulseq_scripts import traced
    graph, _ = traced(name, tmp_path_factory.mktemp("scripts"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        seq = graph.to_mr0()
    pre = compute_pdg(seq, phantom12)
    ours = execute_graph(pre, seq, phantom12, print_progress=False)
    ref = mr0.execute_graph(pre, seq, phantom12, print_progress=False)
    assert ours.shape == ref.shape
    assert float((ours - ref).norm()) <= SIGNAL_TOL * float(ref.norm())


# ---------------------------------------------------------------- the hand-written backwards

def test_mix_and_emission_backwards_pass_gradcheck():
    """The two custom autograd functions against finite differences (float64)."""
    from pulseqzero.simulate.emission import Emission
    from pulseqzero.simulate.pdg import Mix
    from pulseqzero.simulate.plan import RepetitionPlan
    gen = torch.Generator().manual_seed(1)
    long = dict(dtype=torch.int64)
    # 3 previous states, 4 new ones: state 0 has two edges, one from a conjugate (index + 3)
    plan = RepetitionPlan(
        n_states=4, n_plus=2, n_emit=1,
        edge_child=torch.tensor([0, 0, 1, 2, 3], **long),
        edge_source=torch.tensor([0, 4, 1, 2, 5], **long),
        edge_kind=torch.tensor([2, 5, 1, 0, 4], **long), any_conjugated=True,
        kt_source=torch.tensor([0, 1, 2, 6], **long), has_z0=True,
        kind_columns=torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]]),
        z0_rows=torch.tensor([3], **long))
    c128 = dict(dtype=torch.complex128, generator=gen)
    mag = torch.randn(3, 5, **c128).requires_grad_()
    transforms = torch.randn(6, 5, **c128).requires_grad_()
    relax = torch.rand(4, 5, dtype=torch.float64, generator=gen).requires_grad_()
    regrowth = torch.rand(5, dtype=torch.float64, generator=gen).requires_grad_()
    assert torch.autograd.gradcheck(lambda m, t, r, g: Mix.apply(m, t, r, g, plan),
                                    (mag, transforms, relax, regrowth))
    f64 = dict(dtype=torch.float64, generator=gen)
    args = (torch.randn(2, 6, 3, **f64) * 0.1, torch.randn(2, 6, 4, **f64),
            torch.randn(2, 6, **f64), torch.randn(2, 5, 3, **c128),
            torch.randn(3, 5, **f64) * 0.1, torch.randn(4, 5, **f64))
    assert torch.autograd.gradcheck(Emission.apply, [a.requires_grad_() for a in args])


def test_recomputed_segments_give_the_same_gradients(monkeypatch):
    """The recurrence kept whole and run in recomputed segments: the same numbers."""
    from pulseqzero.simulate import pdg
    data = voxel_phantom(coils=2)
    flip = torch.tensor(0.7, requires_grad=True)
    kept = both(lambda f: bssfp(f, n_lines=9), data, [flip])[0]
    monkeypatch.setattr(pdg, "KEEP_RECURRENCE_BYTES", 0)
    calls = []
    real = pdg.Recompute.apply
    monkeypatch.setattr(pdg.Recompute, "apply", lambda *a: calls.append(1) or real(*a))
    segmented = both(lambda f: bssfp(f, n_lines=9), data, [flip])[0]
    assert len(calls) == 4  # 13 repetitions in segments of ceil(sqrt(13)) = 4
    assert torch.equal(segmented[0], kept[0])
    assert rel_l2(segmented[1][0], kept[1][0]) < 1e-6
