"""The mr0 lowering against MRzeroCore's own .seq importer, re-execution and autograd."""
import warnings

import numpy as np
import pytest
import torch

import pulseqzero
from pulseqzero.backends import mr0 as mr0_backend
from pulseqzero.ir.evaluate import evaluate
from tests.conftest import rel_l2, simulate


def imported(graph, tmp_path, **params):
    import MRzeroCore as mr0
    path = tmp_path / "x.seq"
    graph.write(path, **params)
    return mr0.Sequence.import_file(str(path))


def assert_same_repetitions(ours, ref):
    assert len(ours) == len(ref)
    for a, b in zip(ours, ref):
        assert a.event_count == b.event_count
        assert torch.equal(a.adc_usage, b.adc_usage)
        torch.testing.assert_close(a.event_time, b.event_time, rtol=0, atol=1e-9)
        torch.testing.assert_close(a.gradm, b.gradm, rtol=1e-5, atol=1e-3)
        torch.testing.assert_close(a.adc_phase, b.adc_phase, rtol=0, atol=1e-5)
        # the file keeps 6 significant digits of the RF amplitude
        assert float(a.pulse.angle) == pytest.approx(float(b.pulse.angle), rel=5e-6)
        assert float(a.pulse.phase) == pytest.approx(float(b.pulse.phase), abs=1e-5)
        assert float(a.pulse.freq_offset) == float(b.pulse.freq_offset)
        # constant: Python floats, as the importer fills them
        assert isinstance(a.pulse.duration, float) and isinstance(a.pulse.freq_offset, float)
        assert a.pulse.duration == pytest.approx(b.pulse.duration, rel=1e-12)
        torch.testing.assert_close(a.pulse.grad, b.pulse.grad, rtol=1e-5, atol=0)
        assert a.pulse.off_res == b.pulse.off_res
        assert a.adc_labels.keys() == b.adc_labels.keys()
        for name in a.adc_labels:
            assert torch.equal(a.adc_labels[name], b.adc_labels[name]), name


def test_same_repetitions_and_samples_as_the_importer(gre_graph, tmp_path):
    assert_same_repetitions(gre_graph.to_mr0(), imported(gre_graph, tmp_path))


def test_same_signal_as_the_importer(gre_module, tmp_path):
    from pulseqzero.phantom import sim_data
    graph = pulseqzero.trace(gre_module.gre).trace(12e-3, 5e-3, np.full(32, 12.0), Nx=32, Ny=32)
    data = sim_data(resolution=32)
    ours, ref = simulate(graph.to_mr0(), data), simulate(imported(graph, tmp_path), data)
    assert rel_l2(ours, ref) < 1e-4


def test_the_difference_left_is_the_seq_files_precision(gre_graph, tmp_path, phantom16):
    """pypulseq writes gradient amplitudes with 6 significant digits; rounding ours the
    same way leaves float32 noise (docs/mr0-lowering.md)."""
    g = gre_graph.ir
    layout = mr0_backend.Layout(g)
    env = evaluate(g.values, gre_graph.inputs({}), "torch")
    field = layout.gradients.trap["amplitude"]  # before the first lowering (it caches constants)
    field.const = np.array([float(f"{v:12g}") for v in field.const])
    for n in {e.amplitude for b in g.blocks for e in b.events if e.kind == "trap"}:
        env[n] = torch.tensor(float(f"{float(env[n]):12g}"), dtype=torch.float64)
    rounded = mr0_backend.lower(g, env, layout)
    ref = simulate(imported(gre_graph, tmp_path), phantom16)
    assert rel_l2(simulate(rounded, phantom16), ref) < 1e-5


def test_reexecution_equals_a_fresh_trace(gre_module, gre_graph, gre_args):
    te = torch.tensor(6.1e-3, dtype=torch.float64)
    again = gre_graph.to_mr0(TE=te)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fresh = pulseqzero.trace(gre_module.gre).trace(**dict(gre_args, TE=6.1e-3)).to_mr0()
    for a, b in zip(again, fresh):
        for name in ("event_time", "gradm", "adc_phase", "adc_usage"):
            assert torch.equal(getattr(a, name), getattr(b, name))
        assert torch.equal(a.pulse.angle, b.pulse.angle) and torch.equal(a.pulse.phase, b.pulse.phase)


def central_slope(f, x0, step, k=8):
    """Derivative from central differences at x0 ± j·step (j = 1..k), fitted together.

    The PDG simulation runs in float32 (relative noise ~1e-5 on the loss), so one
    difference over a raster step is noise; a cubic fit through 2k+1 points on the
    raster is a central difference of higher order that averages the noise.
    """
    offsets = np.arange(-k, k + 1) * step
    values = np.array([float(f(x0 + o)) for o in offsets])
    return np.polyfit(offsets, values, 3)[-2]


@pytest.fixture(scope="module")
def gradient_check(gre_graph, phantom16):
    """Autograd of a signal loss w.r.t. TR, TE and every flip, and central differences."""
    def loss(TR, TE, flips):
        sig = simulate(gre_graph.to_mr0(TR=TR, TE=TE, flips=flips), phantom16)
        return (sig.abs() ** 2).sum().double()

    f64 = dict(dtype=torch.float64)
    raster = gre_graph.system.grad_raster_time
    # half a raster step off the grid: ceil((TE - c) / raster) then moves by exactly one
    # step per raster step of TE (on the grid, float noise could round either way)
    TR = torch.tensor(12e-3 + raster / 2, **f64, requires_grad=True)
    TE = torch.tensor(5e-3 + raster / 2, **f64, requires_grad=True)
    flips = torch.linspace(8.0, 16.0, 16, **f64).requires_grad_()
    loss(TR, TE, flips).backward()
    te_delays = [b.duration for b in gre_graph.blocks[2::5]]  # the TE delay block of each line
    durations = [b.duration for b in gre_graph.blocks]
    base = gre_graph.evaluate(TR=TR.detach(), TE=TE.detach())
    for k in (-8, 8):
        moved = gre_graph.evaluate(TR=TR.detach() + k * raster, TE=TE.detach())
        total = sum(float(moved[d]) - float(base[d]) for d in durations)
        assert total == pytest.approx(16 * k * raster, abs=1e-12)
        moved = gre_graph.evaluate(TR=TR.detach(), TE=TE.detach() + k * raster)
        assert all(float(moved[d]) - float(base[d]) == pytest.approx(k * raster, abs=1e-12)
                   for d in te_delays)
    fd = {}
    with torch.no_grad():
        fd["TR"] = central_slope(lambda x: loss(x, TE, flips), TR.detach(), raster)
        fd["TE"] = central_slope(lambda x: loss(TR, x, flips), TE.detach(), raster)
        fd["flips"] = []
        for i in [0, 5, 8, 11, 15]:
            e = torch.zeros(16, **f64)
            e[i] = 1.0
            fd["flips"].append((i, central_slope(lambda x: loss(TR, TE, flips + x * e), 0.0, 0.1, 3)))
    return TR.grad, TE.grad, flips.grad, fd


def test_gradients_are_finite_and_nonzero(gradient_check):
    g_tr, g_te, g_flips, _ = gradient_check
    assert torch.isfinite(g_tr) and g_tr > 0  # longer TR: more T1 recovery, more signal
    assert torch.isfinite(g_te) and g_te < 0  # longer TE: more T2* decay, less signal
    assert torch.isfinite(g_flips).all() and (g_flips != 0).all()


def test_gradients_match_finite_differences(gradient_check):
    g_tr, g_te, g_flips, fd = gradient_check
    assert float(g_tr) == pytest.approx(fd["TR"], rel=2e-2)
    assert float(g_te) == pytest.approx(fd["TE"], rel=2e-2)
    for i, slope in fd["flips"]:
        assert float(g_flips[i]) == pytest.approx(slope, rel=2e-2), f"flip {i}"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_lowering_on_cuda_equals_the_cpu_lowering_and_keeps_autograd(gre_graph):
    """CUDA params give a sequence on CUDA with the CPU's numbers and gradients."""
    def lowered(device):
        f64 = dict(dtype=torch.float64, device=device)
        TE = torch.tensor(5e-3, **f64, requires_grad=True)
        flips = torch.linspace(8.0, 16.0, 16, **f64).requires_grad_()
        seq = gre_graph.to_mr0(TE=TE, flips=flips)
        # a loss touching timing, gradient moments, ADC phases and pulses
        loss = sum((r.event_time.sum() + r.gradm.square().sum() + r.adc_phase.sum()
                    + r.pulse.angle.square() + r.pulse.phase) for r in seq)
        loss.backward()
        return seq, TE.grad, flips.grad

    cpu, te_cpu, flips_cpu = lowered("cpu")
    gpu, te_gpu, flips_gpu = lowered("cuda")
    assert len(cpu) == len(gpu)
    for a, b in zip(cpu, gpu):
        for name in ("event_time", "gradm", "adc_phase", "adc_usage"):
            assert getattr(b, name).device.type == "cuda", name
            # the GPU sums in another order: equal to float64 rounding of the largest value
            ref = getattr(a, name).detach().double()
            scale = max(1.0, float(ref.abs().max())) if ref.numel() else 1.0
            torch.testing.assert_close(getattr(b, name).detach().cpu().double(), ref, rtol=1e-12,
                                       atol=1e-13 * scale)
        torch.testing.assert_close(b.pulse.angle.cpu(), a.pulse.angle, rtol=1e-12, atol=1e-12)
    # MRzeroCore's repetitions are float32: the loss sums in float32, in another order
    torch.testing.assert_close(te_gpu.cpu(), te_cpu, rtol=1e-5, atol=0)
    torch.testing.assert_close(flips_gpu.cpu(), flips_cpu, rtol=1e-5, atol=0)


def test_moments_at_many_times_equal_one_lookup_per_time():
    """The lowering's gradient moments (segments found by counting where each breakpoint
    falls among the sorted times) equal the integral with one binary search per time,
    clamped to each channel's span -- bit for bit, with breakpoints that repeat a time
    (jumps), that are a hair out of order (rounding at block ends), a channel with no
    gradient, and times before the first and after the last breakpoint."""
    gen = torch.Generator().manual_seed(0)
    f64 = dict(dtype=torch.float64)
    for trial in range(200):
        points = []
        for c in range(3):
            n = int(torch.randint(0, 12, (1,), generator=gen))
            if n < 2 and trial % 2:
                n = 0
            t = torch.sort(torch.randint(0, 30, (n,), generator=gen).to(**f64)).values
            if n > 3 and trial % 3 == 0:  # out of order by one ulp
                t[2] = torch.nextafter(t[3], torch.tensor(1e9, **f64))
            if n > 2 and trial % 5 == 0:  # a point a hair before the first
                t[1] = torch.nextafter(t[0], torch.tensor(-1e9, **f64))
            points.append((t, torch.randn(n, generator=gen, **f64)))
        times = torch.sort(torch.randint(-5, 35, (40,), generator=gen).to(**f64) / 1.3).values
        if all(len(t) < 2 for t, _ in points):
            continue
        # the table Gradients.points builds: rows padded with their last point, empty rows 0
        n = np.array([len(t) for t, _ in points])
        length = max(2, int(n.max()))
        tb, ab = torch.zeros(3, length, **f64), torch.zeros(3, length, **f64)
        for c, (t, a) in enumerate(points):
            if len(t) >= 2:
                tb[c], ab[c] = t[torch.arange(length).clamp(max=len(t) - 1)], a[
                    torch.arange(length).clamp(max=len(t) - 1)]
        ours = mr0_backend._Waveforms(tb, ab, tb.numpy(), n).moments(times)
        for c, (tb, ab) in enumerate(points):
            if len(tb) < 2:
                assert torch.equal(ours[:, c], torch.zeros(len(times), **f64))
                continue
            half_slope, m0 = mr0_backend._segments(tb, ab)
            tc = torch.clamp(times, tb[0], tb[-1])
            at_most = (tb[None, :] <= tc[:, None]).sum(1)  # breakpoints at or before, any order
            j = (at_most - 1).clamp(0, len(tb) - 2)
            dt = tc - tb[j]
            assert torch.equal(ours[:, c], m0[j] + dt * (ab[j] + half_slope[j] * dt)), trial


def test_adc_spans_of_samples_in_time_order_equal_the_general_case():
    """Which samples are simulated and each repetition's first / last sample: the merge
    for samples in time order equals the general per-sample search (samples before the
    first pulse, repetitions without samples, samples on a pulse centre, no samples)."""
    gen = np.random.default_rng(0)
    for _ in range(300):
        centre = np.sort(gen.integers(0, 30, gen.integers(1, 8)).astype(float))
        samples = np.sort(gen.integers(-3, 35, gen.integers(0, 40)).astype(float))
        fast, general = (mr0_backend._adc_spans_sorted(centre, samples),
                         mr0_backend._adc_spans(centre, samples))
        assert (fast[0] is None) == (general[0] is None)
        if fast[0] is not None:
            assert np.array_equal(fast[0], general[0])
        assert np.array_equal(fast[1], general[1]) and np.array_equal(fast[2], general[2])


def test_boundary_rounding_equals_torch_round():
    """Gradient breakpoints are distinct boundaries when they differ after rounding to
    1 µs; the numpy rounding is torch.round(x, decimals=6) to the bit, halfway cases included."""
    gen = torch.Generator().manual_seed(1)
    x = torch.cat([torch.rand(10000, generator=gen, dtype=torch.float64) * 3,
                   (torch.arange(2000, dtype=torch.float64) + 0.5) * 1e-6])  # halfway points
    ours = mr0_backend._round_decimals(x.numpy(), mr0_backend.EDGE_DECIMALS)
    assert np.array_equal(ours, torch.round(x, decimals=mr0_backend.EDGE_DECIMALS).numpy())


CASES = {  # example: (function name, arguments)
    "gre": ("gre", dict(TR=12e-3, TE=5e-3, flips=np.full(16, 10.0), Nx=16, Ny=16)),
    "tse": ("tse", dict(TE=12e-3, TR=2.0, refoc_flips=np.full(4, 160.0), Nx=16, Ny=16, n_echo=4)),
    "flair_epi": ("flair_epi", dict(TI=1.2, Nx=16, Ny=16)),  # EPI: samples on the ramps
}


@pytest.mark.parametrize("example", sorted(CASES))
def test_samples_on_their_grid_equal_the_per_sample_path_bit_for_bit(example):
    """Where all ADCs have the same number of samples the lowering computes the sample
    times and phases on an [ADC, sample] grid (broadcasting); that gives the repetitions
    of the general path (one gather per sample), to the last bit."""
    from tests.conftest import load_example
    name, args = CASES[example]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        graph = pulseqzero.trace(getattr(load_example(example), name)).trace(**args)
    layout = mr0_backend.Layout(graph.ir)
    env = evaluate(graph.ir.values, graph.inputs({}), "torch")
    fast = mr0_backend.lower(graph.ir, env, layout)
    assert layout.samples_per_adc is not None
    layout.samples_per_adc = None  # force one gather per sample
    general = mr0_backend.lower(graph.ir, env, layout)
    assert len(fast) == len(general)
    for a, b in zip(fast, general):
        for name in ("event_time", "gradm", "adc_phase", "adc_usage"):
            assert torch.equal(getattr(a, name), getattr(b, name)), name
