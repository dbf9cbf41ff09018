"""Atomic file writes: a reader never sees a half-written result."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from mcubench.core.errors import UserError


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# Read once, at import: os.umask can only be read by setting it, which must not race with
# files other threads create.
_UMASK = _read_umask()


def write_bytes_atomic(path: Path | str, data: bytes) -> Path:
    """Writes ``path`` through a temporary sibling and a rename, with the permissions any new
    file gets (0666 less the umask; mkstemp's own 0600 would hide results from other users)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def write_text_atomic(path: Path | str, text: str) -> Path:
    return write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: Path | str, obj: Any) -> Path:
    return write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def check_writable(path: Path | str, what: str) -> Path:
    """Refuses, before any work, a file path that cannot be written: a directory, a path under a
    regular file, or a folder that does not take new files (tried, so it holds for root and for
    read-only file systems alike). Creates nothing."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{what} {path} is a directory", "give a file name")
    ancestor = path.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise UserError(f"cannot write {what} {path}: {ancestor} is not a directory", "choose another path")
    try:
        with tempfile.TemporaryFile(dir=ancestor):
            pass
    except OSError as err:
        raise UserError(f"cannot write {what} {path}: {ancestor} does not take new files ({err.strerror})", "choose another path") from None
    if path.exists() and not os.access(path, os.W_OK):
        raise UserError(f"cannot write {what} {path}: the file is read-only", "choose another path")
    return path
