"""--estimate takes the cost model's board assumptions, including the documented
nano33ble-icache (issue #17: it was refused as an unknown board)."""

from __future__ import annotations

import json

import pytest

from helpers import mcubench, require_tool

pytestmark = pytest.mark.slow


def estimate(assumption: str) -> dict:
    proc = mcubench("bench", "--workload", "dot_int8", "--estimate", assumption, "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_cache_on_assumption_is_usable_and_cheaper_than_cache_off():
    require_tool("qemu-system-arm")
    off, on = estimate("nano33ble"), estimate("nano33ble-icache")
    assert on["estimate"]["board"] == "nano33ble-icache" and on["estimate"]["assumptions"]["icache"] == "on"
    assert off["instructions"] == on["instructions"]  # the same image, the same run
    assert on["estimated_cycles"] < off["estimated_cycles"]  # no flash wait states on a hit


def test_an_unknown_assumption_names_the_known_ones():
    proc = mcubench("bench", "--estimate", "nope")
    assert proc.returncode == 2
    assert "no cycle-estimate assumptions for board `nope`" in proc.stderr and "nano33ble-icache" in proc.stderr
