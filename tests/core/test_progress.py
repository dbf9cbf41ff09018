"""Progress on long steps (issue #16): shown on a terminal, never in a pipe or with --json."""

from __future__ import annotations

import pytest

from helpers import mcubench, require_tool, run_on_a_terminal

pytestmark = pytest.mark.slow


def test_bench_shows_its_steps_on_a_terminal_only(tmp_path):
    require_tool("qemu-system-arm")
    env = {"MCUBENCH_WORK": str(tmp_path / "work"), "MCUBENCH_RESULTS": str(tmp_path / "results")}
    shown = run_on_a_terminal("bench", "--param", "n=2049", env=env)
    assert "✓ building" in shown and "with PlatformIO" in shown and "✓ running on qemu" in shown
    piped = mcubench("bench", "--param", "n=2049", env=env)  # the same job, output to pipes
    assert piped.returncode == 0
    assert "✓" not in piped.stdout + piped.stderr and "running on qemu" not in piped.stderr
    as_json = run_on_a_terminal("bench", "--param", "n=2050", "--json", env=env)
    assert "✓ building" not in as_json
