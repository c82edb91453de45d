"""pypulseq 1.4.2's own unit tests of the event makers, run with ``import pypulseq``
giving ``pulseqzero.pp``: the events must be what pypulseq's tests expect, down to
``isinstance(event, SimpleNamespace)`` (issue 18 #13)."""
import subprocess
import sys
from pathlib import Path

import pypulseq
import pytest

TESTS = Path(pypulseq.__file__).parent / "tests"
FILES = ["test_make_trapezoid.py", "test_make_block_pulse.py", "test_make_gauss_pulse.py",
         "test_calc_duration.py", "test_make_extended_trapezoid_area.py"]


@pytest.mark.skipif(not (TESTS / FILES[0]).exists(), reason="this pypulseq ships no tests")
def test_pypulseqs_event_tests_pass_on_pulseqzero_pp(tmp_path):
    (tmp_path / "none.ini").write_text("[pytest]\n")  # not our configuration
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--import-mode=importlib",
         "-p", "tests.conformance.pypulseq_is_pulseqzero", "--rootdir", str(tmp_path),
         "-c", str(tmp_path / "none.ini"), *(str(TESTS / f) for f in FILES)],
        cwd=Path(__file__).parents[2], capture_output=True, text=True, timeout=600)
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else result.stderr
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert " passed" in summary and "failed" not in summary, summary
