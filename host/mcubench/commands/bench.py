"""`mcubench bench`: build a benchmark firmware, run it, print and store the result.

With no arguments, the main job: the keyword-spotting example (DS-CNN, int8, made once and
cached) on the emulated Cortex-M4F (QEMU) with the AOT runtime, with the cycle estimate and the
memory limits of the Nano 33 BLE, TFLM's figures beside it when its sources are configured, and
the command that runs it on a real board. `--workload dot_int8` runs a built-in workload instead.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
from pathlib import Path

from mcubench.bench.pipeline import run_bench
from mcubench.bench.request import BenchRequest
from mcubench.bench.result import default_result_path
from mcubench.bench.workloads import workload_for_example, workload_for_model
from mcubench.commands.options import add_run_options, add_runtime_options, runtime_options, target_options
from mcubench.core.boards import load_board
from mcubench.core.errors import UserError
from mcubench.core.fileio import check_writable, write_json_atomic
from mcubench.core.params import parse_params
from mcubench.core.paths import results_dir
from mcubench.core.types import RunOptions, WorkloadSpec
from mcubench.estimate.model import load_cost_model
from mcubench.results import history
from mcubench.results.formats import write_csv
from mcubench.runtimes import RUNTIMES, WORKLOAD_RUNTIME, get_runtime, tflm_dir
from mcubench.targets import get_target
from mcubench.targets.base import Capability

# The main job: what `bench` measures when given no model and no --workload.
MAIN_EXAMPLE, MAIN_RECIPE, MAIN_RUNTIME = "kws_dscnn", "int8", "aot"
REAL_BOARD = "nano33ble"  # whose estimate and limits the main job reports (docs/hardware.md)
DEFAULT_WORKLOAD = "dot_int8"  # with --runtime builtin and no --workload


def add_workload_options(p: argparse.ArgumentParser) -> None:
    """What runs in the image: a model and its runtime, or a built-in workload (bench, build)."""
    p.add_argument("model", nargs="?",
                   help=f"a .tflite model (default: the {MAIN_EXAMPLE} example, {MAIN_RECIPE}, on the {MAIN_RUNTIME} runtime)")
    p.add_argument("--runtime", choices=sorted(RUNTIMES), default=None,
                   help=f"a model runtime, or {WORKLOAD_RUNTIME} for the built-in workloads")
    p.add_argument("--workload", default=None,
                   help=f"a built-in workload instead of a model, e.g. {DEFAULT_WORKLOAD} (the int8 dot product)")
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
        if args.workload:
            raise UserError("give a model or --workload, not both", f"e.g. mcubench bench --workload {args.workload}")
        workload, runtime, extras = workload_for_model(Path(args.model), args.runtime)
    elif is_main_job(args):
        workload, runtime, extras = workload_for_example(MAIN_EXAMPLE, MAIN_RECIPE, {}, args.runtime or MAIN_RUNTIME)
    else:
        runtime = args.runtime or WORKLOAD_RUNTIME
        if get_runtime(runtime).takes_model:
            raise UserError(f"--runtime {runtime} needs a model", "give a .tflite file, e.g. mcubench bench model.tflite --runtime aot")
        workload, extras = WorkloadSpec(args.workload or DEFAULT_WORKLOAD, parse_params(args.param)), {}
    workload.options = runtime_options(runtime, args)
    workload.warmup, workload.runs = args.warmup, args.runs
    return workload, runtime, extras


def is_main_job(args: argparse.Namespace) -> bool:
    """No model, no built-in workload, and no runtime that only runs workloads."""
    if args.model or args.workload or args.param:
        return False
    return args.runtime is None or get_runtime(args.runtime).takes_model


def request_from_args(args: argparse.Namespace) -> BenchRequest:
    if not (math.isfinite(args.timeout) and args.timeout > 0):
        raise UserError(f"--timeout {args.timeout:g} is not a positive number of seconds", "e.g. --timeout 120")
    target = None if args.target in (None, "auto") else args.target
    target_name = target or load_board(args.board).default_target
    memory_of, estimate = args.memory_of, args.estimate
    # Named boards and assumptions are checked before a model is made or an image built.
    if memory_of:
        load_board(memory_of)
    if estimate:
        load_cost_model().board(estimate)
        get_target(target_name).require(Capability.INSTRUCTION_PLUGIN, "load the cycle-estimate plugin (--estimate)")
    if is_main_job(args) and args.board != REAL_BOARD:
        # The main job answers for the real board: its limits, and its cycles where the target
        # can estimate them (an emulator counting instructions).
        memory_of = memory_of or REAL_BOARD
        if estimate is None and Capability.INSTRUCTION_PLUGIN in get_target(target_name).capabilities:
            estimate = REAL_BOARD
    workload, runtime, extras = workload_from_args(args)
    options = RunOptions(timeout=args.timeout, transcript=args.transcript, port=args.port,
                         target=target_options(target_name, args))
    return BenchRequest(
        workload=workload, runtime=runtime, board=args.board, target=target, memory_of=memory_of,
        estimate=estimate, options=options, verbose=args.verbose, **extras,
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
    result = run_bench(request).result
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
        if is_main_job(args):
            main_job_epilogue(args, request, result)
    return 0 if result.get("outputs_match") is not False else 1


def main_job_epilogue(args: argparse.Namespace, request: BenchRequest, result: dict) -> None:
    """After the main job's table: TFLM measured beside it (when its sources are configured
    and no runtime was chosen), then the commands that take the same model to a real board."""
    if args.runtime is None and tflm_dir(getattr(args, "tflm_dir", None)) is not None:
        tflm = tflm_beside(args, request)
        if tflm is not None:
            print_side_by_side(result, tflm)
    model = Path(result["identity"]["model"]["path"])
    shown = model.relative_to(Path.cwd()) if model.is_relative_to(Path.cwd()) else model
    runtime = result["identity"]["runtime"]
    print(f"\nOn a {REAL_BOARD} (USB): mcubench bench {shown} --board {REAL_BOARD} --runtime {runtime}")
    print(f"Fit only, no board:      mcubench build {shown} --runtime {runtime}")


def tflm_beside(args: argparse.Namespace, request: BenchRequest) -> dict | None:
    """The same model, board and estimate on TFLM; its own result and history entry. A TFLM
    failure is reported in one line and leaves the main result as it is."""
    workload, runtime, extras = workload_for_example(MAIN_EXAMPLE, MAIN_RECIPE, {}, "tflm")
    workload.options = runtime_options(runtime, args)
    workload.warmup, workload.runs = args.warmup, args.runs
    tflm_request = dataclasses.replace(request, workload=workload, runtime=runtime, **extras)
    try:
        result = run_bench(tflm_request).result
    except UserError as err:
        print(f"TFLM beside: not measured ({err})", file=sys.stderr)
        return None
    write_json_atomic(default_result_path(result), result)
    history.add_result(result)
    return result


def print_side_by_side(first: dict, second: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    names = [r["identity"]["runtime"] for r in (first, second)]
    table = Table(title=f"{first['identity']['model']['name']}: {names[0]} beside {names[1]}", header_style="bold")
    table.add_column("figure")
    for name in names:
        table.add_column(name, justify="right")
    table.add_column(f"{names[0]} / {names[1]}", justify="right")
    rows = [
        ("instructions per run (emulated)", lambda r: r.get("instructions")),
        (f"estimated cycles per run ({(first.get('estimate') or {}).get('board')})", lambda r: r.get("estimated_cycles")),
        ("flash", lambda r: r["memory"]["flash_bytes"]),
        ("static RAM", lambda r: r["memory"]["static_ram_bytes"]),
        ("arena used", lambda r: r["memory"].get("arena_used_bytes")),
    ]
    for label, figure in rows:
        a, b = figure(first), figure(second)
        if a is None or b is None:
            continue
        table.add_row(label, f"{a:,.0f}", f"{b:,.0f}", f"{a / b:.2f}" if b else "-")
    table.add_row("outputs match host TFLM", *("yes" if r.get("outputs_match") else "NO" for r in (first, second)), "")
    Console().print(table)


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


def assumption_summary(assumed: dict) -> str:
    """The estimate's board assumption in a few words (the full sentence is in the record)."""
    if not assumed.get("code_in_flash"):
        where = "code in RAM"
    else:
        where = f"code in flash, {assumed['flash_wait_states']} wait states, instruction cache {assumed['icache']}"
    return f"{assumed['clock_hz'] / 1e6:g} MHz, {where} (docs/cycle-estimate.md)"


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
    if ci and ci[1] - ci[0] > lat["resolution"]:  # runs that vary beyond a timer tick (a real board)
        table.add_row("95 % interval of the median", f"{ci[0]:,.0f} – {ci[1]:,.0f}")
    if lat.get("outliers"):
        table.add_row("outlier runs", ", ".join(f"#{i} ({lat['runs'][i]:,.0f})" for i in lat["outliers"]))
    table.add_row("timer resolution", f"{lat['resolution']:g} {unit} per tick")
    if result.get("latency_ms") is not None:
        table.add_row("latency", f"{result['latency_ms']:.3f} ms at {ident['clock_hz'] / 1e6:g} MHz")
    if result.get("estimated_cycles") is not None:
        est = result["estimate"]
        table.add_row(f"estimate for {est['board']}", f"{result['estimated_cycles']:,} cycles ≈ {result['estimated_ms']:.3f} ms (estimate, not measured)")
        table.add_row("  assuming", escape(assumption_summary(est["assumptions"])))
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
        table.add_row("outputs match host TFLM", "yes, bit for bit" if result["outputs_match"] else "NO")
    host = result.get("host") or {}
    if host.get("macs"):
        table.add_row("multiply-accumulates per run", f"{host['macs']:,}")
    if host.get("accuracy") is not None:
        table.add_row("accuracy on the host (TFLM interpreter)", f"{host['accuracy']:.3f}")
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
