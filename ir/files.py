"""Writing a file so that nothing is lost: atomically, through symlinks, keeping its mode."""
from __future__ import annotations

import os
import stat
import uuid
from pathlib import Path

__all__ = ["atomic_write"]


def atomic_write(path, write, suffix: str = ".tmp"):
    """``write(tmp)`` into a hidden file beside ``path``'s target, then replace the target.

    A failed write leaves the old file as it was (or no file). A symlink is written
    through (the link stays, its target gets the new content), an existing file keeps
    its permission bits, and an error names ``path``, not the hidden file. Returns what
    ``write`` returns.
    """
    path = Path(path)
    target = Path(os.path.realpath(path))
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}{suffix}")
    try:
        result = write(tmp)
        if target.exists():
            os.chmod(tmp, stat.S_IMODE(target.stat().st_mode))
        os.replace(tmp, target)
        return result
    except OSError as e:
        # the same error (PermissionError, ...), about the user's path
        raise OSError(e.errno, f"cannot write {path}: {e.strerror or e}", str(path)) from None
    finally:
        if tmp.exists():
            tmp.unlink()
