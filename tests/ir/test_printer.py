"""The printed IR: params first, blocks folded, fits a screen."""
import numpy as np

from pulseqzero.ir.printer import fold, format_values


def test_fold_finds_repeated_patterns():
    keys = ["a"] + ["b", "c", "d"] * 5 + ["e", "e"]
    assert fold(keys) == [(0, 1, 1), (1, 3, 5), (16, 1, 2)]


def test_printed_gre_fits_one_screen_and_names_params(gre_module):
    import pulseqzero
    graph = pulseqzero.trace(gre_module.gre).trace(12e-3, 5e-3, np.full(64, 10.0))
    text = str(graph)
    lines = text.splitlines()
    assert len(lines) <= 40 and max(map(len, lines)) <= 100
    assert lines[0] == "gre(TR: f64, TE: f64, flips: f64[64])"
    assert "64 x [rf:sinc gz:trap" in text
    assert "gre.py:" in text  # guards name the script line
    assert "TE" in format_values(graph.ir)
