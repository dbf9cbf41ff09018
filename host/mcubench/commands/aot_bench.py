"""The AOT runtime's benchmark: every example and reference model, compiled ahead of time,
built with PlatformIO and run on the emulated Cortex-M4 (QEMU mps2-an386).

Per model it prints MACs, emulated instructions per inference (QEMU icount), instructions per
MAC, the planned activation arena next to TFLM's exact arena for the same model, and flash
(weights, AOT code, whole image), and whether the outputs equal the host TFLM interpreter's.

    mcubench aot-bench [--models kws_dscnn,ref_mobilenet] [--kernels dsp|portable] [--ops] [--json]

This is a benchmark, not a test: it fails (exit 1) only when some output does not match.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass, field
from typing import Any

from mcubench.bench.pipeline import run_bench
from mcubench.bench.request import BenchRequest
from mcubench.bench.workloads import workload_for_model
from mcubench.core.errors import UserError
from mcubench.core.types import RunOptions
from mcubench.models.tflm_host import exact_arena
from mcubench.recipes.reference_models import ALL_MODELS, model_path
from mcubench.runtimes.aot.runtime import AotOptions, flash_parts

TARGET_INSTR_PER_MAC = 2.5
TARGET_ARENA_RATIO = 0.7


@dataclass
class AotBenchRow:
    model: str
    kernels: str                  # "dsp" or "portable"
    macs: int
    instructions: int             # emulated instructions per inference (median)
    instr_per_mac: float
    arena_bytes: int              # planned activation RAM
    tflm_arena_bytes: int         # TFLM's exact arena for the same model
    arena_ratio: float
    weight_bytes: int             # constant data of the model in flash (symbols of model.c)
    aot_code_bytes: int           # generated model code + kernels in flash
    flash_bytes: int              # whole image (benchmark core, port and C library included)
    outputs_match: bool | None
    ops: list[dict[str, Any]] = field(default_factory=list)  # index, name, macs, instructions


def bench_model(name: str, *, dsp: bool = True, runs: int = 1, timeout: float = 600.0,
                verbose: bool = False) -> AotBenchRow:
    """Build and run one model (see reference_models.ALL_MODELS) under QEMU."""
    path = model_path(name)
    workload, runtime, extras = workload_for_model(path, "aot")
    workload.name = name
    workload.warmup, workload.runs = 0, runs
    workload.options = AotOptions(dsp=dsp)
    request = BenchRequest(workload=workload, runtime=runtime, board="mps2-an386", target="qemu",
                           options=RunOptions(timeout=timeout), verbose=verbose, **extras)
    outcome = run_bench(request)
    result = outcome.result
    facts = json.loads((outcome.project.dir / "aot-facts.json").read_text())
    if result["latency"]["unit"] != "instructions":
        raise UserError(f"expected QEMU instruction counts, got {result['latency']['unit']}", "run on --target qemu")
    instructions = int(result["instructions"])
    macs = int(facts["macs"])
    tflm = exact_arena(path.read_bytes()).exact_bytes
    split = flash_parts(outcome.image.elf)
    op_macs = facts.get("op_macs", [])
    ops = [{"index": o["index"], "name": o["name"], "macs": op_macs[o["index"]] if o["index"] < len(op_macs) else None,
            "instructions": o["value"]} for o in result.get("ops") or []]
    return AotBenchRow(
        model=name, kernels=facts["kernels"], macs=macs, instructions=instructions,
        instr_per_mac=instructions / macs if macs else float("nan"),
        arena_bytes=int(facts["arena_bytes"]), tflm_arena_bytes=tflm,
        arena_ratio=int(facts["arena_bytes"]) / tflm,
        weight_bytes=split["weights"], aot_code_bytes=split["model_code"] + split["kernels"],
        flash_bytes=int(result["memory"]["flash_bytes"]), outputs_match=result.get("outputs_match"), ops=ops)


def format_table(rows: list[AotBenchRow]) -> str:
    head = ("| model | kernels | MACs | instructions | instr/MAC | arena B | TFLM arena B | ratio "
            "| weights B | AOT code B | image flash B | outputs match |")
    lines = [head, "|" + "---|" * head.count(" | ") + "---|"]
    for r in rows:
        lines.append(
            f"| {r.model} | {r.kernels} | {r.macs:,} | {r.instructions:,} | {r.instr_per_mac:.2f} | {r.arena_bytes:,} "
            f"| {r.tflm_arena_bytes:,} | {r.arena_ratio:.2f} | {r.weight_bytes:,} | {r.aot_code_bytes:,} "
            f"| {r.flash_bytes:,} | {'yes' if r.outputs_match else 'NO' if r.outputs_match is False else '?'} |")
    return "\n".join(lines)


def format_ops(row: AotBenchRow) -> str:
    lines = [f"{row.model} ({row.kernels}) per operator:",
             f"  {'#':>3} {'op':<18} {'MACs':>11} {'instructions':>13} {'instr/MAC':>9}"]
    for o in row.ops:
        per = f"{o['instructions'] / o['macs']:.2f}" if o.get("macs") else "-"
        lines.append(f"  {o['index']:>3} {o['name']:<18} {o['macs'] or 0:>11,} {o['instructions']:>13,.0f} {per:>9}")
    return "\n".join(lines)


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("aot-bench", help="AOT runtime benchmark: instructions/MAC and arena vs TFLM on every example and reference model (QEMU)")
    p.add_argument("--models", default=",".join(ALL_MODELS), help=f"comma-separated (default: {','.join(ALL_MODELS)})")
    p.add_argument("--kernels", choices=["dsp", "portable", "both"], default="dsp", help="kernel path (default dsp)")
    p.add_argument("--runs", type=int, default=1, help="timed runs per model (instruction counts are deterministic)")
    p.add_argument("--ops", action="store_true", help="also print the per-operator figures")
    p.add_argument("--json", action="store_true", help="print the rows as JSON")
    p.add_argument("--verbose", "-v", action="store_true")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    unknown = [n for n in names if n not in ALL_MODELS]
    if unknown:
        raise UserError(f"unknown model(s) {', '.join(unknown)}", f"choose from {', '.join(ALL_MODELS)}")
    paths = {"dsp": [True], "portable": [False], "both": [True, False]}[args.kernels]
    rows = []
    for name in names:
        for dsp in paths:
            row = bench_model(name, dsp=dsp, runs=args.runs, verbose=args.verbose)
            rows.append(row)
            if not args.json:
                print(f"{name} ({row.kernels}): {row.instructions:,} instructions, {row.instr_per_mac:.2f}/MAC, "
                      f"arena {row.arena_bytes:,} B = {row.arena_ratio:.2f} x TFLM", file=sys.stderr, flush=True)
    if args.json:
        json.dump([asdict(r) for r in rows], sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(format_table(rows))
        print(f"targets on the reference models: <= {TARGET_INSTR_PER_MAC} instructions/MAC, "
              f"arena <= {TARGET_ARENA_RATIO} x TFLM's")
        if args.ops:
            for r in rows:
                print()
                print(format_ops(r))
    return 0 if all(r.outputs_match is not False for r in rows) else 1
