"""`mcubench bench`: build a benchmark firmware, run it, print and store the result.

With no arguments: the built-in int8 dot product on the emulated Cortex-M4F (QEMU).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from mcubench.bench.pipeline import run_bench
from mcubench.bench.request import BenchRequest
from mcubench.bench.result import default_result_path
from mcubench.bench.workloads import workload_for_model
from mcubench.commands.options import add_run_options, add_runtime_options, runtime_options, target_options
from mcubench.core.boards import load_board
from mcubench.core.errors import UserError
from mcubench.core.fileio import check_writable, write_json_atomic
from mcubench.core.params import parse_params
from mcubench.core.paths import results_dir
from mcubench.core.types import RunOptions, WorkloadSpec
from mcubench.results import history
from mcubench.results.formats import write_csv
from mcubench.runtimes import RUNTIMES, WORKLOAD_RUNTIME, get_runtime


def add_workload_options(p: argparse.ArgumentParser) -> None:
    """What runs in the image: a model and its runtime, or a built-in workload (bench, build)."""
    p.add_argument("model", nargs="?", help="a .tflite model (default: the built-in workload)")
    p.add_argument("--runtime", choices=sorted(RUNTIMES), default=None,
                   help=f"{WORKLOAD_RUNTIME} (the default without a model), or a model runtime")
    p.add_argument("--workload", default="dot_int8", help="built-in workload (default dot_int8)")
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE", help="workload parameter, e.g. n=2048")
    add_runtime_options(p)


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("bench", help="build, run and measure a benchmark firmware (the main job)")
    add_workload_options(p)
    add_run_options(p)
    p.add_argument("--json", action="store_true", help="print the result record as JSON on stdout")
    p.add_argument("--csv", action="store_true", help="print the main figures as one CSV row (with a header)")
    p.add_argument("--out", type=Path, help="write the result JSON here (default results/runs/<id>.json)")
    p.add_argument("--transcript", type=Path, help="save the raw serial log here")
    p.set_defaults(func=run)
    return p


def workload_from_args(args: argparse.Namespace) -> tuple[WorkloadSpec, str, dict]:
    """The workload, runtime and request extras named by `bench`/`build` arguments."""
    if args.warmup < 0 or args.runs < 1:
        raise UserError("--runs must be at least 1 and --warmup at least 0", "e.g. --warmup 1 --runs 5")
    if args.model:
        workload, runtime, extras = workload_for_model(Path(args.model), args.runtime)
    else:
        runtime = args.runtime or WORKLOAD_RUNTIME
        if get_runtime(runtime).takes_model:
            raise UserError(f"--runtime {runtime} needs a model", "give a .tflite file, e.g. mcubench bench model.tflite --runtime aot")
        workload, extras = WorkloadSpec(args.workload, parse_params(args.param)), {}
    workload.options = runtime_options(runtime, args)
    workload.warmup, workload.runs = args.warmup, args.runs
    return workload, runtime, extras


def request_from_args(args: argparse.Namespace) -> BenchRequest:
    if not (math.isfinite(args.timeout) and args.timeout > 0):
        raise UserError(f"--timeout {args.timeout:g} is not a positive number of seconds", "e.g. --timeout 120")
    target = None if args.target in (None, "auto") else args.target
    workload, runtime, extras = workload_from_args(args)
    options = RunOptions(timeout=args.timeout, transcript=args.transcript, port=args.port,
                         target=target_options(target or load_board(args.board).default_target, args))
    return BenchRequest(
        workload=workload, runtime=runtime, board=args.board, target=target, memory_of=args.memory_of,
        estimate=args.estimate, options=options, verbose=args.verbose, **extras,
    )


def preflight_outputs(out: Path | None) -> None:
    """Where the result will go, checked before anything is built: a finished measurement must
    not be lost to an unwritable --out or a damaged history."""
    if out is not None:
        check_writable(out, "--out")
    check_writable(results_dir() / "runs" / "result.json", "the results folder")
    history.History().check_usable()


def run(args: argparse.Namespace) -> int:
    preflight_outputs(args.out)
    request = request_from_args(args)
    outcome = run_bench(request)
    result = outcome.result
    path = args.out or default_result_path(result)
    write_json_atomic(path, result)
    history.add_result(result)
    if args.json:
        json.dump(result, sys.stdout, indent=2)
        sys.stdout.write("\n")
    elif args.csv:
        write_csv([csv_row(result)], CSV_COLUMNS)
    else:
        print_result(result)
        print(f"result: {path}")
    return 0 if result.get("outputs_match") is not False else 1


CSV_COLUMNS = [
    "id", "model", "variant", "runtime", "board", "target", "latency_unit", "latency_median", "latency_min",
    "latency_max", "instructions", "cycles", "latency_ms", "estimated_cycles", "estimated_ms", "flash_bytes",
    "static_ram_bytes", "stack_high_water_bytes", "arena_used_bytes", "outputs_match",
]


def csv_row(result: dict) -> dict:
    """The record's main figures, flat, for spreadsheets and scripts."""
    ident, lat, mem = result["identity"], result["latency"], result["memory"]
    return {
        "id": result["id"], "model": ident["model"]["name"], "variant": ident.get("variant"), "runtime": ident["runtime"],
        "board": ident["board"], "target": ident["target"], "latency_unit": lat["unit"], "latency_median": lat["median"],
        "latency_min": lat["min"], "latency_max": lat["max"], "instructions": result.get("instructions"),
        "cycles": result.get("cycles"), "latency_ms": result.get("latency_ms"), "estimated_cycles": result.get("estimated_cycles"),
        "estimated_ms": result.get("estimated_ms"), "flash_bytes": mem["flash_bytes"], "static_ram_bytes": mem["static_ram_bytes"],
        "stack_high_water_bytes": mem.get("stack_high_water_bytes"), "arena_used_bytes": mem.get("arena_used_bytes"),
        "outputs_match": result.get("outputs_match"),
    }


def print_result(result: dict) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    ident, lat, mem = result["identity"], result["latency"], result["memory"]
    unit = lat["unit"]
    label = {"instructions": "instructions (QEMU icount, emulated)", "cycles": "cycles (DWT)",
             "virtual_cycles": "cycles of Renode virtual time"}.get(unit, unit)
    title = f"{ident['model']['name']} · {ident['runtime']} · {ident['board']} on {ident['target']}"
    table = Table(title=title, show_header=True, header_style="bold")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_row(escape(f"latency per run [{label}]"), f"median {lat['median']:,.0f}  (min {lat['min']:,.0f}, max {lat['max']:,.0f}, n={len(lat['runs'])})")
    ci = lat.get("ci95")
    if ci and ci[0] != ci[1]:  # runs that vary (a real board): how sure the median is
        table.add_row("95 % interval of the median", f"{ci[0]:,.0f} – {ci[1]:,.0f}")
    if lat.get("outliers"):
        table.add_row("outlier runs", ", ".join(f"#{i} ({lat['runs'][i]:,.0f})" for i in lat["outliers"]))
    table.add_row("timer resolution", f"{lat['resolution']:g} {unit} per tick")
    if result.get("latency_ms") is not None:
        table.add_row("latency", f"{result['latency_ms']:.3f} ms at {ident['clock_hz'] / 1e6:g} MHz")
    if result.get("estimated_cycles") is not None:
        est = result["estimate"]
        table.add_row(f"estimate for {est['board']}", f"{result['estimated_cycles']:,} cycles ≈ {result['estimated_ms']:.3f} ms (estimate, not measured)")
    table.add_row("flash (text+rodata+data)", f"{mem['flash_bytes']:,} B")
    table.add_row("static RAM (data+bss)", f"{mem['static_ram_bytes']:,} B")
    if mem.get("stack_high_water_bytes") is not None:
        table.add_row("stack high-water", f"{mem['stack_high_water_bytes']:,} of {mem['stack_size_bytes']:,} B")
    if mem.get("arena_used_bytes") is not None:
        table.add_row("arena used / allocated", f"{mem['arena_used_bytes']:,} / {mem.get('arena_allocated_bytes') or 0:,} B")
    limits = mem.get("limits") or {}
    if limits:
        table.add_row(f"fits {limits['board']}", f"{'yes' if limits['fits'] else 'NO'} (flash {limits['flash_bytes']:,} B, RAM {limits['ram_bytes']:,} B)")
    if result.get("outputs_match") is not None:
        table.add_row("outputs match host TFLM", "yes" if result["outputs_match"] else "NO")
    Console().print(table)
    if result.get("ops"):
        estimated = {o["index"]: o["estimated_cycles"] for o in (result.get("estimate") or {}).get("ops", [])}
        ops = Table(title="per operator (mean per run)", header_style="bold")
        ops.add_column("#", justify="right")
        ops.add_column("op")
        ops.add_column(unit, justify="right")
        if estimated:
            ops.add_column(f"est. cycles on {result['estimate']['board']} (estimate)", justify="right")
        for op in result["ops"]:
            cells = [str(op["index"]), op["name"], f"{op['value']:,.0f}"]
            if estimated:
                cells.append(f"{estimated[op['index']]:,}" if op["index"] in estimated else "-")
            ops.add_row(*cells)
        Console().print(ops)
    for warning in result.get("warnings", [])[:5]:
        print(f"warning: {warning}", file=sys.stderr)
