"""The examples: each runs in its reduced (``--quick``) mode and writes its pictures; the
sequences they define write the same ``.seq`` under real pypulseq and traced."""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

import pulseqzero

from tests.conftest import free_port, load_example, seq_body

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


def _distributed_rank(rank, port, folder):
    """One of two processes running the example as torchrun starts it (its environment
    variables), gloo on the CPU."""
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE="2",
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    example = load_example("distributed_optimize")
    try:
        result = example.main(Path(folder) / "out", quick=True)
        torch.save({k: result[k] for k in ("losses", "rank", "ranks", "files")},
                   Path(folder) / f"rank{rank}.pt")
    finally:
        torch.distributed.destroy_process_group()


def test_distributed_optimize_quick_in_one_and_two_processes(tmp_path):
    """Plain ``python``: one process. Under torchrun's variables: two gloo processes that
    reach the same losses, and only rank 0 writes."""
    single = load_example("distributed_optimize").main(tmp_path / "single", quick=True)
    assert set(single["files"]) == {"images", "loss", "seq"}
    assert single["ranks"] == 1 and single["losses"][-1] < single["losses"][0]
    # fork: the children start with this process's imports (see tests/simulate/
    # test_distributed.py)
    torch.multiprocessing.start_processes(_distributed_rank, args=(free_port(), str(tmp_path)),
                                          nprocs=2, start_method="fork")
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=False) for r in (0, 1)]
    for rank, got in enumerate(ranks):
        assert (got["rank"], got["ranks"]) == (rank, 2)
        assert np.allclose(got["losses"], single["losses"], rtol=1e-6, atol=0)
    assert set(ranks[0]["files"]) == {"images", "loss", "seq"} and ranks[1]["files"] == {}
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "distributed_images.png", "distributed_loss.png", "distributed_optimised.seq"]


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
