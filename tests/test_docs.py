"""The docs stay true: the getting-started code runs, generated tables are current,
the import rule of docs/architecture.md holds, and links point to files that exist."""
from __future__ import annotations

import ast
import importlib.util
import os
import re
import warnings

import pytest

from tests.conftest import ROOT

DOCS = ROOT / "docs"


def python_blocks(path):
    return re.findall(r"```python\n(.*?)```", path.read_text(), re.S)


def test_getting_started_code_runs(tmp_path, monkeypatch, capsys):
    """Every ```python block of getting-started.md, in order, in one namespace."""
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "getting_started"}
    blocks = python_blocks(DOCS / "getting-started.md")
    assert len(blocks) >= 6
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i, code in enumerate(blocks):
            exec(compile(code, f"getting-started.md block {i + 1}", "exec"), namespace)
    out = capsys.readouterr().out
    assert "gre(TR: f64, TE: f64, flip: f64)" in out  # what the text says the printout shows
    assert "# Pulseq sequence file" in out
    for name in ("gre.seq", "gre_te6.seq", "gre_diagram.png", "gre_kspace.png"):
        assert (tmp_path / name).exists(), name
    losses = namespace["pulseqzero"].Optimization.of(
        namespace["gre"], namespace["TR"], namespace["TE"], namespace["flip"]).losses
    assert losses[-1] < losses[0]


def test_generated_tables_are_current(capsys):
    """docs/generate.py --check: the op and event tables of ir.md match the code."""
    spec = importlib.util.spec_from_file_location("docs_generate", DOCS / "generate.py")
    generate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generate)
    assert generate.main(["--check"]) == 0, capsys.readouterr().out


def _imports(path):
    """(level, module) of every import statement in a file."""
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield 0, alias.name
        elif isinstance(node, ast.ImportFrom):
            yield node.level, node.module or ""


@pytest.mark.parametrize("folder", ["ir", "backends"])
def test_the_import_rule(folder):
    """ir imports nothing of pulseqzero; backends import ir only (docs/architecture.md)."""
    for path in sorted((ROOT / folder).rglob("*.py")):
        for level, module in _imports(path):
            where = f"{path.relative_to(ROOT)}: import {'.' * level}{module}"
            assert not module.startswith(("pulseqzero", "backends")) or \
                module.startswith("pulseqzero.ir"), where
            if folder == "ir":
                assert level <= 1 and not module.startswith("ir."), where
            else:
                assert level <= 1 or module == "ir" or module.startswith("ir."), where


def test_links_between_docs_exist():
    others = {"api-support.md"}  # written by another part of the project; linked ahead
    for path in sorted(DOCS.glob("*.md")):
        for target in re.findall(r"\]\(([^)#]+\.md)\)", path.read_text()):
            if target in others and not (DOCS / target).exists():
                continue
            assert (DOCS / target).exists(), f"{path.name} links to missing {target}"
        for target in re.findall(r"\]\((\.\./[^)#]+)\)", path.read_text()):
            assert os.path.exists(DOCS / target), f"{path.name} links to missing {target}"
