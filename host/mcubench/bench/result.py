"""The result stage: one run's figures as a result record (docs/results-schema.md)."""

from __future__ import annotations

import hashlib
import uuid
import zlib
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mcubench.bench.collect import Measurements
from mcubench.bench.render import Project
from mcubench.bench.request import BenchRequest
from mcubench.core.boards import Board
from mcubench.core.elf import ElfSizes
from mcubench.core.identity import git_hash, tool_version
from mcubench.core.paths import results_dir
from mcubench.core.types import Image
from mcubench.estimate.model import load_cost_model
from mcubench.estimate.report import Estimate, cycles_to_ms
from mcubench.link.runlog import RunLog
from mcubench.runtimes.base import FlashSplit

SCHEMA_ID = "mcubench.result/1"


def _int_or_none(value: float | None) -> int | None:
    return None if value is None else int(round(value))


def make_result(
    request: BenchRequest,
    board: Board,
    project: Project,
    image: Image,
    sizes: ElfSizes,
    limits: dict[str, Any],
    log: RunLog,
    m: Measurements,
    flash_split: FlashSplit | None = None,
    estimate: Estimate | None = None,
) -> dict[str, Any]:
    """The result record (docs/results-schema.md) of one run."""
    lat = m.latency
    median = lat.median
    emulated = log.emulator is not None
    instructions = _int_or_none(median) if lat.unit == "instructions" else None
    cycles = _int_or_none(median) if lat.unit == "cycles" else None
    latency_ms = (median / board.clock_hz * 1000.0) if lat.unit == "cycles" and not emulated else None
    workload = request.workload
    outputs_match = None
    correctness: dict[str, Any] = {
        "output_checksum": f"{zlib.crc32(m.output) & 0xFFFFFFFF:08X}" if m.output is not None else None,
        "output_hex": m.output.hex() if m.output is not None and len(m.output) <= 4096 else None,
        "compared_with": None,
        "max_abs_diff": None,
        "on_device_accuracy": None,
    }
    if request.reference_output is not None and m.output is not None:
        reference = request.reference_output()
        outputs_match = reference == m.output
        correctness["compared_with"] = "tflm-host"
        if len(reference) == len(m.output):
            correctness["max_abs_diff"] = max(
                (abs(((a + 128) % 256) - ((b + 128) % 256)) for a, b in zip(reference, m.output)), default=0
            )
    model_sha = workload.model_sha256 or (hashlib.sha256(workload.model_bytes).hexdigest() if workload.model_bytes else None)
    return {
        "schema": SCHEMA_ID,
        "id": str(uuid.uuid4()),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "identity": {
            "tool_version": tool_version(),
            "git_hash": git_hash(),
            "model": {
                "name": workload.name,
                "sha256": model_sha,
                "path": str(workload.model_path) if workload.model_path else None,
            },
            "variant": request.variant,
            "recipe": request.recipe,
            "runtime": request.runtime,
            "board": board.id,
            "target": log.target,
            "emulator": log.emulator,
            "clock_hz": int(m.hello.get("clock_hz", board.clock_hz)),
            "compiler": m.build.get("cc"),
            "cflags": m.build.get("cflags"),
            "memory_of": request.memory_of,
            "build_id": image.build_id,
            "place": log.extra.get("place"),
            "icache": m.hello.get("icache"),
            "workload": {"name": workload.name, "params": {k: _parse_param(v) for k, v in m.params.items()}},
        },
        "latency": lat.to_dict(),
        "instructions": instructions,
        "cycles": cycles,
        "latency_ms": latency_ms,
        "ops": m.ops,
        "memory": {
            "flash_bytes": sizes.flash,
            "static_ram_bytes": sizes.static_ram,
            "stack_high_water_bytes": m.memory.get("stack_used"),
            "stack_size_bytes": m.memory.get("stack_size", sizes.stack),
            "arena_used_bytes": m.memory.get("arena_used"),
            "arena_allocated_bytes": m.memory.get("arena_size"),
            "flash_split": flash_split.to_dict() if flash_split is not None else None,
            "sections": sizes.to_dict(),
            "limits": limits,
        },
        "outputs_match": outputs_match,
        "correctness": correctness,
        "host": request.host_metrics,
        "estimate": None,
        "warnings": [*m.warnings, *device_state_warnings(m.hello, board)],
    } | estimate_fields(estimate, m)


def device_state_warnings(hello: dict[str, str], board: Board) -> list[str]:
    """What the board itself reports against what the cycle estimate assumes for it: the
    first run on a real board checks the estimate's cache assumption."""
    reported = hello.get("icache")
    if reported is None:
        return []
    assumed = load_cost_model().boards.get(board.id)
    if assumed is None or assumed.icache in ("none", reported):
        return []
    return [
        f"the board reports its instruction cache {reported}, the cycle estimate for {board.id} assumes it "
        f"{assumed.icache}: compare with --estimate {board.id}-icache, or calibrate (mcubench calibrate)"
    ]


def estimate_fields(est: Estimate | None, m: Measurements) -> dict[str, Any]:
    """The cycle estimate (the instruction plugin's report), per timed run, when the run was
    made with one. Always labelled an estimate; the exact instruction figure stays as it is.
    """
    if est is None:
        return {}
    # Region 2 wraps each timed run() in the benchmark core; its mean per entry is per run.
    per_run = int(round(est.region_cycles(2)))
    ms = cycles_to_ms(per_run, est.clock_hz)
    ops = []
    for op in m.ops:
        region = est.regions.get(0x100 + op["index"])
        if region is not None:
            ops.append({"index": op["index"], "name": op["name"], "estimated_cycles": int(round(est.region_cycles(0x100 + op["index"])))})
    estimate = {
        "estimated_cycles": per_run,
        "estimated_ms": ms,
        "model_version": est.model_version,
        "board": est.board.board,
        "assumptions": est.board.to_dict(),
        "label": "estimate from a Cortex-M4 cost model, not a measurement",
        "calibration": est.correction.summary() if est.correction is not None else None,
        "cpi": round(est.cpi, 4),
        "ops": ops,
        "whole_run": est.to_dict(),
    }
    return {"estimate": estimate, "estimated_cycles": per_run, "estimated_ms": ms}


def _parse_param(value: str) -> Any:
    try:
        return int(value)
    except ValueError:
        return value


def default_result_path(result: dict[str, Any]) -> Path:
    return results_dir() / "runs" / f"{result['id']}.json"
