"""The 13 example scripts shipped with pypulseq 1.4.2, unmodified, traced with
``pulseqzero.trace_script`` and compared with the same scripts run by pypulseq:

* the 11 that pypulseq writes give the same ``.seq`` (comments and signature aside);
* the two module-level MPRAGE scripts, which pypulseq's own ``write`` refuses (a block off
  the duration raster), are refused by the export too, naming the same block and the
  script line that added it;
* ``graph.to_mr0()`` builds for all 13;
* ``check_timing()`` gives pypulseq's verdict and report.

Each script is run once by pypulseq and traced once (cached for the tests of a script).
"""
from __future__ import annotations

import contextlib
import io
import os
import re
import runpy
import warnings
from pathlib import Path

import pypulseq
import pytest
from pypulseq.Sequence.sequence import Sequence as RealSequence

import pulseqzero
from pulseqzero.backends.pypulseq import BlockOffRaster
from pulseqzero.pp.version import API_15
from pulseqzero.scripts import _trace_script
from tests.conftest import seq_body

SCRIPT_DIR = Path(pypulseq.__file__).parent / "seq_examples" / "scripts"
SCRIPTS = sorted(p.stem for p in SCRIPT_DIR.glob("write_*.py"))
#: module-level scripts whose block durations are off the raster: pypulseq's write fails
REFUSED = {"write_2Dt1_mprage", "write_3Dt1_mprage"} & set(SCRIPTS)


def _kwargs(name: str) -> dict:
    source = (SCRIPT_DIR / f"{name}.py").read_text()
    return dict(plot=False, write_seq=True) if "def main(" in source else {}


@contextlib.contextmanager
def _quiet(directory):
    """Scripts print reports and may write files: run them in a scratch directory."""
    cwd = os.getcwd()
    os.chdir(directory)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        os.chdir(cwd)


_REFERENCE: dict = {}
_TRACED: dict = {}


def reference(name: str, directory: Path):
    """(pypulseq Sequence, written .seq path, the error pypulseq's write raised or None)."""
    if name not in _REFERENCE:
        captured = []
        original = RealSequence.write

        def write(self, file_name, *args, **kwargs):
            path = directory / f"{name}_pypulseq.seq"
            try:
                original(self, str(path), *args, **kwargs)
                captured.append((self, path, None))
            except AssertionError as e:  # the off-raster MPRAGE blocks
                captured.append((self, path, e))

        RealSequence.write = write
        try:
            with _quiet(directory):
                namespace = runpy.run_path(str(SCRIPT_DIR / f"{name}.py"), run_name="reference")
                if _kwargs(name):
                    namespace["main"](**_kwargs(name))
        finally:
            RealSequence.write = original
        assert len(captured) == 1, f"{name} wrote {len(captured)} sequences"
        _REFERENCE[name] = captured[0]
    return _REFERENCE[name]


def traced(name: str, directory: Path):
    """(graph, recording Sequence) of the script traced unmodified."""
    if name not in _TRACED:
        with _quiet(directory):
            _TRACED[name] = _trace_script(SCRIPT_DIR / f"{name}.py", "main", _kwargs(name))
    return _TRACED[name]


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    return tmp_path_factory.mktemp("scripts")


def test_pypulseq_ships_the_13_example_scripts():
    if API_15:  # the 1.5 wheel ships no example scripts: our own 1.5 scripts are run instead
        assert SCRIPTS == []  # (test_pypulseq15_scripts.py)
        assert sorted((Path(__file__).parent / "scripts15").glob("write_*.py"))
        return
    assert len(SCRIPTS) == 13
    assert REFUSED <= set(SCRIPTS)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(set(SCRIPTS) - REFUSED))
def test_exported_seq_file_is_pypulseq_s(name, scratch):
    _, ref_path, error = reference(name, scratch)
    assert error is None
    graph, _ = traced(name, scratch)
    ours = scratch / f"{name}_pulseqzero.seq"
    graph.write(ours)
    assert seq_body(ours) == seq_body(ref_path)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(set(SCRIPTS) - REFUSED))
def test_reading_pypulseq_s_file_and_writing_it_again_gives_the_same_file(name, scratch):
    from pulseqzero.pp import Sequence
    from pulseqzero.tracer import TraceContext
    _, ref_path, _ = reference(name, scratch)
    with TraceContext("read"):
        seq = Sequence()
        seq.read(ref_path)
        graph = pulseqzero.Graph(seq.to_graph())
    again = scratch / f"{name}_read_again.seq"
    graph.write(again)
    assert seq_body(again) == seq_body(ref_path)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(REFUSED))
def test_off_raster_scripts_are_refused_naming_block_and_line(name, scratch):
    _, partial, error = reference(name, scratch)
    assert isinstance(error, AssertionError)
    # pypulseq wrote the blocks before the one it refused
    blocks = partial.read_text().split("[BLOCKS]\n")[1].strip().splitlines()
    refused_block = len(blocks) + 1
    graph, _ = traced(name, scratch)
    target = scratch / f"{name}_pulseqzero.seq"
    with pytest.raises(BlockOffRaster) as info:
        graph.write(target)
    message = str(info.value)
    assert f"block {refused_block} lasts" in message
    line = int(re.search(rf"{name}\.py:(\d+)", message).group(1))
    source = (SCRIPT_DIR / f"{name}.py").read_text().splitlines()
    assert "add_block" in source[line - 1]
    assert not target.exists()  # atomic: nothing half-written


@pytest.mark.slow
@pytest.mark.parametrize("name", SCRIPTS)
def test_check_timing_gives_pypulseq_s_verdict_and_report(name, scratch):
    real_seq = reference(name, scratch)[0]
    ok, report = real_seq.check_timing()
    _, seq = traced(name, scratch)
    our_ok, our_report = seq.check_timing()
    assert our_ok == ok
    assert list(our_report) == report
    assert seq.get_definition("TotalDuration") == real_seq.get_definition("TotalDuration")


@pytest.mark.slow
@pytest.mark.parametrize("name", SCRIPTS)
def test_mr0_sequence_builds(name, scratch):
    """Every ADC sample is simulated; where pypulseq writes a file, MRzeroCore's own
    importer of that file gives the same repetitions and durations."""
    import MRzeroCore as mr0
    graph, _ = traced(name, scratch)
    ours = graph.to_mr0()
    n_samples = sum(e.num_samples for b in graph.blocks for e in b.events if e.kind == "adc")
    assert sum(int((rep.adc_usage > 0).sum()) for rep in ours) == n_samples
    if name in REFUSED:
        return
    imported = mr0.Sequence.import_file(str(reference(name, scratch)[1]))
    assert len(ours) == len(imported)
    for a, b in zip(ours, imported):
        assert a.event_count == b.event_count
        # repetitions start at RF centres: the importer finds them in the file's quantised
        # shapes (the adiabatic pulse of write_MPRAGE.py: a few us off)
        assert float(a.event_time.sum()) == pytest.approx(float(b.event_time.sum()), abs=1e-5)


def test_a_module_body_script_and_an_entry_function(tmp_path):
    body = tmp_path / "body.py"
    body.write_text("import pypulseq as pp\nseq = pp.Sequence()\n"
                    "seq.add_block(pp.make_delay(1e-3))\nseq.write('x.seq')\n")
    with pytest.warns(pulseqzero.TracingWarning, match="writes nothing"):
        graph = pulseqzero.trace_script(body)
    assert len(graph.blocks) == 1 and not (tmp_path / "x.seq").exists()
    entry = tmp_path / "entry.py"
    entry.write_text("from pypulseq import Sequence, make_delay\n"
                     "def run(TE, n: int = 2):\n    seq = Sequence()\n"
                     "    for _ in range(n):\n        seq.add_block(make_delay(TE))\n"
                     "    return seq\n")
    graph = pulseqzero.trace_script(entry, entry="run", TE=2e-3, n=3)
    assert len(graph.blocks) == 3 and graph.ir.param_names == ("TE",)
    with pytest.raises(TypeError, match="module body"):
        pulseqzero.trace_script(body, TE=1.0)


def test_several_sequences_and_none_returned_is_an_error(tmp_path):
    script = tmp_path / "two.py"
    script.write_text("import pypulseq as pp\na = pp.Sequence()\nb = pp.Sequence()\n")
    with pytest.raises(ValueError, match="built 2 sequences"):
        pulseqzero.trace_script(script)


# ---------------------------------------------------------------- as_pypulseq


def test_as_pypulseq_gives_stand_ins_and_restores_pypulseq():
    import sys
    from types import SimpleNamespace

    import pulseqzero.pp as zpp
    from pulseqzero.backends import pypulseq as backend
    from pulseqzero.tracer import TraceContext

    real = sys.modules["pypulseq"]
    with pulseqzero.as_pypulseq():
        import pypulseq as pp
        from pypulseq.add_ramps import add_ramps  # a submodule first imported inside
        from pypulseq.make_trapezoid import make_trapezoid
        from pypulseq.opts import Opts
        from pypulseq.Sequence.sequence import Sequence
        assert pp is not real and pp.Sequence is Sequence and pp.opts.Opts is Opts
        assert pp.eps == real.eps and callable(add_ramps)
        # outside a trace: pypulseq itself
        seq = pp.Sequence()
        assert type(seq) is real.Sequence and isinstance(seq, Sequence)
        assert type(make_trapezoid("x", area=100)) is SimpleNamespace
        assert type(Opts(max_grad=30, grad_unit="mT/m")) is real.Opts
        assert Opts.default is real.Opts.default
        # inside a trace: the recording implementation
        with TraceContext("stand-ins"):
            ours = Sequence()
            assert isinstance(ours, zpp.Sequence) and isinstance(ours, pp.Sequence)
            ours.add_block(make_trapezoid("x", area=100), pp.make_delay(1e-3))
            assert pulseqzero.pp_impl.make_delay is zpp.make_delay
            exported = ours.to_pypulseq()  # the backend still has the real pypulseq
        assert backend.pp is real and type(exported) is real.Sequence
        with pulseqzero.as_pypulseq():  # nesting is fine
            import pypulseq as again
            assert again is pp
    assert sys.modules["pypulseq"] is real
    assert sys.modules["pypulseq.add_ramps"].__name__ == "pypulseq.add_ramps"
    assert not isinstance(sys.modules["pypulseq.add_ramps"], type(pp))
    import pypulseq
    assert pypulseq is real
    # a stand-in imported inside keeps working afterwards, with pypulseq
    assert type(pp.make_delay(1e-3)) is SimpleNamespace


def test_a_name_without_recording_says_so(tmp_path, monkeypatch):
    import pulseqzero.pp as zpp
    script = tmp_path / "trig.py"
    script.write_text("import pypulseq as pp\nseq = pp.Sequence()\n"
                      "seq.add_block(pp.make_trigger('physio1'))\n")
    monkeypatch.delattr(zpp, "make_trigger")  # as if pulseqzero had no recording of it
    with pytest.raises(NotImplementedError, match="make_trigger.*api-support"):
        pulseqzero.trace_script(script)
