"""``ir.files.atomic_write``: the .seq export and graph saves write through symlinks, keep
the file's mode, and their errors name the user's path (issue 18 #10)."""
from __future__ import annotations

import os
import stat

import pytest

from pulseqzero.ir.files import atomic_write


def test_a_symlink_is_written_through_and_the_mode_is_kept(tmp_path):
    target = tmp_path / "real.txt"
    target.write_text("old")
    os.chmod(target, 0o600)
    link = tmp_path / "link.txt"
    link.symlink_to(target)
    atomic_write(link, lambda tmp: tmp.write_text("new"))
    assert link.is_symlink() and target.read_text() == "new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.txt", "real.txt"]


def test_a_failed_write_leaves_the_old_file_and_names_the_users_path(tmp_path):
    path = tmp_path / "keep.txt"
    path.write_text("old")

    def fail(tmp):
        tmp.write_text("half")
        raise OSError(28, "No space left on device")
    with pytest.raises(OSError, match="keep.txt") as info:
        atomic_write(path, fail)
    assert ".tmp" not in str(info.value)
    assert path.read_text() == "old" and len(list(tmp_path.iterdir())) == 1
    with pytest.raises(FileNotFoundError, match="cannot write .*missing/x.txt"):
        atomic_write(tmp_path / "missing" / "x.txt", lambda tmp: tmp.write_text("x"))


def test_the_seq_export_writes_through_a_symlink(gre_graph, tmp_path):
    target = tmp_path / "scanner" / "gre.seq"
    target.parent.mkdir()
    target.write_text("an old sequence")
    os.chmod(target, 0o640)
    link = tmp_path / "gre.seq"
    link.symlink_to(target)
    gre_graph.write(link)
    assert link.is_symlink()
    assert target.read_text().startswith("# Pulseq sequence file")
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
