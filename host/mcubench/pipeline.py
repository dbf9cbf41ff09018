"""The staged pipeline behind `mcubench bench`: render → build → fit check → run → collect → result.

Each stage is a function of the previous one's output (see docs/architecture.md). Stages raise
``UserError`` for what the user can fix; the CLI turns those into one-line messages.
"""

from __future__ import annotations

import hashlib
import uuid
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from .boards import Board, check_fit, load_board
from .build import ElfSizes, build, elf_sizes
from .collect import Measurements, collect
from .errors import UserError
from .estimate.model import load_cost_model
from .identity import git_hash, tool_version
from .render import Project, project_lock, render_project
from .runtimes import WorkloadSpec
from .targets import RunOptions, get_target
from .targets.base import Image, RunLog

SCHEMA_ID = "mcubench.result/1"


@dataclass
class BenchRequest:
    workload: WorkloadSpec
    runtime: str = "builtin"
    board: str = "mps2-an386"
    target: str | None = None  # None: the board's default target
    memory_of: str | None = None  # enforce another board's flash/RAM limits
    options: RunOptions = field(default_factory=RunOptions)
    recipe: str | None = None
    variant: str | None = None
    host_metrics: dict[str, Any] | None = None
    verbose: bool = False
    # Compares the device's output with a reference (the host TFLM interpreter) when given.
    reference_output: Callable[[], bytes] | None = None


@dataclass
class BenchOutcome:
    project: Project
    image: Image
    sizes: ElfSizes
    log: RunLog
    measurements: Measurements
    result: dict[str, Any]


def resolve_target(request: BenchRequest, board: Board) -> str:
    return request.target or board.default_target


def fit_limits(sizes: ElfSizes, limits_board: Board) -> dict[str, Any]:
    """The image's footprint against ``limits_board``: the ``memory.limits`` of a record."""
    fit = check_fit(limits_board, sizes.flash, sizes.ram_reserved)
    return {"board": limits_board.id, "flash_bytes": limits_board.flash_bytes, "ram_bytes": limits_board.ram_bytes, "fits": fit.fits}


def fit_problem(sizes: ElfSizes, limits_board: Board) -> str | None:
    """What does not fit, in words, or None."""
    problem = check_fit(limits_board, sizes.flash, sizes.ram_reserved).problem()
    if problem is None:
        return None
    return f"the image {problem} (static RAM {sizes.static_ram:,} B + heap {sizes.heap:,} B + stack {sizes.stack:,} B)"


def fit_stage(sizes: ElfSizes, limits_board: Board) -> dict[str, Any]:
    """Refuses an image that does not fit: running it would measure nothing real."""
    problem = fit_problem(sizes, limits_board)
    if problem:
        raise UserError(problem, "choose a smaller model or recipe, or a board with more memory")
    return fit_limits(sizes, limits_board)


@dataclass
class BuiltImage:
    """What the build half of the pipeline gives: the image, its sizes and its fit."""

    board: Board
    limits_board: Board
    project: Project
    image: Image
    sizes: ElfSizes
    limits: dict[str, Any]


def build_stage(request: BenchRequest, target_name: str) -> BuiltImage:
    """Preflight, render, build and size the image for ``request`` as ``target_name`` runs it.

    The fit is reported, not enforced: `mcubench build` shows a misfit, `run_bench` refuses it.
    """
    board = load_board(request.board)
    limits_board = load_board(request.memory_of) if request.memory_of else board
    if request.runtime == "tflm" and request.workload.model_bytes is not None:
        # Refuse a model that cannot fit before spending minutes on a TFLM build.
        from .runtimes.tflm import preflight_fit

        preflight_fit(request.workload.model_bytes, limits_board, request.workload.name)
    # The image is built for the board as this target runs it (e.g. the nRF52840 bare-metal
    # port under Renode); its limits stay the real board's.
    project = render_project(request.runtime, request.workload, board.for_target(target_name))
    # One build at a time per project dir: parallel sweep jobs may share an image.
    with project_lock(project.dir):
        image = build(project, verbose=request.verbose)
    sizes = elf_sizes(image.elf)
    return BuiltImage(board, limits_board, project, image, sizes, fit_limits(sizes, limits_board))


def run_bench(request: BenchRequest) -> BenchOutcome:
    board = load_board(request.board)
    target = get_target(resolve_target(request, board))
    reason = target.supports(board)
    if reason:
        raise UserError(reason, "pick another --target/--emulator or --board (mcubench boards lists them)")
    built = build_stage(request, target.name)
    limits = fit_stage(built.sizes, built.limits_board)
    project, image, sizes = built.project, built.image, built.sizes
    log = target.run(image, request.options)
    measurements = collect(log, image)
    result = make_result(request, board, project, image, sizes, limits, log, measurements)
    return BenchOutcome(project, image, sizes, log, measurements, result)


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
) -> dict[str, Any]:
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
            "flash_split": flash_split(request.runtime, image, sizes),
            "sections": sizes.to_dict(),
            "limits": limits,
        },
        "outputs_match": outputs_match,
        "correctness": correctness,
        "host": request.host_metrics,
        "estimate": None,
        "warnings": [*m.warnings, *device_state_warnings(m.hello, board)],
    } | estimate_fields(log, m, board)


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


def estimate_fields(log: RunLog, m: Measurements, board: Board) -> dict[str, Any]:
    """The cycle estimate (QEMU plugin), per timed run, when the run was made with one.

    Always labelled an estimate; the exact instruction figure stays as it is.
    """
    from .estimate.report import cycles_to_ms

    est = log.extra.get("estimate")
    if est is None:
        return {}
    from .estimate.report import Estimate

    assert isinstance(est, Estimate)
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


def flash_split(runtime: str, image: Image, sizes: ElfSizes) -> dict[str, int] | None:
    """Flash by owner (model / runtime / rest) where the runtime can tell, from ELF symbols."""
    if runtime == "tflm":
        from .runtimes.tflm import flash_split

        split = flash_split(image.elf, sizes.flash)
        model, runtime_bytes = split["model"], split["tflm"]
    elif runtime == "aot":
        from .runtimes.aot.bench import flash_split

        split = flash_split(image.elf)
        model, runtime_bytes = split["weights"], split["model_code"] + split["kernels"]
    else:
        return None
    return {"model": model, "runtime": runtime_bytes, "rest": max(sizes.flash - model - runtime_bytes, 0)}


def _parse_param(value: str) -> Any:
    try:
        return int(value)
    except ValueError:
        return value


def default_result_path(result: dict[str, Any]) -> Path:
    from .paths import results_dir

    return results_dir() / "runs" / f"{result['id']}.json"
