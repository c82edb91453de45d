"""Our own scripts written against the PyPulseq 1.5 API (``tests/conformance/scripts15``),
traced with ``pulseqzero.trace_script`` and exported through pypulseq 1.5: the same ``.seq``
as pypulseq 1.5 writes running the script (comments and signature aside).

These scripts call what only 1.5 has (ppm offsets, ADC phase modulation, oversampled
gradients, ``calc_adc_segments``): under pypulseq 1.4.2 they cannot run at all, and
``.ci`` runs this file in the 1.5 environment.
"""
from __future__ import annotations

import contextlib
import os
import runpy
import warnings
from pathlib import Path

import pytest

import pulseqzero
from pulseqzero.pp.version import API_15
from tests.conftest import seq_body

SCRIPT_DIR = Path(__file__).parent / "scripts15"
SCRIPTS = sorted(p.stem for p in SCRIPT_DIR.glob("write_*.py"))

pytestmark = pytest.mark.skipif(not API_15, reason="1.5-API scripts need pypulseq 1.5")


@contextlib.contextmanager
def _in(directory):
    cwd = os.getcwd()
    os.chdir(directory)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        os.chdir(cwd)


@pytest.mark.parametrize("name", SCRIPTS)
def test_traced_export_is_pypulseq_15s_file(name, tmp_path):
    path = SCRIPT_DIR / f"{name}.py"
    with _in(tmp_path):
        runpy.run_path(str(path))["main"](write_seq=True, seq_filename="reference.seq")
        graph = pulseqzero.trace_script(path, write_seq=False)
        # pypulseq 1.5.0.post1's remove_duplicates fails on oversampled gradients
        graph.write("traced.seq", remove_duplicates=False)
    reference = seq_body(tmp_path / "reference.seq")
    assert "[RF]" in reference and "minor 5" in reference
    assert seq_body(tmp_path / "traced.seq") == reference
    assert graph.ir.api == "1.5"


def test_ppm_offsets_are_not_simulated_silently(tmp_path):
    """to_mr0 refuses what it does not lower yet (ppm offsets, phase modulation), naming the
    script line and the alternative."""
    with _in(tmp_path):
        graph = pulseqzero.trace_script(SCRIPT_DIR / "write_gre_ppm.py", write_seq=False)
    with pytest.raises(NotImplementedError, match=r"freq_ppm.*import_file"):
        graph.to_mr0()


def test_a_graph_exports_only_through_the_api_it_was_traced_with(tmp_path):
    import attrs
    with _in(tmp_path):
        graph = pulseqzero.trace_script(SCRIPT_DIR / "write_gre_ppm.py", write_seq=False)
    older = pulseqzero.Graph(attrs.evolve(graph.ir, api="1.4"))
    with pytest.raises(RuntimeError, match="traced with the PyPulseq 1.4 API"):
        older.write(tmp_path / "x.seq")
