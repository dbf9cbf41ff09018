"""Who built this: tool version and git revision, stamped into images and results."""

from __future__ import annotations

import functools
import subprocess

from mcubench import __version__
from mcubench.core.paths import project_root


@functools.lru_cache(maxsize=1)
def git_hash() -> str | None:
    """Short commit of the mcubench checkout, with `+dirty` when it has local changes."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"], cwd=project_root(), capture_output=True, text=True, timeout=10
        )
        if head.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=project_root(), capture_output=True, text=True, timeout=10,
        )
        return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def tool_version() -> str:
    return __version__
