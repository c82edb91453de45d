"""Export: replaying the recorded calls gives the bytes pypulseq writes."""
import warnings

import attrs
import numpy as np
import pytest
import torch

import pulseqzero
from pulseqzero.backends.pypulseq import BlockOffRaster, ExportMismatch

pp = pulseqzero.pp_impl


def write_with_pypulseq(fn, path, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fn(**kwargs).write(str(path))
    return path.read_bytes()


@pytest.mark.parametrize("lines", [16, 64])
def test_gre_seq_is_byte_identical(gre_module, tmp_path, lines):
    args = dict(TR=12e-3, TE=5e-3, flips=np.linspace(5.0, 25.0, lines), Nx=lines, Ny=lines)
    expected = write_with_pypulseq(gre_module.gre, tmp_path / "ref.seq", **args)
    graph = pulseqzero.trace(gre_module.gre).trace(**args)
    graph.write(tmp_path / "traced.seq")
    assert (tmp_path / "traced.seq").read_bytes() == expected


def test_export_at_new_values_equals_pypulseq_at_those_values(gre_module, gre_graph, tmp_path):
    new = dict(TR=14e-3, TE=6e-3, flips=np.linspace(20.0, 30.0, 16))
    gre_graph.write(tmp_path / "new.seq", **new)
    expected = write_with_pypulseq(gre_module.gre, tmp_path / "ref.seq", Nx=16, Ny=16, **new)
    assert (tmp_path / "new.seq").read_bytes() == expected


def test_float32_params_export_like_float64(gre_module, gre_graph, tmp_path):
    f32 = dict(TR=torch.tensor(12.34e-3), TE=torch.tensor(5.01e-3),
               flips=torch.linspace(8.0, 16.0, 16))
    assert f32["TE"].dtype == torch.float32
    gre_graph.write(tmp_path / "f32.seq", **f32)
    as_float64 = {k: (float(v) if v.ndim == 0 else v.double().numpy()) for k, v in f32.items()}
    expected = write_with_pypulseq(gre_module.gre, tmp_path / "ref.seq", Nx=16, Ny=16, **as_float64)
    assert (tmp_path / "f32.seq").read_bytes() == expected
    env = gre_graph.evaluate("numpy", **f32)
    raster = gre_graph.system.block_duration_raster
    for block in gre_graph.blocks:
        steps = float(env[block.duration]) / raster
        assert abs(steps - round(steps)) < 1e-9


def test_a_differing_replay_is_reported_not_written(gre_graph, tmp_path):
    g = gre_graph.ir
    block = g.blocks[1]
    gx = block.events[0]
    wrong = g.values.nodes.index(next(n for n in g.values.nodes if getattr(n, "value", None) == 0.5))
    tampered_block = attrs.evolve(block, events=(attrs.evolve(gx, amplitude=wrong),) + block.events[1:])
    tampered = attrs.evolve(g, blocks=(g.blocks[0], tampered_block) + g.blocks[2:])
    with pytest.raises(ExportMismatch, match=r"gre.py:\d+: make_trapezoid\(...\).amplitude"):
        pulseqzero.Graph(tampered).write(tmp_path / "bad.seq")
    assert list(tmp_path.iterdir()) == []


def test_a_failed_export_leaves_no_file(tmp_path):
    @pulseqzero.trace
    def off_raster(d):
        seq = pp.Sequence()
        seq.add_block(pp.make_block_pulse(1.0, duration=1e-3))
        seq.add_block(pp.make_delay(d))
        return seq

    graph = off_raster.trace(1.234567e-3)
    with pytest.raises(BlockOffRaster, match=r"test_pypulseq_export.py:\d+: block 2"):
        graph.write(tmp_path / "x.seq")
    assert list(tmp_path.iterdir()) == []
    graph.write(tmp_path / "x.seq", d=1.23e-3)
    assert [p.name for p in tmp_path.iterdir()] == ["x.seq"]
