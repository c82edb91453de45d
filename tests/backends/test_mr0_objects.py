"""The repetitions and pulses the mr0 lowering returns: MRzeroCore's classes, with
``adc_labels`` and ``Pulse.grad`` made on first access, as ordinary attributes after."""
import copy
import pickle

import MRzeroCore as mr0
import numpy as np
import pytest
import torch

import pulseqzero

pp = pulseqzero.pp_impl


@pulseqzero.trace
def labelled(rf_duration, freq):
    """Three excitations with slice gradients and labelled readouts."""
    system = pp.Opts(max_grad=30, grad_unit="mT/m", max_slew=120, slew_unit="T/m/s")
    seq = pp.Sequence(system)
    for line in range(3):
        rf, gz, _ = pp.make_sinc_pulse(0.2, duration=rf_duration, slice_thickness=5e-3,
                                       freq_offset=freq, system=system, return_gz=True)
        seq.add_block(rf, gz)
        adc = pp.make_adc(8, duration=1e-3, system=system)
        seq.add_block(adc, pp.make_label(type="SET", label="LIN", value=line))
        seq.add_block(pp.make_delay(1e-3))
    return seq


@pytest.fixture(scope="module")
def graph():
    return labelled.trace(2e-3, 100.0)


def test_labels_and_pulse_gradients_are_made_on_first_access(graph):
    seq = graph.to_mr0()
    assert all(type(r) is not mr0.Repetition and isinstance(r, mr0.Repetition) for r in seq)
    rep = seq[1]
    assert not {"adc_labels"} & set(vars(rep)) and not {"grad", "off_res"} & set(vars(rep.pulse))
    labels = rep.adc_labels
    assert vars(rep)["adc_labels"] is labels and rep.adc_labels is labels  # made once
    assert set(labels) == {"slc", "seg", "rep", "avg", "set", "eco", "phs", "lin", "par", "acq",
                           "nav", "rev", "sms", "ref", "ima", "off", "noise"}
    adc = rep.adc_usage > 0
    assert torch.equal(labels["lin"][adc], torch.ones(8, dtype=torch.int32))
    assert int(labels["lin"][~adc].abs().sum()) == 0 and int(labels["par"].abs().sum()) == 0
    assert torch.equal(mr0.Sequence(seq).get_adc_labels("lin"),
                       torch.tensor([0] * 8 + [1] * 8 + [2] * 8, dtype=torch.int32))
    # the slice gradient during each pulse, in Hz/m, as the importer reports it
    grad = rep.pulse.grad
    assert grad.dtype == torch.float32 and grad.shape == (3,)
    assert grad[0] == 0 and grad[1] == 0 and float(grad[2]) > 0
    assert vars(rep.pulse)["grad"] is grad
    assert rep.pulse.off_res is True and vars(rep.pulse)["off_res"] is True  # (a slice gradient)


def test_made_attributes_are_not_shared(graph):
    seq = graph.to_mr0()
    a, b = seq[0], seq[1]
    a.adc_labels["par"][0] = 7  # in place: only this repetition's tensor changes
    assert int(b.adc_labels["par"][0]) == 0 and int(a.adc_labels["slc"][0]) == 0
    a.pulse.grad[0] = 5.0
    assert float(b.pulse.grad[0]) == 0.0
    a.adc_labels = {}  # assignable like any attribute
    assert a.adc_labels == {}
    with pytest.raises(AttributeError, match="no attribute 'nonsense'"):
        a.nonsense  # noqa: B018


def test_pickle_copy_and_mrzerocore_methods(graph):
    seq = graph.to_mr0()
    for twin in (pickle.loads(pickle.dumps(seq)), copy.deepcopy(seq)):
        assert len(twin) == len(seq)
        for x, y in zip(twin, seq):
            assert torch.equal(x.event_time, y.event_time) and torch.equal(x.gradm, y.gradm)
            assert x.adc_labels.keys() == y.adc_labels.keys()
            assert all(torch.equal(x.adc_labels[k], y.adc_labels[k]) for k in y.adc_labels)
            assert torch.equal(x.pulse.grad, y.pulse.grad)
    clone = seq[2].clone()  # MRzeroCore's own methods read the made attributes
    assert torch.equal(clone.pulse.grad, seq[2].pulse.grad)
    assert seq.cpu()[2].event_count == seq[2].event_count


def test_pulse_duration_and_frequency_floats_when_constant_tensors_when_parameters(graph, gre_graph):
    const = gre_graph.to_mr0()  # its pulses do not depend on its parameters
    assert all(type(r.pulse.duration) is float and type(r.pulse.freq_offset) is float
               for r in const)
    assert const[0].pulse.freq_offset == 0.0 and 0 < const[0].pulse.duration < 1e-2
    duration = torch.tensor(2e-3, dtype=torch.float64, requires_grad=True)
    freq = torch.tensor(50.0, dtype=torch.float64, requires_grad=True)
    seq = graph.to_mr0(rf_duration=duration, freq=freq)
    pulse = seq[0].pulse
    assert pulse.duration.shape == () and float(pulse.duration) == pytest.approx(2e-3)
    (pulse.duration * 1e3 + pulse.freq_offset).backward()
    assert float(duration.grad) == pytest.approx(1e3) and float(freq.grad) == pytest.approx(1.0)
    np.testing.assert_allclose([r.pulse.freq_offset.item() for r in seq], 50.0)
