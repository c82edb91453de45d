"""``python -m pulseqzero``: trace / export / simulate / plot on examples/gre.py."""
from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest

from pulseqzero.__main__ import CliError, main, parse_value

from tests.conftest import EXAMPLES, ROOT, load_example, seq_body

GRE = str(EXAMPLES / "gre.py")
ARGS = ["-p", "TR=12e-3", "-p", "TE=5e-3", "-p", "flips=np.linspace(5, 15, 8)", "-p", "Nx=8",
        "-p", "Ny=8"]


def test_help_explains_the_commands():
    result = subprocess.run([sys.executable, "-m", "pulseqzero", "--help"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0
    for word in ("trace", "export", "simulate", "SCRIPT", "-p NAME=VALUE", "examples/gre.py"):
        assert word in result.stdout


def test_trace_prints_the_graph(capsys):
    assert main(["trace", GRE, *ARGS]) == 0
    out = capsys.readouterr().out
    assert out.startswith("gre(TR: f64, TE: f64, flips: f64[8])")
    assert "8 x [rf:sinc gz:trap" in out
    assert main(["trace", GRE, "--fn", "gre", *ARGS, "--values"]) == 0
    assert "%" in capsys.readouterr().out.split("blocks")[-1]  # the value listing follows


def test_export_writes_what_pypulseq_writes(tmp_path, capsys):
    out = tmp_path / "gre.seq"
    assert main(["export", GRE, *ARGS, "-o", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    gre = load_example("gre")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gre.gre(12e-3, 5e-3, np.linspace(5, 15, 8), Nx=8, Ny=8).write(str(tmp_path / "pp.seq"))
    assert seq_body(out) == seq_body(tmp_path / "pp.seq")


def test_export_into_a_folder_or_without_suffix_prints_the_file_it_wrote(tmp_path, capsys):
    assert main(["export", GRE, *ARGS, "-o", str(tmp_path)]) == 0
    assert f"wrote {tmp_path / 'gre.seq'} " in capsys.readouterr().out
    assert (tmp_path / "gre.seq").is_file()
    assert main(["export", GRE, *ARGS, "-o", str(tmp_path / "mine")]) == 0
    assert f"wrote {tmp_path / 'mine.seq'} " in capsys.readouterr().out
    assert sorted(f.name for f in tmp_path.iterdir()) == ["gre.seq", "mine.seq"]


@pytest.mark.parametrize("example", ["gre", "tse", "flair_epi"])
def test_the_examples_run_without_values(example, capsys):
    """(issue 18 #14) every argument of the shipped sequence functions has a default."""
    assert main(["trace", str(EXAMPLES / f"{example}.py")]) == 0
    assert capsys.readouterr().out.startswith(f"{example}(")


def test_simulate_and_plot_write_pictures(tmp_path):
    image = tmp_path / "gre.png"
    assert main(["simulate", GRE, *ARGS, "-o", str(image)]) == 0
    assert image.stat().st_size > 5_000
    reference = tmp_path / "gre_mrzerocore.png"  # MRzeroCore's main pass, on request
    assert main(["simulate", GRE, *ARGS, "--simulator", "mrzerocore", "-o", str(reference)]) == 0
    assert reference.stat().st_size > 5_000
    diagram = tmp_path / "diagram.png"
    assert main(["plot", GRE, *ARGS, "--time", "0", "0.024", "-o", str(diagram)]) == 0
    assert diagram.stat().st_size > 10_000


def test_mistakes_get_a_message_not_a_traceback(tmp_path, capsys):
    script = tmp_path / "fid.py"
    script.write_text("import pulseqzero\npp = pulseqzero.pp_impl\n\n\n"
                      "def fid(TR, TE, flip=0.5):\n"
                      "    seq = pp.Sequence()\n"
                      "    assert TE < TR, 'TE is too long'\n"
                      "    seq.add_block(pp.make_delay(TE))\n"
                      "    return seq\n")
    assert main(["trace", str(script), "-p", "TR=12e-3"]) == 2
    err = capsys.readouterr().err
    assert "needs values for TE" in err and "-p TE=..." in err
    # the script's own error: one line, at the script's line
    assert main(["trace", str(script), "-p", "TR=12e-3", "-p", "TE=13e-3"]) == 1
    err = capsys.readouterr().err
    assert "fid.py:7: AssertionError: TE is too long" in err and "Traceback" not in err
    broken = tmp_path / "broken.py"
    broken.write_text("def f(:\n    pass\n")
    assert main(["trace", str(broken)]) == 2
    assert "broken.py:1: SyntaxError: invalid syntax" in capsys.readouterr().err
    assert main(["export", GRE, *ARGS, "-o", str(tmp_path / "no" / "such" / "gre.seq")]) == 1
    err = capsys.readouterr().err
    assert f"cannot write {tmp_path / 'no' / 'such' / 'gre.seq'}" in err and "Traceback" not in err
    assert main(["trace", GRE, *ARGS, "--fn", "nope"]) == 2
    assert "defines no function 'nope'" in capsys.readouterr().err
    assert main(["trace", str(tmp_path / "missing.py")]) == 2
    assert main(["trace", GRE, *ARGS, "-p", "TI=1.0"]) == 2
    assert "no argument(s) ['TI']" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["export", GRE])  # -o is required: argparse explains


def test_values():
    assert parse_value("64") == 64 and isinstance(parse_value("64"), int)
    assert parse_value("12e-3") == 12e-3
    np.testing.assert_array_equal(parse_value("[1, 2]"), np.array([1.0, 2.0]))
    np.testing.assert_array_equal(parse_value("np.full(3, 10.0)"), np.full(3, 10.0))
    assert parse_value("fast") == "fast"
    with pytest.raises(CliError):
        parse_value("np.full(")
