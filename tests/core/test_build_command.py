"""`mcubench build` on the emulated board: the footprint, the fit against another board's
limits, and refusals before anything is built (the Nano 33 BLE builds are in
tests/hardware/test_nano33ble_build.py)."""

from __future__ import annotations

import json

import pytest

from helpers import mcubench, require_tool

pytestmark = pytest.mark.slow


def test_build_json_has_the_footprint_and_fits():
    require_tool("arm-none-eabi-gcc")
    proc = mcubench("build", "--board", "mps2-an386", "--workload", "dot_int8", "--json")
    assert proc.returncode == 0, proc.stderr
    record = json.loads(proc.stdout)
    mem = record["memory"]
    assert record["schema"] == "mcubench.build/1"
    assert record["fits"] is True and record["problem"] is None
    assert mem["limits"]["board"] == "mps2-an386"
    assert mem["flash_bytes"] == mem["sections"]["flash"] > 0
    assert mem["static_ram_bytes"] == mem["sections"]["static_ram"] > 2 * 1024  # the two 1,024-byte vectors


def test_build_reports_a_misfit_against_memory_of_and_exits_1():
    """Two 1 MiB vectors fit the emulated board's 4 MiB, not a Nano 33 BLE's 256 KiB of RAM:
    the image is built and the misfit reported, with the exit status a script can act on."""
    require_tool("arm-none-eabi-gcc")
    proc = mcubench("build", "--board", "mps2-an386", "--param", "n=1048576", "--memory-of", "nano33ble", "--json")
    assert proc.returncode == 1, proc.stderr
    record = json.loads(proc.stdout)
    assert record["fits"] is False
    assert record["memory"]["limits"] == {"board": "nano33ble", "flash_bytes": 983040, "ram_bytes": 262144, "fits": False}
    assert "RAM" in record["problem"] and "does not fit nano33ble" in record["problem"]
    assert record["memory"]["static_ram_bytes"] > 2 * 1048576


@pytest.mark.parametrize("args, needle", [
    (["--memory-of", "no-such-board"], "unknown board"),
    (["--board", "no-such-board"], "unknown board"),
    (["--runtime", "tflm", "--workload", "dot_int8"], "needs a model"),
    (["model.tflite", "--workload", "dot_int8"], "not both"),
    (["--param", "n=abc"], "not an integer"),
])
def test_build_refuses_bad_input_in_one_line_before_building(args, needle):
    proc = mcubench("build", *args)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert needle in proc.stderr.lower()
    assert "Traceback" not in proc.stderr
