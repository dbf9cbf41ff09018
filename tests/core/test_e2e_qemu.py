"""End to end on the emulated Cortex-M4F: PlatformIO build → QEMU → pyserial → result.

The workload is the built-in int8 dot product, whose cost is linear in its size.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import psutil
import pytest
from helpers import mcubench, require_tool

from mcubench.bench.pipeline import run_bench
from mcubench.bench.request import BenchRequest
from mcubench.core.elf import elf_sizes
from mcubench.core.errors import UserError
from mcubench.core.paths import work_dir
from mcubench.core.types import WorkloadSpec

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", autouse=True)
def _tools():
    require_tool("qemu-system-arm")
    require_tool("arm-none-eabi-gcc")


def bench_dot(n: int, **kwargs):
    return run_bench(BenchRequest(WorkloadSpec("dot_int8", {"n": n}), **kwargs))


def test_counts_are_deterministic_and_scale_with_the_workload():
    first = bench_dot(2048)
    again = bench_dot(2048)
    double = bench_dot(4096)
    a, b, c = (o.result["instructions"] for o in (first, again, double))
    assert a == b, "emulated instruction counts must be identical across runs"
    assert first.result["latency"]["runs"] == again.result["latency"]["runs"]
    # Twice the elements: twice the loop work (the fixed overhead is a few dozen instructions,
    # the timer resolves 40), so within 3 %.
    assert c / a == pytest.approx(2.0, rel=0.03)
    assert first.result["latency"]["unit"] == "instructions"
    assert first.result["latency"]["source"] == "qemu-icount"
    assert first.result["cycles"] is None and first.result["latency_ms"] is None


def test_sizes_match_the_elf_and_stack_is_measured():
    outcome = bench_dot(1024)
    mem = outcome.result["memory"]
    # Independent check with the toolchain's own size tool (SysV format, per section).
    out = subprocess.run(["arm-none-eabi-size", "-A", "-d", str(outcome.image.elf)], capture_output=True, text=True, check=True).stdout
    sections = {parts[0]: int(parts[1]) for parts in (l.split() for l in out.splitlines()) if len(parts) >= 3 and parts[0].startswith(".")}
    flash = sum(v for k, v in sections.items() if k in (".text", ".ARM.exidx", ".preinit_array", ".init_array", ".fini_array", ".data"))
    assert mem["flash_bytes"] == flash
    assert mem["static_ram_bytes"] == sections[".data"] + sections[".bss"]
    assert mem["stack_size_bytes"] == sections[".stack"]
    assert 0 < mem["stack_high_water_bytes"] < mem["stack_size_bytes"]
    assert elf_sizes(outcome.image.elf).flash == flash


def test_output_is_the_dot_product():
    outcome = bench_dot(1024)
    # Recompute the firmware's fixed inputs (its LCG) and the dot product on the host.
    state, acc = 12345, 0
    for _ in range(1024):
        state = (state * 1664525 + 1013904223) & 0xFFFFFFFF
        a = ((state >> 24) ^ 0x80) - 0x80
        state = (state * 1664525 + 1013904223) & 0xFFFFFFFF
        b = ((state >> 24) ^ 0x80) - 0x80
        acc += a * b
    assert int.from_bytes(outcome.measurements.output, "little", signed=True) == acc


def _qemu_processes_for(elf) -> list:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmd = proc.info.get("cmdline") or []
        if any("qemu-system-arm" in c for c in cmd) and str(elf) in cmd:
            found.append(proc)
    return found


@pytest.mark.parametrize("mode,expect", [(1, "no `done` record within"), (2, "hard fault"), (3, "setup failed")])
def test_hang_fault_and_setup_failure_end_cleanly(mode, expect):
    started = time.monotonic()
    request = BenchRequest(WorkloadSpec("selftest", {"mode": mode}))
    request.options.timeout = 4.0
    with pytest.raises(UserError) as err:
        run_bench(request)
    assert expect in err.value.message
    assert "socket://127.0.0.1:" in err.value.message
    assert time.monotonic() - started < 60
    for elf in work_dir().glob("builtin-selftest-*/.pio/build/*/*.elf"):
        assert not _qemu_processes_for(elf), "QEMU must not outlive a failed run"


def test_memory_of_a_smaller_board_refuses_before_running():
    # 300,000 int8 pairs need 600 kB of RAM: fine on mps2-an386, not on a Nano 33 BLE.
    with pytest.raises(UserError) as err:
        bench_dot(300_000, memory_of="nano33ble")
    assert "does not fit nano33ble" in err.value.message and "RAM" in err.value.message
    ok = bench_dot(1024, memory_of="nano33ble")
    assert ok.result["memory"]["limits"] == {"board": "nano33ble", "flash_bytes": 983040, "ram_bytes": 262144, "fits": True}


def test_cli_bench_json_contract():
    proc = mcubench("bench", "--workload", "dot_int8", "--json", check=True)
    result = json.loads(proc.stdout)
    keys = [k for k in result if "instruction" in k]
    assert keys and isinstance(result[keys[0]], int) and result[keys[0]] > 0
    assert result["identity"]["target"] == "qemu" and result["identity"]["board"] == "mps2-an386"
    assert result["identity"]["model"]["name"] == "dot_int8"


def test_main_job_is_the_keyword_spotting_model_on_aot_and_deterministic():
    """`bench` with no arguments: the kws_dscnn example (int8) on the AOT runtime under QEMU,
    with the Nano 33 BLE's cycle estimate and memory limits, bit-exact with the host."""
    first, second = (json.loads(mcubench("bench", "--json", check=True).stdout) for _ in range(2))
    ident = first["identity"]
    assert ident["model"]["name"] == "kws_dscnn" and ident["runtime"] == "aot" and ident["target"] == "qemu"
    assert ident["variant"] == "int8" and ident["recipe"] == "int8" and first["host"]["macs"] > 2_000_000
    assert first["outputs_match"] is True
    assert isinstance(first["estimate"]["estimated_cycles"], int) and first["estimate"]["board"] == "nano33ble"
    assert first["estimated_cycles"] > first["instructions"] > 1_000_000
    assert first["memory"]["limits"]["board"] == "nano33ble" and first["memory"]["limits"]["fits"] is True
    assert first["memory"]["arena_used_bytes"] > 0
    for key in ("instructions", "estimated_cycles", "outputs_match"):
        assert first[key] == second[key], key
    assert first["latency"]["runs"] == second["latency"]["runs"]
    assert first["memory"]["flash_bytes"] == second["memory"]["flash_bytes"]


def test_main_job_table_names_the_estimate_and_the_real_board_command():
    shown = mcubench("bench", check=True).stdout
    assert "kws_dscnn · aot · mps2-an386 on qemu" in shown
    assert "estimate for nano33ble" in shown and "wait states" in shown and "fits nano33ble" in shown
    assert "outputs match host TFLM" in shown and "yes, bit for bit" in shown
    command = next(line for line in shown.splitlines() if line.startswith("On a nano33ble"))
    model = Path(command.split("mcubench bench ", 1)[1].split()[0])  # relative to the working directory
    assert "--board nano33ble --runtime aot" in command and model.suffix == ".tflite" and model.is_file()


def test_host_sets_warmup_and_runs_through_a_command():
    outcome = run_bench(BenchRequest(WorkloadSpec("dot_int8", {"n": 256}, warmup=0, runs=3)))
    assert len(outcome.result["latency"]["runs"]) == 3
    request = BenchRequest(WorkloadSpec("dot_int8", {"n": 256}, warmup=0, runs=3))
    request.options.runs = 7
    outcome = run_bench(request)
    assert len(outcome.result["latency"]["runs"]) == 7


def test_cli_estimate_contract_keeps_the_instruction_figure():
    plain = json.loads(mcubench("bench", "--workload", "dot_int8", "--json", check=True).stdout)
    est = json.loads(mcubench("bench", "--workload", "dot_int8", "--json", "--estimate", "nano33ble", check=True).stdout)
    assert est["instructions"] == plain["instructions"]
    assert isinstance(est["estimated_cycles"], int) and est["estimated_cycles"] > 0
    assert isinstance(est["estimated_ms"], float)
    assert est["estimated_ms"] == pytest.approx(est["estimated_cycles"] / 64e6 * 1e3)
    assert est["estimate"]["board"] == "nano33ble" and "not a measurement" in est["estimate"]["label"]
    # A Cortex-M4 needs at least one cycle per instruction.
    assert est["estimated_cycles"] >= est["instructions"] * 0.9


def test_cli_bench_csv_is_one_row_of_figures():
    import csv
    import io

    rows = list(csv.DictReader(io.StringIO(mcubench("bench", "--workload", "dot_int8", "--csv", check=True).stdout)))
    assert len(rows) == 1
    assert rows[0]["latency_unit"] == "instructions" and int(rows[0]["instructions"]) > 0
    assert rows[0]["cycles"] == "" and int(rows[0]["flash_bytes"]) > 0
