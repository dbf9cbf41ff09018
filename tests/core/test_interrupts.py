"""Ctrl-C during bench (issue #15): whether it lands in the PlatformIO build or in the QEMU run,
the command prints one line, exits 130, and leaves no process behind. (The sweep's own test is
in tests/sweep/test_sweep.py.)"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psutil
import pytest

from helpers import require_tool

pytestmark = pytest.mark.slow


def environment_of(process: psutil.Process) -> dict:
    try:
        return process.environ()
    except psutil.Error:
        return {}


def processes_marked(work: str) -> list[psutil.Process]:
    """Every process started for this test's bench (they inherit its MCUBENCH_WORK)."""
    return [p for p in psutil.process_iter() if environment_of(p).get("MCUBENCH_WORK") == work]


def wait_for_descendant(pid: int, needle: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for child in psutil.Process(pid).children(recursive=True):
            try:
                if needle in " ".join(child.cmdline()):
                    return
            except psutil.NoSuchProcess:
                pass
        time.sleep(0.05)
    raise AssertionError(f"no `{needle}` process appeared")


@pytest.mark.parametrize("phase", ["scons", "qemu-system-arm"])  # PlatformIO's build, then the emulator run
def test_ctrl_c_ends_bench_and_everything_it_started(tmp_path, phase):
    require_tool("qemu-system-arm")
    work = str(tmp_path / "work")
    # A distinct n (a new build) and many runs (a long emulator run) leave time to interrupt each phase.
    proc = subprocess.Popen(
        [sys.executable, "-m", "mcubench.cli", "bench", "--param", "n=4097", "--runs", "200"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        env=dict(os.environ, MCUBENCH_WORK=work, MCUBENCH_RESULTS=str(tmp_path / "results")),
    )
    wait_for_descendant(proc.pid, phase)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.strip() == "mcubench: interrupted"
    deadline = time.monotonic() + 10
    while processes_marked(work) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert processes_marked(work) == []
