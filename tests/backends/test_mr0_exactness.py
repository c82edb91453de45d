"""Exactness table: the mr0 lowering against MRzeroCore's own .seq importer.

For the 2D pypulseq 1.4.2 example scripts (traced unmodified; the module-level
2D MPRAGE through its rewritten copy, whose block durations are on the raster so
that pypulseq can write it) and the 2D sequences of ``examples/``:

* the traced graph lowers to the same repetitions, events and ADC samples as
  ``MRzeroCore.Sequence.import_file`` of the ``.seq`` it exports;
* given the numbers the ``.seq`` file holds (the file read back into a graph),
  the lowering gives the importer's PDG signal (rel. L2 < 1e-5: the same
  conventions);
* the traced graph's own signal differs from the importer's only by the file's
  precision (6 significant digits of amplitudes and phases, docs/mr0-lowering.md):
  rel. L2 < 1e-3, measured 5e-6 .. 3e-4.

The 3D scripts (write_MPRAGE.py, write_3Dt1_mprage.py) are left to the script
tests: their size would dominate the run time of the suite.
"""
import contextlib
import io
import os
import warnings

import numpy as np
import pypulseq
import pytest
import torch

import pulseqzero
from pulseqzero.graph import Graph
from tests.conftest import ROOT, load_example, simulate

SCRIPTS = os.path.join(os.path.dirname(pypulseq.__file__), "seq_examples", "scripts")
PYPULSEQ_2D = ["write_epi.py", "write_epi_label.py", "write_epi_se.py", "write_epi_se_rs.py",
               "write_gre.py", "write_gre_label.py", "write_haste.py", "write_radial_gre.py",
               "write_tse.py", "write_ute.py"]


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def _graph(case: str) -> Graph:
    if case in PYPULSEQ_2D:
        return _quiet(pulseqzero.trace_script, os.path.join(SCRIPTS, case), plot=False,
                      write_seq=True)
    if case == "examples/pypulseq/write_2Dt1_mprage.py":
        module = load_example("pypulseq/write_2Dt1_mprage")
        return _quiet(pulseqzero.trace(module.mprage_2d).trace)
    if case == "examples/gre.py":
        return _quiet(pulseqzero.trace(load_example("gre").gre).trace, 12e-3, 5e-3,
                      np.linspace(5.0, 25.0, 32), Nx=32, Ny=32)
    if case == "examples/flair_epi.py":
        return _quiet(pulseqzero.trace(load_example("flair_epi").flair_epi).trace, 1.2,
                      Nx=16, Ny=16, shots=2)
    if case == "examples/tse.py":
        return _quiet(pulseqzero.trace(load_example("tse").tse).trace, 12e-3, 2.0,
                      np.full(8, 150.0), Nx=16, Ny=16, n_echo=8)
    raise KeyError(case)


CASES = PYPULSEQ_2D + ["examples/pypulseq/write_2Dt1_mprage.py", "examples/gre.py",
                       "examples/flair_epi.py", "examples/tse.py"]


@pytest.fixture(scope="module")
def phantom8():
    from pulseqzero.phantom import sim_data
    return sim_data(resolution=8)


def _rel(a, b):
    if float(b.norm()) == 0:
        return float(a.norm())
    return float((a - b).norm() / b.norm())


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES)
def test_lowering_matches_the_importer(case, tmp_path, phantom8):
    import MRzeroCore as mr0
    graph = _graph(case)
    path = tmp_path / "x.seq"
    graph.write(path)
    ref = _quiet(mr0.Sequence.import_file, str(path))
    ours = graph.to_mr0()

    assert len(ours) == len(ref)
    for a, b in zip(ours, ref):
        assert a.event_count == b.event_count
        assert torch.equal(a.adc_usage, b.adc_usage)
        torch.testing.assert_close(a.event_time, b.event_time, rtol=1e-5, atol=1e-8)

    with pulseqzero.mr0_mode():
        back = pulseqzero.pp_impl.Sequence()
        _quiet(back.read, str(path))
        read_back = Graph(back.to_graph())
    ref_signal = _quiet(simulate, ref, phantom8)
    assert _rel(_quiet(simulate, read_back.to_mr0(), phantom8), ref_signal) < 1e-5
    assert _rel(_quiet(simulate, ours, phantom8), ref_signal) < 1e-3
