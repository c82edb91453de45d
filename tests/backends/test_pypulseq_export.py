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


def _registering(scale):
    """Registered events, with and without ``id`` set, used in blocks, passed on to
    ``scale_grad`` / ``align`` after registration, and an RF pulse whose phase changes
    per block."""
    system = pp.Opts(max_grad=28, grad_unit="mT/m", max_slew=150, slew_unit="T/m/s")
    seq = pp.Sequence(system)
    rf = pp.make_block_pulse(flip_angle=0.2, duration=1e-3, system=system)
    g = pp.make_trapezoid("x", area=100.0 * scale, duration=1e-3, system=system)
    arb = pp.make_arbitrary_grad("y", np.array([0.0, 1e3, 2e3, 1e3, 0.0]) * scale,
                                 system=system)
    seq.register_grad_event(g)  # id not kept: pypulseq finds it again in add_block
    arb.id = seq.register_grad_event(arb)[0]
    _, rf.shape_IDs = seq.register_rf_event(rf)
    for i in range(3):
        rf.phase_offset = 0.5 * i
        seq.add_block(rf)
        seq.add_block(g, arb)
        seq.add_block(pp.scale_grad(g, -0.5 * (i + 1)))  # a copy of g: no id
    # align copies g keeping its attributes (an id would be trusted by add_block)
    seq.add_block(*pp.align(right=[g, pp.make_delay(2e-3)]))
    return seq


def test_registered_events_export_like_pypulseq(tmp_path):
    expected = write_with_pypulseq(_registering, tmp_path / "ref.seq", scale=1.0)
    graph = pulseqzero.trace(_registering).trace(scale=1.0)
    graph.write(tmp_path / "traced.seq")
    assert (tmp_path / "traced.seq").read_bytes() == expected
