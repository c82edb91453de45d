"""Sequence diagrams and k-space plots, checked against real pypulseq's own waveforms.

``backends.plot.waveforms`` (from the IR) must agree with what pypulseq 1.4.2
computes from the sequence it builds for the same script: the gradient
waveforms of ``Sequence.waveforms()``, the RF samples of
``Sequence.waveforms_export()`` and the ADC sample times of ``adc_times()``.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import pulseqzero
from pulseqzero.backends import plot as backend


@pytest.fixture(scope="module")
def gre_pair(gre_module):
    """(traced graph, numpy env, the pypulseq Sequence) of one small GRE."""
    args = dict(TR=12e-3, TE=5e-3, flips=np.linspace(5.0, 20.0, 8), Nx=8, Ny=8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        graph = pulseqzero.trace(gre_module.gre).trace(**args)
        seq = gre_module.gre(**args)  # outside a trace: real pypulseq
    return graph, graph.evaluate("numpy"), seq


def test_gradients_match_pypulseq(gre_pair):
    graph, env, seq = gre_pair
    w = backend.waveforms(graph.ir, env)
    reference = seq.waveforms()  # per channel: 2 x n (time s, amplitude Hz/m)
    for ch, ref in zip(("gx", "gy", "gz"), reference):
        t, a = w.grad[ch]
        assert np.all(np.diff(t) >= 0)
        ours = np.interp(ref[0], t, a, left=0.0, right=0.0)
        np.testing.assert_allclose(ours, ref[1], atol=1e-6 * np.abs(ref[1]).max(), err_msg=ch)


def rf_export(seq) -> dict:
    """pypulseq 1.4.2's ``waveforms_export`` RF entries, from the blocks pypulseq's
    ``get_block`` rebuilds (1.5 has no ``waveforms_export``)."""
    t_rf, rf = [], []
    t0 = 0.0
    for i in seq.block_events:
        block = seq.get_block(i)
        if block.rf is not None:
            p = block.rf
            t_rf.append(t0 + p.t + p.delay)
            rf.append(p.signal * np.exp(1j * p.phase_offset)
                      * np.exp(1j * 2 * np.pi * p.t * p.freq_offset))
        t0 += seq.block_durations[i]
    return {"t_rf": np.concatenate(t_rf), "rf": np.concatenate(rf)}


def test_rf_and_adc_match_pypulseq(gre_pair):
    graph, env, seq = gre_pair
    w = backend.waveforms(graph.ir, env)
    ref = seq.waveforms_export() if hasattr(seq, "waveforms_export") else rf_export(seq)
    if hasattr(seq, "waveforms_export"):  # (the 1.5 reference is 1.4.2's, where both exist)
        mine = rf_export(seq)
        np.testing.assert_allclose(mine["t_rf"], ref["t_rf"], rtol=0, atol=1e-12)
        np.testing.assert_allclose(mine["rf"], ref["rf"], rtol=1e-12, atol=1e-9)
    t = np.concatenate([t for t, _ in w.rf])
    signal = np.concatenate([s for _, s in w.rf])
    np.testing.assert_allclose(t, ref["t_rf"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(signal, ref["rf"], rtol=1e-9, atol=1e-9 * np.abs(ref["rf"]).max())
    t_adc, _ = seq.adc_times()
    np.testing.assert_allclose(np.concatenate(w.adc), t_adc, rtol=0, atol=1e-12)
    assert w.duration == pytest.approx(seq.duration()[0], abs=1e-12)


def test_time_range_selects_blocks(gre_pair):
    graph, env, _ = gre_pair
    w = backend.waveforms(graph.ir, env, time_range=(13e-3, 20e-3))
    assert len(w.rf) == 1 and len(w.adc) == 1  # the second TR's pulse and readout only
    assert all(13e-3 - 12e-3 <= t[0] and t[-1] <= 24e-3 for t, _ in w.rf)


def test_sequence_diagram_axes_and_units(gre_pair, tmp_path):
    graph, _, _ = gre_pair
    fig = pulseqzero.plot_sequence(graph, time_range=(0, 24e-3), title="GRE")
    labels = [ax.get_ylabel() for ax in fig.axes]
    assert labels == ["ADC", "RF |B1|\n(µT)", "RF phase\n(rad)", "Gx\n(mT/m)", "Gy\n(mT/m)",
                      "Gz\n(mT/m)"]
    assert fig.axes[-1].get_xlabel() == "time (ms)"
    assert fig.axes[-1].get_xlim() == pytest.approx((0, 24))
    # RF magnitude in µT: a 5° 2 ms sinc peaks well below 10 µT, above 0.1 µT
    peak = max(line.get_ydata().max() for line in fig.axes[1].lines)
    assert 0.1 < peak < 10
    path = pulseqzero.plot_sequence(graph, path=tmp_path / "d.png", flips=np.full(8, 10.0))
    assert path.stat().st_size > 10_000


def test_kspace_plot_shows_the_mr0_trajectory(gre_pair, tmp_path):
    import torch
    graph, _, _ = gre_pair
    fig = pulseqzero.plot_kspace(graph)
    with torch.no_grad():
        k = graph.to_mr0().get_kspace().numpy()
    points = fig.axes[0].collections[0].get_offsets()
    np.testing.assert_allclose(np.asarray(points), k[:, :2], rtol=1e-6)
    assert fig.axes[0].get_xlabel() == "kx (1/m)"
    # 8 lines of 8 samples, Δk = 1/FOV
    assert len(points) == 64
    assert np.unique(np.round(k[:, 1], 3)).size == 8
    assert pulseqzero.plot_kspace(graph, path=tmp_path / "k.png").exists()


def test_recorded_and_bound_sequences_are_drawn(gre_module, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pulseqzero.mr0_mode():
            seq = gre_module.gre(12e-3, 5e-3, np.full(4, 10.0), Nx=4, Ny=4)
        bound = pulseqzero.trace(gre_module.gre)(12e-3, 5e-3, np.full(4, 10.0), Nx=4, Ny=4)
    assert pulseqzero.plot_sequence(seq, path=tmp_path / "a.png").exists()
    assert pulseqzero.plot_sequence(bound, path=tmp_path / "b.png").exists()
    with pytest.raises(TypeError, match="call gre"):
        pulseqzero.plot_sequence(pulseqzero.trace(gre_module.gre))
