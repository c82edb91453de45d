"""Shared fixtures: the example GRE, a small phantom, helpers to trace and compare."""
from __future__ import annotations

import importlib.util
import os
import socket
import sys
import warnings
from pathlib import Path

import hypothesis
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"

os.environ.setdefault("MPLBACKEND", "Agg")

# property tests: the same examples on every CI run (locally: new ones each run)
# a failure prints its example and a blob for @reproduce_failure (replayable anywhere)
hypothesis.settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
hypothesis.settings.register_profile("dev", print_blob=True)
hypothesis.settings.load_profile("dev")
if os.environ.get("CI"):
    hypothesis.settings.load_profile("ci")


def load_example(name: str):
    """Import ``examples/<name>.py`` as a module."""
    path = EXAMPLES / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"example_{name.replace('/', '_')}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def gre_module():
    return load_example("gre")


@pytest.fixture(scope="session")
def gre_args():
    """Small but real GRE: 16 lines, TR 12 ms, TE 5 ms, a varying flip train."""
    return dict(TR=12e-3, TE=5e-3, flips=np.linspace(8.0, 16.0, 16), Nx=16, Ny=16)


@pytest.fixture(scope="session")
def gre_graph(gre_module, gre_args):
    import pulseqzero
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pulseqzero.trace(gre_module.gre).trace(**gre_args)


@pytest.fixture(scope="session")
def phantom16():
    from pulseqzero.phantom import sim_data
    return sim_data(resolution=16)


def simulate(seq, data):
    """PDG signal of an MRzeroCore sequence on SimData."""
    import MRzeroCore as mr0
    graph = mr0.compute_graph(seq, data, 200, 1e-4)
    return mr0.execute_graph(graph, seq, data, print_progress=False)


def rel_l2(a, b) -> float:
    return float((a - b).norm() / b.norm())


def seq_body(path) -> str:
    """A .seq file without its comment lines and signature section."""
    text = Path(path).read_text()
    text = text.split("\n[SIGNATURE]")[0]
    return "\n".join(line for line in text.splitlines() if not line.startswith("#"))


def free_port() -> int:
    """A TCP port on 127.0.0.1 free at the moment (for a torch.distributed rendezvous)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
