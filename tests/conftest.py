"""Shared test set-up: results go to a temporary directory; builds are cached in the work dir
(content-addressed, so a cached image is always the image the sources describe)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session", autouse=True)
def _isolated_results(tmp_path_factory):
    results = tmp_path_factory.mktemp("results")
    old = os.environ.get("MCUBENCH_RESULTS")
    os.environ["MCUBENCH_RESULTS"] = str(results)
    yield results
    if old is None:
        os.environ.pop("MCUBENCH_RESULTS", None)
    else:
        os.environ["MCUBENCH_RESULTS"] = old


@pytest.fixture(scope="session")
def tflm_dir() -> Path:
    value = os.environ.get("MCUBENCH_TFLM_DIR")
    if not value:
        pytest.skip("TFLM sources not available: set MCUBENCH_TFLM_DIR to a tflite-micro-arduino-examples checkout")
    return Path(value)
