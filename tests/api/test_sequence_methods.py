"""Every ``Sequence`` method of the recording implementation against pypulseq 1.4.2's.

The same sequence is built with pypulseq and, traced (TE is a graph parameter), with
pulseqzero's recording implementation; each method must give pypulseq's result.
pypulseq computes its queries from its compressed event library (arbitrary shapes
quantised to 1e-7); the recording keeps the events as they were added, so waveforms of
arbitrary gradients agree to that quantisation, everything else exactly.
"""
from __future__ import annotations

import warnings

import numpy as np
import pypulseq
import pytest

import pulseqzero
import pulseqzero.pp as zpp
from pulseqzero.graph import Graph, GuardError
from pulseqzero.pp.version import API_15
from pulseqzero.tracer import TraceContext, Tracer, value_of
from tests.conftest import seq_body

TE = 4e-3


def build(pp, te=TE, n=3):
    """A small sequence with every kind of event: sinc (excitation) and block (refocusing)
    RF, trapezoids, an extended trapezoid, an arbitrary gradient, ADC, labels, a trigger."""
    system = pp.Opts(max_grad=28, grad_unit="mT/m", max_slew=150, slew_unit="T/m/s",
                     rf_ringdown_time=20e-6, rf_dead_time=100e-6, adc_dead_time=10e-6)
    seq = pp.Sequence(system)
    rf, gz, gzr = pp.make_sinc_pulse(np.pi / 2, duration=2e-3, slice_thickness=3e-3,
                                     return_gz=True, system=system)
    rf180 = pp.make_block_pulse(np.pi, duration=1e-3, system=system, use="refocusing")
    gx = pp.make_trapezoid("x", flat_area=32 / 0.2, flat_time=2e-3, system=system)
    adc = pp.make_adc(32, duration=gx.flat_time, delay=gx.rise_time, system=system)
    gpre = pp.make_trapezoid("x", area=-gx.area / 2, duration=1e-3, system=system)
    ext = pp.make_extended_trapezoid("y", times=np.array([0, 1e-4, 3e-4, 4e-4]),
                                     amplitudes=np.array([0, 2e5, 2e5, 0]), system=system)
    arb = pp.make_arbitrary_grad("z", waveform=np.sin(np.linspace(0, np.pi, 50)) * 1e5,
                                 system=system)
    reset = pp.make_label(type="SET", label="LIN", value=0)
    inc = pp.make_label(type="INC", label="LIN", value=1)
    trig = pp.make_trigger("physio1", duration=20e-6)
    for i in range(n):
        rf.phase_offset = i * 0.5
        seq.add_block(rf, gz, reset if i == 0 else inc)
        seq.add_block(gzr, gpre)
        seq.add_block(pp.make_delay(te))
        seq.add_block(gx, adc, ext)
        seq.add_block(rf180, arb, trig)
    seq.set_definition("FOV", [0.2, 0.2, 3e-3])
    return seq


@pytest.fixture(scope="module")
def pair():
    """(pypulseq's sequence, ours traced with TE a parameter, the trace context)."""
    ref = build(pypulseq)
    with TraceContext("methods") as ctx:
        ours = build(zpp, ctx.new_param("TE", TE))
    return ref, ours, ctx


def concrete(x):
    if isinstance(x, (list, tuple)):
        return type(x)(concrete(v) for v in x)
    if isinstance(x, dict):
        return {k: concrete(v) for k, v in x.items()}
    return value_of(x)


def assert_close(ours, ref, rtol=0.0, atol=0.0):
    if isinstance(ref, str):
        assert ours == ref
        return
    ours = np.asarray(concrete(ours))
    ref = np.asarray(ref)
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, rtol=rtol, atol=atol)


# ------------------------------------------------------------------------ blocks


def test_duration_and_block_table(pair):
    ref, ours, _ = pair
    total, n, counts = ours.duration()
    assert isinstance(total, Tracer)  # depends on TE
    assert (value_of(total), n) == ref.duration()[:2]
    np.testing.assert_array_equal(counts, ref.duration()[2])
    assert list(ours.block_events) == list(ref.block_events)
    for i in ref.block_events:
        np.testing.assert_array_equal(ours.block_events[i] > 0, ref.block_events[i] > 0)


def test_get_block_has_pypulseq_s_events(pair):
    ref, ours, _ = pair
    for i in ref.block_events:
        a, b = ref.get_block(i), ours.get_block(i)
        assert value_of(b.block_duration) == a.block_duration
        for column in ("gx", "gy", "gz", "adc"):
            ea, eb = getattr(a, column), getattr(b, column)
            assert (ea is None) == (eb is None), (i, column)
            if ea is None:
                continue
            for name, value in vars(ea).items():
                if name in ("shape_id", "time_id"):
                    continue  # library ids
                # pypulseq's quantised shape (1.5 also recomputes a shape's area from it)
                rtol = 1e-6 if name == "waveform" or (name == "area" and ea.type == "grad") else 0
                assert_close(getattr(eb, name), value, rtol=rtol, atol=1e-9 if rtol else 0)
        assert (a.rf is None) == (b.rf is None)
        if a.rf is not None:
            for name in ("delay", "freq_offset", "phase_offset", "t"):
                assert_close(getattr(b.rf, name), getattr(a.rf, name))
            assert_close(np.abs(b.rf.signal), np.abs(a.rf.signal), rtol=1e-6)
            assert value_of(b.rf.shape_dur) == pytest.approx(a.rf.shape_dur, rel=1e-12)
        labels_a = [] if a.label is None else list(a.label.values())
        labels_b = [] if b.label is None else list(b.label.values())
        assert [(x.type, x.label, x.value) for x in labels_b] == \
            [(x.type, x.label, x.value) for x in labels_a]
        assert hasattr(a, "trigger") == hasattr(b, "trigger")
        if hasattr(a, "trigger"):
            assert [vars(t) for t in b.trigger.values()] == [vars(t) for t in a.trigger.values()]


def test_get_block_added_again_and_set_block(pair, tmp_path):
    def edit(pp, seq):
        seq.add_block(seq.get_block(2))
        seq.set_block(3, seq.get_block(4))  # replace the delay block
        seq.set_block(len(seq.block_events) + 1, pp.make_delay(1e-3))
        return seq

    ref = edit(pypulseq, build(pypulseq))
    with TraceContext("edit") as ctx:
        ours = edit(zpp, build(zpp, ctx.new_param("TE", TE)))
        graph = Graph(ours.to_graph())
    assert list(ours.block_durations) == list(ref.block_durations)
    assert [value_of(d) for d in ours.block_durations.values()] == list(ref.block_durations.values())
    ref.write(str(tmp_path / "ref.seq"))
    graph.write(tmp_path / "ours.seq")
    assert seq_body(tmp_path / "ours.seq") == seq_body(tmp_path / "ref.seq")


@pytest.mark.parametrize("case", ["first", "connection", "end", "duplicate"])
def test_add_block_refuses_what_pypulseq_refuses(case):
    def make(pp):
        seq = pp.Sequence()
        up = pp.make_extended_trapezoid("x", times=np.array([0, 1e-4]), amplitudes=np.array([0, 1e5]))
        down = pp.make_extended_trapezoid("x", times=np.array([0, 1e-4]), amplitudes=np.array([1e5, 0]))
        trap = pp.make_trapezoid("x", area=100)
        if case == "first":
            seq.add_block(down)
        elif case == "connection":
            seq.add_block(up)
            seq.add_block(trap)
            seq.add_block(down)
        elif case == "end":
            seq.add_block(up, pp.make_delay(1e-3))
        else:
            seq.add_block(trap, up)

    with pytest.raises(Exception) as ref:
        make(pypulseq)
    with TraceContext("refuse"), pytest.raises(type(ref.value)) as ours:
        make(zpp)
    assert str(ref.value) in str(ours.value)
    assert "test_sequence_methods.py:" in str(ours.value)


# ------------------------------------------------------------------------ times, waveforms


def test_rf_times_and_adc_times(pair):
    ref, ours, _ = pair
    for a, b in zip(ref.rf_times(), ours.rf_times()):
        assert_close(b, a)
    t_adc, fp_adc = ours.adc_times()
    assert isinstance(t_adc, Tracer)  # moves with TE
    assert_close(t_adc, ref.adc_times()[0])
    assert_close(fp_adc, ref.adc_times()[1])
    window = [0.004, 0.02]
    for a, b in zip(ref.adc_times(time_range=window), ours.adc_times(time_range=window)):
        assert_close(b, a)
    for a, b in zip(ref.rf_times(time_range=window), ours.rf_times(time_range=window)):
        assert_close(b, a)


def test_waveforms_and_times(pair):
    ref, ours, _ = pair
    a, b = ref.waveforms_and_times(append_RF=True), ours.waveforms_and_times(append_RF=True)
    for wa, wb in zip(a[0], concrete(b[0])):
        assert_close(np.real(wb), np.real(wa), rtol=1e-6, atol=1e-6)
        assert_close(np.imag(wb), np.imag(wa), rtol=1e-6, atol=1e-6)
    for xa, xb in zip(a[1:], b[1:]):
        assert_close(xb, xa)
    for wa, wb in zip(ref.waveforms(time_range=[0.003, 0.012]),
                      ours.waveforms(time_range=[0.003, 0.012])):
        assert_close(wb, wa, rtol=1e-6, atol=1e-6)


def test_get_gradients_and_kspace(pair):
    ref, ours, _ = pair
    t = np.linspace(0, float(ref.duration()[0]), 2001)
    for pa, pb in zip(ref.get_gradients(), ours.get_gradients()):
        assert (pa is None) == (pb is None)
        if pa is not None:
            np.testing.assert_allclose(pb(t), pa(t), rtol=1e-6, atol=1e-3)
    ka, kb = ref.calculate_kspace(), ours.calculate_kspace()
    for xa, xb in zip(ka, kb):
        np.testing.assert_allclose(np.asarray(xb, dtype=float), np.asarray(xa, dtype=float),
                                   rtol=1e-6, atol=1e-6)
    with pytest.warns(DeprecationWarning):
        kc = ours.calculate_kspacePP()
    np.testing.assert_array_equal(kc[0], kb[0])


def test_a_result_pins_its_values_only_when_used():
    def trace(use: bool):
        with TraceContext("pins") as ctx:
            seq = build(zpp, ctx.new_param("TE", TE), n=1)
            k_adc = seq.calculate_kspace()[0] if use else seq.calculate_kspace()
            return Graph(seq.to_graph()), k_adc

    unused, _ = trace(False)
    unused.evaluate("numpy", TE=5e-3)  # only structural guards: other TEs re-execute
    used, k_adc = trace(True)
    assert k_adc.shape[0] == 3
    used.evaluate("numpy", TE=TE)
    with pytest.raises(GuardError, match="test_sequence_methods.py"):
        used.evaluate("numpy", TE=5e-3)  # the k-space the script used would be stale


# ------------------------------------------------------------------------ checks, labels


def test_check_timing_passes_like_pypulseq(pair):
    ref, ours, _ = pair
    ok, report = ours.check_timing()
    assert (bool(value_of(ok)), list(report)) == ref.check_timing()
    assert value_of(ours.get_definition("TotalDuration")) == ref.get_definition("TotalDuration")


def test_check_timing_report_of_a_failing_sequence():
    def bad(pp, te):
        seq = pp.Sequence()
        adc = pp.make_adc(10, dwell=1.05e-6)  # off the ADC raster
        seq.add_block(pp.make_delay(te))
        seq.add_block(adc, pp.make_delay(20e-6))
        seq.add_block(pp.make_trapezoid("x", area=100, delay=5e-6))
        return seq

    ref_ok, ref_report = bad(pypulseq, 1.2345e-3).check_timing()
    if API_15:  # one record per error: (block, event, field, error type)
        assert not ref_ok and [(e.block, e.event, e.field, e.error_type) for e in ref_report] == [
            (1, "block", "duration", "RASTER"), (2, "adc", "dwell", "RASTER"),
            (3, "block", "duration", "RASTER"), (3, "gx", "delay", "RASTER")]
    else:  # one line per block
        assert not ref_ok and len(ref_report) == 3
    with TraceContext("bad") as ctx:
        seq = bad(zpp, ctx.new_param("TE", 1.2345e-3))
        ok, report = seq.check_timing()
        assert ok is False  # the ADC fails whatever TE is
        assert list(report) == ref_report  # using the report pins what it says
        graph = Graph(seq.to_graph())
    graph.evaluate("numpy", TE=1.2345e-3)
    with pytest.raises(GuardError):
        graph.evaluate("numpy", TE=1.3e-3)  # its first line would say 1300 us


def test_check_timing_ok_is_traced_and_guards_the_if():
    def fn(te):
        seq = pulseqzero.pp_impl.Sequence()
        seq.add_block(pulseqzero.pp_impl.make_delay(te))
        ok, report = seq.check_timing()
        if ok:
            seq.add_block(pulseqzero.pp_impl.make_delay(1e-3))
        return seq

    traced = pulseqzero.trace(fn)
    graph = traced.trace(2e-3)
    assert len(graph.blocks) == 2
    graph.evaluate("numpy", te=3e-3)  # still on the raster: the guard holds
    with pytest.raises(GuardError, match="test_sequence_methods.py"):
        graph.evaluate("numpy", te=2.5e-6)  # off the raster: ok flips
    assert len(traced(2.5e-6).graph.blocks) == 1  # calling re-traces


def test_evaluate_labels(pair):
    ref, ours, _ = pair
    for evolution in ("none", "adc", "label", "blocks"):
        a = ref.evaluate_labels(evolution=evolution)
        b = ours.evaluate_labels(evolution=evolution)
        assert list(b) == list(a)
        for key in a:
            np.testing.assert_array_equal(concrete(b[key]), a[key])
    assert ours.evaluate_labels(init={"LIN": 10})["LIN"] == ref.evaluate_labels(init={"LIN": 10})["LIN"]


def test_extension_ids(pair):
    ref, ours, _ = pair
    assert ours.extension_string_idx == ref.extension_string_idx
    assert ours.extension_numeric_idx == ref.extension_numeric_idx
    for string in ref.extension_string_idx:
        assert ours.get_extension_type_ID(string) == ref.get_extension_type_ID(string)
        assert ours.get_extension_type_string(ref.get_extension_type_ID(string)) == string
    with pytest.raises(ValueError, match="is unknown"):
        ours.get_extension_type_string(99)
    with pytest.raises(ValueError, match="not unique"):
        ours.set_extension_string_ID("LABELSET", 99)


# ------------------------------------------------------------------------ modifying


def test_mod_grad_axis_scales_what_pypulseq_means_to(tmp_path):
    """pypulseq 1.4.2's mod_grad_axis raises TypeError (it assigns into a tuple); ours
    scales the gradients on the axis: the file equals pypulseq's with pre-scaled events.
    pypulseq 1.5 scales its library entries: the file equals 1.5's own."""
    seq = pypulseq.Sequence()
    seq.add_block(pypulseq.make_trapezoid("y", area=100))
    if API_15:
        seq.flip_grad_axis("y")
        assert seq.get_block(1).gy.amplitude == -pypulseq.make_trapezoid("y", area=100).amplitude
    else:
        with pytest.raises(TypeError):
            seq.flip_grad_axis("y")

    def make(pp, scale):
        seq = pp.Sequence()
        gy = pp.make_trapezoid("y", area=100)
        ext = pp.make_extended_trapezoid("y", times=np.array([0, 1e-4, 2e-4]),
                                         amplitudes=np.array([0, 1e5, 0]))
        if scale != 1:
            gy = pp.scale_grad(gy, scale)
            ext = pp.scale_grad(ext, scale)
        seq.add_block(gy, pp.make_trapezoid("x", area=50))
        seq.add_block(ext)
        return seq

    if API_15:
        ref = make(pypulseq, 1)
        ref.mod_grad_axis("y", 2.0)
        ref.flip_grad_axis("y")
        ref.flip_grad_axis("z")
    else:
        ref = make(pypulseq, -2.0)
    ref.write(str(tmp_path / "ref.seq"))
    with TraceContext("mod"):
        ours = make(zpp, 1)
        ours.mod_grad_axis("y", 2.0)
        ours.flip_grad_axis("y")
        ours.flip_grad_axis("z")  # nothing on z
        Graph(ours.to_graph()).write(tmp_path / "ours.seq")
        assert value_of(ours.get_block(1).gy.amplitude) == ref.get_block(1).gy.amplitude
        with pytest.raises(ValueError, match="Invalid axis"):
            ours.flip_grad_axis("w")
    assert seq_body(tmp_path / "ours.seq") == seq_body(tmp_path / "ref.seq")


def test_mod_grad_axis_refuses_an_event_on_two_axes():
    def make(pp):
        seq = pp.Sequence()
        seq.add_block(pp.make_trapezoid("x", area=100), pp.make_trapezoid("y", area=100))
        seq.flip_grad_axis("x")

    with pytest.raises(RuntimeError) as ref:
        make(pypulseq)
    with TraceContext("two"), pytest.raises(RuntimeError) as ours:
        make(zpp)
    assert str(ref.value) in str(ours.value)


def test_remove_duplicates(pair):
    _, ours, _ = pair
    assert ours.remove_duplicates(in_place=True) is ours
    copy = ours.remove_duplicates()
    assert copy is not ours
    assert list(copy.block_durations) == list(ours.block_durations)


def test_registered_events_export_in_pypulseq_s_order(tmp_path):
    """write_MPRAGE.py pre-registers events; pypulseq numbers its library in that order."""
    def make(pp):
        seq = pp.Sequence()
        g1 = pp.make_trapezoid("x", area=100)
        g2 = pp.make_trapezoid("x", area=200)
        rf = pp.make_block_pulse(0.1, duration=1e-4)
        label = pp.make_label(type="INC", label="LIN", value=1)
        seq.add_block(pp.make_trapezoid("y", area=300))
        g2.id = seq.register_grad_event(g2)
        _, rf.shape_IDs = seq.register_rf_event(rf)
        label.id = seq.register_label_event(label)
        seq.add_block(g1)
        seq.add_block(g2, label)
        for phase in (0.0, 1.0):
            rf.phase_offset = phase
            seq.add_block(rf)
        g2.amplitude = 0.0  # pypulseq adds the registered event (its id) regardless
        seq.add_block(g2)
        return seq

    ref = make(pypulseq)
    ref.write(str(tmp_path / "ref.seq"))
    with TraceContext("register"):
        ours = make(zpp)
        assert value_of(ours.get_block(6).gx.amplitude) == ref.get_block(6).gx.amplitude
        Graph(ours.to_graph()).write(tmp_path / "ours.seq")
    assert seq_body(tmp_path / "ours.seq") == seq_body(tmp_path / "ref.seq")


# ------------------------------------------------------------------------ through pypulseq


def build_traps(pp, te=TE):
    """A sequence of trapezoids only (pypulseq's waveforms_export fails on others)."""
    seq = pp.Sequence()
    rf = pp.make_block_pulse(0.2, duration=2e-4)
    gx = pp.make_trapezoid("x", flat_area=1000, flat_time=1e-3)
    for i in range(3):
        seq.add_block(rf)
        seq.add_block(pp.make_delay(te))
        seq.add_block(gx, pp.make_adc(16, duration=gx.flat_time, delay=gx.rise_time))
    return seq


def test_str_test_report_and_exported_methods(pair):
    ref, ours, _ = pair
    assert str(ours) == str(ref)
    assert ours.test_report() == ref.test_report()
    import matplotlib
    matplotlib.use("Agg")
    # what pypulseq's plot returns (1.4.2: None; 1.5: a SeqPlot handle)
    assert type(ours.plot(plot_now=False)) is type(ref.plot(plot_now=False))
    a = ref.calculate_gradient_spectrum(plot=False)
    b = ours.calculate_gradient_spectrum(plot=False)
    for xa, xb in zip(a, b):
        np.testing.assert_array_equal(np.asarray(xb), np.asarray(xa))
    with pytest.raises(AttributeError):  # pypulseq 1.4.2: arbitrary gradients have no .t
        ref.waveforms_export()              # (1.5: there is no waveforms_export)
    with pytest.raises(AttributeError):
        ours.waveforms_export()
    if API_15:
        assert not hasattr(ref, "waveforms_export") and not hasattr(ours, "waveforms_export")
        return
    ref = build_traps(pypulseq)
    with TraceContext("traps") as ctx:
        ours = build_traps(zpp, ctx.new_param("TE", TE))
        wa, wb = ref.waveforms_export(), ours.waveforms_export()
    assert list(wb) == list(wa)
    for key in wa:
        np.testing.assert_array_equal(wb[key], wa[key])


def test_exported_results_pin_the_sequence_when_used():
    with TraceContext("export") as ctx:
        seq = (build if API_15 else build_traps)(zpp, ctx.new_param("TE", TE))
        before = len(ctx.guards)
        if API_15:  # (no waveforms_export in 1.5: the gradient spectrum is such a result)
            waves = seq.calculate_gradient_spectrum(plot=False)
            assert len(ctx.guards) == before
            waves[0]
        else:
            waves = seq.waveforms_export()
            assert len(ctx.guards) == before
            waves["t_adc"]
        graph = Graph(seq.to_graph())
    with pytest.raises(GuardError):
        graph.evaluate("numpy", TE=6e-3)


def test_methods_without_a_recording_raise_naming_the_alternative(pair):
    _, ours, _ = pair
    with pytest.raises(NotImplementedError, match="to_pypulseq"):
        ours.calculate_pns(None)
    with pytest.raises(NotImplementedError, match="get_block"):
        ours.rf_from_lib_data([1, 1, 1, 0, 0, 0, 0])


# ------------------------------------------------------------------------ files


@pytest.mark.parametrize("with_labels", [False, True])
def test_read_then_write_gives_the_same_file(tmp_path, with_labels):
    ref = build(pypulseq)
    if not with_labels:
        ref = pypulseq.Sequence()
        ref.add_block(pypulseq.make_sinc_pulse(0.3, duration=1e-3))
        ref.add_block(pypulseq.make_trapezoid("x", area=100),
                      pypulseq.make_delay(2e-3) if API_15 else 2e-3)
    ref.write(str(tmp_path / "ref.seq"))
    with TraceContext("read"):
        seq = zpp.Sequence()
        seq.read(tmp_path / "ref.seq")
        graph = Graph(seq.to_graph())
    assert not graph.params  # a graph of constants
    graph.write(tmp_path / "again.seq")
    assert seq_body(tmp_path / "again.seq") == seq_body(tmp_path / "ref.seq")
    if with_labels:  # (a sequence with ADCs: it simulates)
        assert len(graph.to_mr0()) > 0


def test_write_inside_a_trace_writes_nothing(tmp_path):
    with TraceContext("write"):
        seq = zpp.Sequence()
        seq.add_block(zpp.make_delay(1e-3))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert seq.write(tmp_path / "x.seq") == ""
            seq.write(tmp_path / "y.seq")
        assert sum("writes nothing" in str(w.message) for w in caught) == 1
    assert not (tmp_path / "x.seq").exists()
