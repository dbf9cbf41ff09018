"""The AOT runtime's benchmark: every example and reference model, compiled ahead of time,
built with PlatformIO and run on the emulated Cortex-M4 (QEMU mps2-an386).

Per model it prints MACs, emulated instructions per inference (QEMU icount), estimated Cortex-M4
cycles from the project's cost model (`mcubench.estimate`) under each ``--estimate`` assumption
(default: zero wait states, the nano33ble flash assumption, and nano33ble-icache — the effect of
the AOT runtime's ``--icache on``), cycles per MAC, the planned
activation arena next to TFLM's exact arena for the same model, flash (weights, AOT code, whole
image), and whether the outputs equal the host TFLM interpreter's. With TFLM sources
(``MCUBENCH_TFLM_DIR`` or ``--tflm-dir``) TFLM + CMSIS-NN is measured the same way on the same
model (cached per model, cost-model version, assumption, TFLM checkout and mcubench's own TFLM
code), next to the best published Cortex-M4 figure for the reference models.

    mcubench aot-bench [--models ref_dscnn,ref_autoencoder] [--kernels dsp|portable] [--ops] [--json]

This is a benchmark, not a test: it fails (exit 1) only when some output does not match.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mcubench.bench.pipeline import run_bench
from mcubench.bench.request import BenchRequest
from mcubench.bench.workloads import workload_for_model
from mcubench.core import paths
from mcubench.core.errors import UserError
from mcubench.core.fileio import write_json_atomic
from mcubench.core.types import RunOptions
from mcubench.estimate.model import load_cost_model
from mcubench.models.tflm_host import exact_arena
from mcubench.recipes.reference_models import ALL_MODELS, REFERENCE_MODELS, model_path
from mcubench.runtimes.aot.runtime import AotOptions, flash_parts
from mcubench.runtimes.tflm import TFLM_DIR_ENV, TflmOptions, check_tflm_dir
from mcubench.runtimes.tflm import tflm_dir as find_tflm_dir

# Targets of the AOT runtime on the reference models (issue 17), in the cost model's cycles.
TARGET_CYCLE_RATIO = 0.6      # AOT / TFLM+CMSIS-NN estimated cycles, zero wait states
TARGET_ARENA_RATIO = 0.5      # AOT / TFLM arena
# zero wait states; code in flash with 2 wait states; the same with the instruction cache on
# (what `--icache on` gives a Nano 33 BLE image)
ESTIMATE_BOARDS = ("mps2-an386", "nano33ble", "nano33ble-icache")
# Best published Cortex-M4 latency of each reference shape: MLPerf Tiny v1.3, X-CUBE-AI 10.2 on an
# STM32L4R5 at 120 MHz (KWS, VWW, IC, AD). Cycles per MAC use our model's MAC count.
PUBLISHED_SOURCE = "MLPerf Tiny v1.3, X-CUBE-AI 10.2, STM32L4R5 @ 120 MHz"
PUBLISHED_CLOCK_HZ = 120_000_000
PUBLISHED_MS = {"ref_dscnn": 43.42, "ref_mobilenet": 89.44, "ref_resnet8": 165.67, "ref_autoencoder": 4.79}
TFLM_CACHE_VERSION = "1"


@dataclass
class TflmFigures:
    """TFLM + CMSIS-NN on the same model, same emulated board and cost model."""

    instructions: int
    estimated_cycles: dict[str, int]      # assumption -> per inference
    model_version: str
    flash_bytes: int                      # whole image
    model_bytes: int                      # the .tflite array in flash
    runtime_bytes: int                    # TFLM + CMSIS-NN code and data
    outputs_match: bool | None
    ops: list[dict[str, Any]] = field(default_factory=list)  # index, name, estimated cycles (zero wait states)


@dataclass
class AotBenchRow:
    model: str
    kernels: str                  # "dsp" or "portable"
    macs: int
    instructions: int             # emulated instructions per inference
    instr_per_mac: float
    arena_bytes: int              # planned activation RAM
    tflm_arena_bytes: int         # TFLM's exact arena for the same model
    arena_ratio: float
    weight_bytes: int             # constant data of the model in flash (symbols of model.c)
    aot_code_bytes: int           # generated model code + kernels in flash
    flash_bytes: int              # whole image (benchmark core, port and C library included)
    outputs_match: bool | None
    estimated_cycles: dict[str, int] = field(default_factory=dict)  # assumption -> per inference
    model_version: str | None = None
    tflm: TflmFigures | None = None
    published_cycles_per_mac: float | None = None
    ops: list[dict[str, Any]] = field(default_factory=list)  # index, name, macs, sources, instructions, estimated_cycles

    def cycles_per_mac(self, board: str = "mps2-an386") -> float | None:
        cycles = self.estimated_cycles.get(board)
        return cycles / self.macs if cycles is not None and self.macs else None

    def tflm_cycles_per_mac(self, board: str = "mps2-an386") -> float | None:
        cycles = self.tflm.estimated_cycles.get(board) if self.tflm else None
        return cycles / self.macs if cycles is not None and self.macs else None

    def cycle_ratio(self, board: str = "mps2-an386") -> float | None:
        ours, theirs = self.estimated_cycles.get(board), self.tflm.estimated_cycles.get(board) if self.tflm else None
        return ours / theirs if ours is not None and theirs else None


def _request(path: Path, name: str | None, runtime_name: str, options: Any, estimate: str | None, timeout: float,
             verbose: bool) -> BenchRequest:
    """One QEMU run of the model; ``name`` None keeps the file's stem (as `mcubench bench` does, so
    a TFLM image built by hand is reused)."""
    workload, runtime, extras = workload_for_model(path, runtime_name)
    workload.name = name or workload.name
    workload.warmup, workload.runs = 1, 1
    workload.options = options
    return BenchRequest(workload=workload, runtime=runtime, board="mps2-an386", target="qemu", estimate=estimate,
                        options=RunOptions(timeout=timeout), verbose=verbose, **extras)


def _split(result: dict[str, Any]) -> dict[str, int]:
    split = result["memory"].get("flash_split") or {}
    return {"model": int(split.get("model", 0)), "runtime": int(split.get("runtime", 0))}


def bench_model(name: str, *, dsp: bool = True, boards: tuple[str, ...] = ESTIMATE_BOARDS, timeout: float = 900.0,
                verbose: bool = False) -> AotBenchRow:
    """Build and run one model (see reference_models.ALL_MODELS) under QEMU, once per assumption."""
    path = model_path(name)
    results, estimates = [], {}
    for board in boards or (None,):
        outcome = run_bench(_request(path, name, "aot", AotOptions(dsp=dsp), board, timeout, verbose))
        results.append(outcome)
        if board is not None:
            estimates[board] = int(outcome.result["estimated_cycles"])
    outcome = results[0]
    result = outcome.result
    facts = json.loads((outcome.project.dir / "aot-facts.json").read_text())
    if result["latency"]["unit"] != "instructions":
        raise UserError(f"expected QEMU instruction counts, got {result['latency']['unit']}", "run on --target qemu")
    instructions = int(result["instructions"])
    macs = int(facts["macs"])
    tflm = exact_arena(path.read_bytes()).exact_bytes
    split = flash_parts(outcome.image.elf)
    op_macs, op_sources = facts.get("op_macs", []), facts.get("op_sources", [])
    op_cycles = {o["index"]: o["estimated_cycles"] for o in (result.get("estimate") or {}).get("ops", [])}
    # sources: the model's operators a step runs (TFLM numbers its operators so); a fused
    # step runs several, and the planner may reorder steps
    ops = [{"index": o["index"], "name": o["name"], "macs": op_macs[o["index"]] if o["index"] < len(op_macs) else None,
            "sources": op_sources[o["index"]] if o["index"] < len(op_sources) else [o["index"]],
            "instructions": o["value"], "estimated_cycles": op_cycles.get(o["index"])} for o in result.get("ops") or []]
    published = PUBLISHED_MS.get(name)
    return AotBenchRow(
        model=name, kernels=facts["kernels"], macs=macs, instructions=instructions,
        instr_per_mac=instructions / macs if macs else float("nan"),
        arena_bytes=int(facts["arena_bytes"]), tflm_arena_bytes=tflm,
        arena_ratio=int(facts["arena_bytes"]) / tflm,
        weight_bytes=split["weights"], aot_code_bytes=split["model_code"] + split["kernels"],
        flash_bytes=int(result["memory"]["flash_bytes"]),
        outputs_match=all_matched([o.result.get("outputs_match") for o in results]),
        estimated_cycles=estimates, model_version=(result.get("estimate") or {}).get("model_version"),
        published_cycles_per_mac=published * 1e-3 * PUBLISHED_CLOCK_HZ / macs if published and macs else None, ops=ops)


def tflm_glue_digest() -> str:
    """mcubench's own part of a TFLM build (its kernels for ops the library computes
    differently, the profiler, the rendered workload): a change to it measures TFLM again."""
    digest = hashlib.sha256()
    for source in sorted([*(paths.firmware_dir() / "runtimes" / "tflm").rglob("*"), *(paths.templates_dir() / "tflm").rglob("*")]):
        if source.is_file():
            digest.update(source.name.encode() + b"\0" + source.read_bytes())
    return digest.hexdigest()


def tflm_cache_path(path: Path, board: str, tflm_dir: str) -> Path:
    key = hashlib.sha256("\0".join([TFLM_CACHE_VERSION, hashlib.sha256(path.read_bytes()).hexdigest(), board,
                                      load_cost_model().model_version, str(Path(tflm_dir).resolve()),
                                      tflm_glue_digest()]).encode())
    return paths.work_dir() / "aot-bench" / f"tflm-{key.hexdigest()[:16]}.json"


def measure_tflm(name: str, tflm_dir: str, *, boards: tuple[str, ...] = ESTIMATE_BOARDS, timeout: float = 1800.0,
                 fresh: bool = False, verbose: bool = False) -> TflmFigures:
    """TFLM + CMSIS-NN on the model under each assumption; each figure is cached (a TFLM build
    takes minutes) by model bytes, assumption, cost-model version and TFLM checkout."""
    path = model_path(name)
    figures: dict[str, dict[str, Any]] = {}
    for board in boards:
        cache = tflm_cache_path(path, board, tflm_dir)
        if cache.is_file() and not fresh:
            figures[board] = json.loads(cache.read_text())
            continue
        options = TflmOptions(cmsis_nn=True, tflm_dir=str(Path(tflm_dir).resolve()))
        result = run_bench(_request(path, None, "tflm", options, board, timeout, verbose)).result
        split = _split(result)
        figures[board] = {
            "instructions": int(result["instructions"]), "estimated_cycles": int(result["estimated_cycles"]),
            "model_version": result["estimate"]["model_version"], "flash_bytes": int(result["memory"]["flash_bytes"]),
            "model_bytes": split["model"], "runtime_bytes": split["runtime"], "outputs_match": result.get("outputs_match"),
            "ops": result["estimate"].get("ops", []),
        }
        write_json_atomic(cache, figures[board])
    first = figures[boards[0]]
    return TflmFigures(
        instructions=first["instructions"], estimated_cycles={b: f["estimated_cycles"] for b, f in figures.items()},
        model_version=first["model_version"], flash_bytes=first["flash_bytes"], model_bytes=first["model_bytes"],
        runtime_bytes=first["runtime_bytes"],
        outputs_match=all_matched([f["outputs_match"] for f in figures.values()]), ops=figures.get("mps2-an386", first)["ops"])


def _f(v: float | None, fmt: str = ".2f") -> str:
    return "-" if v is None else format(v, fmt)


def format_table(rows: list[AotBenchRow]) -> str:
    boards = list(dict.fromkeys(b for r in rows for b in r.estimated_cycles))
    head = ("| model | kernels | MACs | instructions | instr/MAC | "
            + "".join(f"est. cycles {b} | cycles/MAC {b} | " for b in boards)
            + "arena B | TFLM arena B | ratio | weights B | AOT code B | image flash B | outputs match |")
    lines = [head, "|" + "---|" * head.count(" | ") + "---|"]
    for r in rows:
        est = "".join(f"{r.estimated_cycles[b]:,} | {_f(r.cycles_per_mac(b))} | " if b in r.estimated_cycles else "- | - | "
                      for b in boards)
        lines.append(
            f"| {r.model} | {r.kernels} | {r.macs:,} | {r.instructions:,} | {r.instr_per_mac:.2f} | {est}{r.arena_bytes:,} "
            f"| {r.tflm_arena_bytes:,} | {r.arena_ratio:.2f} | {r.weight_bytes:,} | {r.aot_code_bytes:,} "
            f"| {r.flash_bytes:,} | {'yes' if r.outputs_match else 'NO' if r.outputs_match is False else '?'} |")
    return "\n".join(lines)


def format_comparison(rows: list[AotBenchRow]) -> str:
    """AOT against TFLM + CMSIS-NN measured the same way, and the published anchor."""
    head = ("| model | AOT/TFLM instr | AOT/TFLM est. cycles 0 ws | AOT/TFLM est. cycles nano33ble "
            "| AOT cycles/MAC (TFLM) | published cycles/MAC | AOT/TFLM arena | AOT weights+code B | TFLM model+runtime B "
            "| AOT/TFLM flash | TFLM outputs match |")
    lines = [head, "|" + "---|" * head.count(" | ") + "---|"]
    for r in rows:
        t = r.tflm
        if t is None:
            continue
        aot_flash, tflm_flash = r.weight_bytes + r.aot_code_bytes, t.model_bytes + t.runtime_bytes
        lines.append(
            f"| {r.model} | {r.instructions / t.instructions:.2f} | {_f(r.cycle_ratio('mps2-an386'))} "
            f"| {_f(r.cycle_ratio('nano33ble'))} | {_f(r.cycles_per_mac())} ({_f(r.tflm_cycles_per_mac())}) "
            f"| {_f(r.published_cycles_per_mac)} | {r.arena_ratio:.2f} | {aot_flash:,} | {tflm_flash:,} "
            f"| {aot_flash / tflm_flash:.2f} | {'yes' if t.outputs_match else 'NO' if t.outputs_match is False else '?'} |")
    return "\n".join(lines)


def format_ops(row: AotBenchRow) -> str:
    tflm_ops = {o["index"]: o["estimated_cycles"] for o in row.tflm.ops} if row.tflm else {}
    lines = [f"{row.model} ({row.kernels}) per operator (estimated cycles at zero wait states):",
             f"  {'#':>3} {'op':<19} {'MACs':>11} {'instructions':>13} {'instr/MAC':>9} {'est. cycles':>12} "
             f"{'cycles/MAC':>10} {'TFLM cycles':>12} {'TFLM c/MAC':>10}"]
    for o in row.ops:
        macs = o.get("macs") or 0
        theirs_parts = [tflm_ops.get(k) for k in o.get("sources", [o["index"]])]
        cycles = o.get("estimated_cycles")
        theirs = sum(theirs_parts) if theirs_parts and None not in theirs_parts else None
        lines.append(f"  {o['index']:>3} {o['name']:<19} {macs:>11,} {o['instructions']:>13,.0f} "
                     f"{_f(o['instructions'] / macs if macs else None):>9} {_f(cycles, ',.0f'):>12} "
                     f"{_f(cycles / macs if macs and cycles is not None else None):>10} {_f(theirs, ',.0f'):>12} "
                     f"{_f(theirs / macs if macs and theirs is not None else None):>10}")
    return "\n".join(lines)


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("aot-bench", help="AOT runtime benchmark: estimated cycles/MAC, arena and flash vs TFLM on "
                                         "every example and reference model (QEMU)")
    p.add_argument("--models", default=",".join(ALL_MODELS), help=f"comma-separated (default: {','.join(ALL_MODELS)})")
    p.add_argument("--kernels", choices=["dsp", "portable", "both"], default="dsp", help="kernel path (default dsp)")
    p.add_argument("--estimate", default=",".join(ESTIMATE_BOARDS),
                   help=f"cost-model assumptions to estimate cycles under, comma-separated, or 'none' "
                        f"(default: {','.join(ESTIMATE_BOARDS)})")
    p.add_argument("--tflm-dir", default=None,
                   help=f"TFLM checkout (Arduino-library layout) to measure TFLM + CMSIS-NN beside AOT "
                        f"(default: ${TFLM_DIR_ENV}; none: AOT only)")
    p.add_argument("--tflm-fresh", action="store_true", help="measure TFLM again instead of using its cached figures")
    p.add_argument("--ops", action="store_true", help="also print the per-operator figures")
    p.add_argument("--json", action="store_true", help="print the rows as JSON")
    p.add_argument("--verbose", "-v", action="store_true")
    p.set_defaults(func=run)
    return p


def parse_boards(text: str) -> tuple[str, ...]:
    if text.strip().lower() == "none":
        return ()
    boards = tuple(b.strip() for b in text.split(",") if b.strip())
    model = load_cost_model()
    for b in boards:
        model.board(b)  # UserError naming the known assumptions
    return boards


def all_matched(matches: list[bool | None]) -> bool | None:
    """True or False over the runs that compared outputs; None when none did (shown as "?")."""
    compared = [m for m in matches if m is not None]
    return all(compared) if compared else None


def run(args: argparse.Namespace) -> int:
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    unknown = [n for n in names if n not in ALL_MODELS]
    if unknown:
        raise UserError(f"unknown model(s) {', '.join(unknown)}", f"choose from {', '.join(ALL_MODELS)}")
    boards = parse_boards(args.estimate)
    tflm_dir = find_tflm_dir(args.tflm_dir)
    if tflm_dir is not None:
        check_tflm_dir(tflm_dir)  # refused now, not minutes later in a build
    kernel_paths = {"dsp": [True], "portable": [False], "both": [True, False]}[args.kernels]
    rows = []
    for name in names:
        tflm = measure_tflm(name, tflm_dir, boards=boards, fresh=args.tflm_fresh, verbose=args.verbose) \
            if tflm_dir and boards else None
        for dsp in kernel_paths:
            row = bench_model(name, dsp=dsp, boards=boards, verbose=args.verbose)
            row.tflm = tflm
            rows.append(row)
            if not args.json:
                cycles = ", ".join(f"{row.estimated_cycles[b]:,} est. cycles {b} ({_f(row.cycles_per_mac(b))}/MAC)"
                                   for b in row.estimated_cycles)
                print(f"{name} ({row.kernels}): {row.instructions:,} instructions, {cycles}, "
                      f"arena {row.arena_bytes:,} B = {row.arena_ratio:.2f} x TFLM", file=sys.stderr, flush=True)
    if args.json:
        json.dump([asdict(r) | {"cycles_per_mac": r.cycles_per_mac(), "cycle_ratio": r.cycle_ratio()} for r in rows],
                  sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(format_table(rows))
        if any(r.tflm for r in rows):
            print()
            print(format_comparison(rows))
        print(f"targets on the reference models ({', '.join(REFERENCE_MODELS)}): estimated cycles (zero wait states) "
              f"<= {TARGET_CYCLE_RATIO} x TFLM + CMSIS-NN's, arena <= {TARGET_ARENA_RATIO} x TFLM's, "
              f"flash (weights + code) <= TFLM's (model + runtime); published: {PUBLISHED_SOURCE}")
        if args.ops:
            for r in rows:
                print()
                print(format_ops(r))
    return 0 if all(r.outputs_match is not False for r in rows) else 1
