"""The support matrix: every public name of pypulseq 1.4.2 has a status, every supported one
exists in pulseqzero, and the committed ``docs/api-support.md`` is what the code says."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from pulseqzero import TracingWarning

import pulseqzero.pp as zpp
from pulseqzero.support import DISABLED, SUPPORT
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


def test_the_walk_finds_the_seed_s_list(tool):
    names = tool.public_names()
    assert set(SEED_LIST) <= set(names)
    assert set(names) - set(SEED_LIST) == {"round_half_up"}  # defined in pypulseq's __init__


def test_every_public_name_has_a_status_and_exists(tool):
    assert tool.problems() == []


def test_the_committed_document_is_current(tool):
    doc = ROOT / "docs" / "api-support.md"
    assert doc.read_text() == tool.render(), "run: python tools/api_support.py"


def test_disabled_names_do_what_the_matrix_says(tmp_path):
    disabled = sorted(n for n, (status, _) in SUPPORT.items() if status == DISABLED)
    assert disabled == ["Sequence.calculate_pns", "Sequence.rf_from_lib_data", "Sequence.write",
                        "calc_SAR"]
    with TraceContext("disabled"):
        seq = zpp.Sequence()
        seq.add_block(zpp.make_block_pulse(0.5, duration=1e-3))
        with pytest.warns(TracingWarning, match="calc_SAR is not evaluated") as said:
            assert zpp.calc_SAR(seq) == (True, [])
        assert "test_api_support.py:" in str(said[0].message)  # names the caller's line
        with pytest.raises(NotImplementedError, match="to_pypulseq"):
            seq.calculate_pns(None)
        with pytest.raises(NotImplementedError, match=r"get_block\(i\)\.rf"):
            seq.rf_from_lib_data([1, 1, 1, 0, 0, 0, 0])
        with pytest.warns(UserWarning, match="writes nothing"):
            seq.write(tmp_path / "x.seq")
    assert not (tmp_path / "x.seq").exists()
