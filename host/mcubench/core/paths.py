"""Where the project's data lives (boards/, templates/, firmware/, results).

The package is installed in editable mode from a checkout, so the checkout is two levels
above this file; ``MCUBENCH_HOME`` points elsewhere for other layouts.
"""

from __future__ import annotations

import os
from pathlib import Path


def project_root() -> Path:
    env = os.environ.get("MCUBENCH_HOME")
    if env:
        return Path(env).resolve()
    return Path(__file__).resolve().parents[3]


def boards_dir() -> Path:
    return project_root() / "boards"


def templates_dir() -> Path:
    return project_root() / "templates"


def firmware_dir() -> Path:
    return project_root() / "firmware"


def work_dir() -> Path:
    """Scratch space for rendered projects and builds (ignored by git)."""
    env = os.environ.get("MCUBENCH_WORK")
    return Path(env).resolve() if env else project_root() / "firmware" / "build"


def results_dir() -> Path:
    env = os.environ.get("MCUBENCH_RESULTS")
    return Path(env).resolve() if env else project_root() / "results"
