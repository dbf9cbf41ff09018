"""Issue 6 with Renode itself: run wherever `renode` and `renode-test` are on PATH (Renode
1.16; docs/renode.md), skipped elsewhere with that reason. The same code paths run in CI here
up to starting Renode (test_nrf52840_image.py, test_renode_scripts.py)."""

from __future__ import annotations

import json

import pytest
from helpers import mcubench, require_tool

from mcubench.targets.renode import Renode

pytestmark = [pytest.mark.slow, pytest.mark.renode]


@pytest.fixture(autouse=True)
def _renode():
    renode = Renode()
    if not renode.executable():
        pytest.skip("Renode is not on PATH (`renode`; install Renode 1.16, see docs/renode.md)")
    require_tool("arm-none-eabi-gcc")


def test_generated_robot_suite_passes_under_renode_test(tmp_path):
    if not Renode().test_executable():
        pytest.skip("renode-test is not on PATH (it ships with Renode's Linux packages)")
    proc = mcubench("emulate", "--emulator", "renode", "--robot", "--out", str(tmp_path), timeout=1200)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (tmp_path / "robot-results").is_dir()


def test_socket_session_reports_virtual_cycles(tmp_path):
    proc = mcubench("emulate", "--emulator", "renode", "--out", str(tmp_path), "--runs", "3", timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "virtual_cycles (renode-virtual-time) over 3 runs" in proc.stdout


def test_bench_on_the_emulated_nano(tmp_path):
    proc = mcubench("bench", "--workload", "dot_int8", "--board", "nano33ble", "--emulator", "renode", "--json", timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(proc.stdout)
    assert result["latency"]["unit"] == "virtual_cycles"
    assert result["latency"]["source"] == "renode-virtual-time"
