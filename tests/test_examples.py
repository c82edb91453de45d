"""The examples: each runs in its reduced (``--quick``) mode and writes its pictures; the
sequences they define write the same ``.seq`` under real pypulseq and traced."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import pulseqzero

from tests.conftest import load_example, seq_body

PICTURES = ("images", "loss", "sequence", "kspace")


def assert_pictures(files, names):
    for key in PICTURES:
        path = files[key]
        assert path.suffix == ".png" and path.stat().st_size > 10_000, path
    for key in names:
        assert files[key].exists(), key
    assert files["seq"].read_text().startswith("# Pulseq sequence file")


def test_gre_flip_opt_quick(tmp_path):
    result = load_example("gre_flip_opt").main(tmp_path, quick=True)
    assert_pictures(result["files"], ["flips"])
    assert result["final_loss"] < result["losses"][0]  # towards the sharp target
    assert len(result["losses"]) == 3


def test_flair_epi_quick(tmp_path):
    result = load_example("flair_epi").main(tmp_path, quick=True)
    assert_pictures(result["files"], ["ti"])
    assert result["TI"] > 1.2  # from 1.2 s towards CSF's null (2.88 s)
    assert result["final_loss"] < result["losses"][0]


def test_tse_flip_opt_quick(tmp_path):
    result = load_example("tse_flip_opt").main(tmp_path, quick=True)
    assert_pictures(result["files"], ["flips"])
    assert result["energy"] < 1.0  # below the 180° train's RF energy
    assert result["losses"][-1] < result["losses"][0]


def test_demo_in_small(tmp_path, capsys):
    load_example("demo").main(tmp_path, lines=8, steps=1)
    out = capsys.readouterr().out
    assert "gre(TR: f64, TE: f64, flips: f64[64])" in out  # the IR was printed
    assert (tmp_path / "gre.seq").exists() and (tmp_path / "gre_ir.txt").exists()
    assert f"pictures in {tmp_path.resolve()}" in out


@pytest.mark.parametrize("name, args", [
    ("flair_epi", dict(TI=2.5, Nx=16, Ny=16, shots=1)),
    ("flair_epi", dict(TI=2.5, TR=4.0, Nx=16, Ny=16, shots=2)),
    ("tse", dict(TE=12e-3, TR=2.0, refoc_flips=np.linspace(120.0, 180.0, 4), Nx=8, Ny=8,
                 n_echo=4)),
])
def test_example_sequences_write_what_pypulseq_writes(name, args, tmp_path):
    """The example sequence functions run under real pypulseq, and traced + exported they
    give the same file (comments and signature aside)."""
    fn = getattr(load_example(name), name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fn(**args).write(str(tmp_path / "pypulseq.seq"))  # outside a trace: real pypulseq
        pulseqzero.trace(fn).trace(**args).write(tmp_path / "traced.seq")
    assert seq_body(tmp_path / "traced.seq") == seq_body(tmp_path / "pypulseq.seq")
