"""Helpers the tests share (import as `from helpers import ...`; tests/ is on pythonpath)."""

from __future__ import annotations

import json
import os
import pty
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
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


def require_arduino_platform() -> Path:
    """The active PlatformIO core dir, when it has the official nordicnrf52 platform and the
    Arduino mbed core that build the Nano 33 BLE images; skips otherwise."""
    from mcubench.core.pio_offline import pio_core_dir

    core = pio_core_dir()
    missing = [p for p in ("platforms/nordicnrf52/platform.json", "packages/framework-arduino-mbed") if not (core / p).exists()]
    if missing:
        pytest.skip(
            f"PlatformIO's nordicnrf52 platform and Arduino mbed core are not installed in {core} (missing {', '.join(missing)}): "
            "CI unpacks ../shared/fixtures/platformio-nano33ble.tar.xz and sets PLATFORMIO_CORE_DIR; "
            "with internet, pio pkg install -g -p nordicnrf52"
        )
    return core


def run_on_a_terminal(*args: str, env: dict) -> str:
    """Runs the CLI with a pseudo-terminal as stdout and stderr; returns what it showed."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "mcubench.cli", *args], stdin=subprocess.DEVNULL,
                            stdout=follower, stderr=follower, env=dict(os.environ, **env))
    os.close(follower)
    shown = bytearray()
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed: the command ended
            break
        if not chunk:
            break
        shown += chunk
    os.close(leader)
    assert proc.wait(timeout=600) == 0, shown.decode(errors="replace")[-3000:]
    return shown.decode(errors="replace")


def validate_random_int8_inputs(model_path: Path, shape: tuple[int, ...], scale: float, zero_point: int, work: Path,
                                samples: int = 30, seed: int = 0) -> dict:
    """Random int8 inputs over the whole range (float inputs that quantize back to exactly
    them), uploaded to one AOT build on the emulated board with `mcubench validate`: every
    sample's output bytes must equal the host TFLM interpreter's. Returns validate's JSON."""
    q = np.random.default_rng(seed).integers(-128, 128, (samples, *shape))
    data = work / "random.npz"
    np.savez(data, x_test=((q - zero_point) * scale).astype(np.float32))
    proc = mcubench("validate", str(model_path), "--data", str(data), "--runtime", "aot", "--samples", str(samples),
                    "--timeout", "600", "--json", timeout=1800)
    assert proc.returncode == 0, f"validate failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    doc = json.loads(proc.stdout)
    assert doc["samples"] == samples and doc["runtime"] == "aot"
    assert doc["bit_exact"] == samples, [s for s in doc["per_sample"] if not s["bit_exact"]]
    return doc
