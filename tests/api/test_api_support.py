"""The support matrix: every public name of the installed pypulseq (1.4.2 or 1.5) has a
status, every supported one exists in pulseqzero, the recorded name list of the installed
version is its walk, and the committed ``docs/api-support.md`` is what the code says."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from pulseqzero import TracingWarning

import pulseqzero.pp as zpp
from pulseqzero.pp.version import API_15, API_NAME
from pulseqzero.support import DISABLED, support
from pulseqzero.tracer import TraceContext

ROOT = Path(__file__).resolve().parents[2]

#: the seed README's list of the PyPulseq 1.4.2 API (section 4)
SEED_LIST = """calc_SAR Sequence Sequence.__init__ Sequence.__str__ Sequence.adc_times
Sequence.add_block Sequence.calculate_gradient_spectrum Sequence.calculate_kspace
Sequence.calculate_kspacePP Sequence.calculate_pns Sequence.check_timing Sequence.duration
Sequence.evaluate_labels Sequence.flip_grad_axis Sequence.get_block Sequence.get_definition
Sequence.get_extension_type_ID Sequence.get_extension_type_string Sequence.get_gradients
Sequence.mod_grad_axis Sequence.plot Sequence.read Sequence.register_adc_event
Sequence.register_grad_event Sequence.register_label_event Sequence.register_rf_event
Sequence.remove_duplicates Sequence.rf_from_lib_data Sequence.rf_times Sequence.set_block
Sequence.set_definition Sequence.set_extension_string_ID Sequence.test_report Sequence.waveforms
Sequence.waveforms_and_times Sequence.waveforms_export Sequence.write add_gradients align
calc_duration calc_ramp calc_rf_bandwidth calc_rf_center make_adc make_adiabatic_pulse
make_arbitrary_grad make_arbitrary_rf make_block_pulse make_delay make_digital_output_pulse
make_extended_trapezoid make_extended_trapezoid_area make_gauss_pulse make_label
make_sinc_pulse make_trapezoid SigpyPulseOpts sigpy_n_seq make_slr make_sms make_trigger Opts
Opts.__init__ Opts.set_as_default Opts.reset_default Opts.__str__ points_to_waveform rotate
scale_grad split_gradient split_gradient_at get_supported_labels traj_to_grad""".split()


@pytest.fixture(scope="module")
def tool():
    spec = importlib.util.spec_from_file_location("api_support", ROOT / "tools" / "api_support.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


#: what pypulseq 1.5 adds to and removes from the 1.4.2 list (the walk checks it below)
ADDED_IN_15 = {"calc_adc_segments", "disable_trace", "enable_trace", "make_soft_delay",
               "Sequence.find_block_by_time", "Sequence.get_raw_block_content_IDs",
               "Sequence.install", "Sequence.paper_plot", "Sequence.register_soft_delay_event",
               "Sequence.apply_soft_delay"}
REMOVED_IN_15 = {"make_slr", "make_sms", "sigpy_n_seq", "Sequence.waveforms_export"}


def test_the_walk_finds_the_seed_s_list(tool):
    names = tool.public_names()
    assert names == tool.names_of(API_NAME)  # the recorded list is the installed one's
    expected = set(SEED_LIST) | {"round_half_up"}  # (defined in pypulseq's __init__)
    if API_15:
        expected = (expected - REMOVED_IN_15) | ADDED_IN_15
    assert set(names) == expected
    # the recorded lists of both versions differ by exactly that
    assert set(tool.names_of("1.5")) == (set(tool.names_of("1.4")) - REMOVED_IN_15) | ADDED_IN_15


def test_every_public_name_has_a_status_and_exists(tool):
    assert tool.problems() == []


def test_the_committed_document_is_current(tool):
    doc = ROOT / "docs" / "api-support.md"
    assert doc.read_text() == tool.render(), "run: python tools/api_support.py"


def test_disabled_names_do_what_the_matrix_says(tmp_path, tool):
    disabled = sorted(n for n in tool.names_of(API_NAME) if support(n, API_NAME)[0] == DISABLED)
    expected = ["Sequence.calculate_pns", "Sequence.rf_from_lib_data", "Sequence.write",
                "calc_SAR"]
    if API_15:  # (calc_SAR raises as pypulseq 1.5's does: below)
        expected.remove("calc_SAR")
        expected = sorted(expected + ["Sequence.apply_soft_delay",
                                      "Sequence.get_raw_block_content_IDs",
                                      "Sequence.register_soft_delay_event", "make_soft_delay"])
    assert disabled == expected
    with TraceContext("disabled"):
        seq = zpp.Sequence()
        seq.add_block(zpp.make_block_pulse(0.5, duration=1e-3))
        if API_15:
            import pypulseq
            with pytest.raises(RuntimeError) as ref:
                pypulseq.calc_SAR(pypulseq.Sequence())
            with pytest.raises(RuntimeError, match="PySar4seq") as ours:
                zpp.calc_SAR(seq)
            assert str(ref.value) in str(ours.value)
        else:
            with pytest.warns(TracingWarning, match="calc_SAR is not evaluated") as said:
                assert zpp.calc_SAR(seq) == (True, [])
            assert "test_api_support.py:" in str(said[0].message)  # names the caller's line
        with pytest.raises(NotImplementedError, match="to_pypulseq"):
            seq.calculate_pns(None)
        with pytest.raises(NotImplementedError, match=r"get_block\(i\)\.rf"):
            seq.rf_from_lib_data([1, 1, 1, 0, 0, 0, 0])
        with pytest.warns(UserWarning, match="writes nothing"):
            seq.write(tmp_path / "x.seq")
        if API_15:
            with pytest.raises(NotImplementedError,
                               match=r"test_api_support.py:\d+\]: use make_delay"):
                zpp.make_soft_delay("TE")
            with pytest.raises(NotImplementedError, match=r"graph.to_pypulseq\(\)"):
                seq.apply_soft_delay(TE=1e-3)
            with pytest.raises(NotImplementedError, match=r"test_api_support.py:"):
                seq.register_soft_delay_event(None)
            with pytest.raises(NotImplementedError, match=r"get_block\(i\)"):
                seq.get_raw_block_content_IDs(1)
    assert not (tmp_path / "x.seq").exists()
