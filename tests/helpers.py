"""Helpers the tests share (import as `from helpers import ...`; tests/ is on pythonpath)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest


def mcubench(*args: str, check: bool = False, timeout: float = 600, env: dict | None = None) -> subprocess.CompletedProcess:
    """Runs the real CLI in a subprocess, as a user would."""
    full_env = dict(os.environ, **(env or {}))
    proc = subprocess.run(
        [sys.executable, "-m", "mcubench.cli", *args], capture_output=True, text=True, timeout=timeout, env=full_env
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"mcubench {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if not path:
        pytest.skip(f"{name} is not on PATH (run bash host/dev.sh test, which installs it)")
    return path
