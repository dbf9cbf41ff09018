"""`mcubench build`: render and build an image, no board attached; print its footprint.

    mcubench build model.tflite --runtime aot                  # for the Nano 33 BLE (default board)
    mcubench build model.tflite --runtime tflm --tflm-dir DIR --json
    mcubench build --workload dot_int8 --board mps2-an386

Flash, static RAM, the runtime's arena and the flash split of the real image, and whether it
fits the board (`--memory-of BOARD` checks another board's limits): a model can be sized for a
board before anyone owns one. Exits 1 when the image does not fit.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from mcubench.bench.pipeline import BuiltImage, build_stage, fit_problem
from mcubench.bench.request import BenchRequest
from mcubench.commands.bench import add_workload_options, workload_from_args
from mcubench.core.boards import load_board
from mcubench.core.fileio import write_json_atomic
from mcubench.core.identity import git_hash, tool_version

BUILD_SCHEMA_ID = "mcubench.build/1"


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("build", help="build an image without running it: flash, RAM, arena, does it fit")
    add_workload_options(p)
    p.add_argument("--board", default="nano33ble", help="board id (mcubench boards); default: nano33ble")
    p.add_argument("--target", default=None, help="build the image as this target runs the board (default: the board's own)")
    p.add_argument("--memory-of", metavar="BOARD", help="check the fit against this board's flash/RAM limits")
    p.add_argument("--warmup", type=int, default=1, help="untimed runs the image will make at boot (default 1)")
    p.add_argument("--runs", type=int, default=5, help="timed runs the image will make at boot (default 5)")
    p.add_argument("--json", action="store_true", help="print the build record as JSON on stdout")
    p.add_argument("--out", type=Path, help="also write the build record (JSON) here")
    p.add_argument("--verbose", "-v", action="store_true", help="show the commands run")
    p.set_defaults(func=run)
    return p


def build_record(request: BenchRequest, built: BuiltImage) -> dict[str, Any]:
    """What one build gives, in the result record's terms (`memory.*` as in docs/results-schema.md)."""
    workload, sizes = request.workload, built.sizes
    return {
        "schema": BUILD_SCHEMA_ID,
        "identity": {
            "tool_version": tool_version(),
            "git_hash": git_hash(),
            "model": {
                "name": workload.name,
                "sha256": workload.model_sha256,
                "path": str(workload.model_path) if workload.model_path else None,
            },
            "runtime": request.runtime,
            "board": built.board.id,
            "port": built.project.board.port,
            "memory_of": request.memory_of,
            "build_id": built.image.build_id,
        },
        "image": {"elf": str(built.image.elf), "project_dir": str(built.project.dir)},
        "memory": {
            "flash_bytes": sizes.flash,
            "static_ram_bytes": sizes.static_ram,
            "arena_bytes": built.project.sources.arena_bytes,
            "flash_split": built.flash_split.to_dict() if built.flash_split is not None else None,
            "sections": sizes.to_dict(),
            "limits": built.limits,
        },
        "fits": built.limits["fits"],
        "problem": fit_problem(sizes, built.limits_board),
    }


def run(args: argparse.Namespace) -> int:
    workload, runtime, _ = workload_from_args(args)
    board = load_board(args.board)
    if args.memory_of:
        load_board(args.memory_of)  # an unknown board is refused before building
    target = board.default_target if args.target in (None, "auto") else args.target
    request = BenchRequest(workload=workload, runtime=runtime, board=board.id, target=target,
                           memory_of=args.memory_of, verbose=args.verbose)
    record = build_record(request, build_stage(request, target))
    if args.out:
        write_json_atomic(args.out, record)
    if args.json:
        json.dump(record, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print_record(record)
    return 0 if record["fits"] else 1


def print_record(record: dict[str, Any]) -> None:
    ident, mem = record["identity"], record["memory"]
    limits = mem["limits"]
    table = Table(title=f"{ident['model']['name']} · {ident['runtime']} · built for {ident['board']}", header_style="bold")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_row("flash (text+rodata+data)", f"{mem['flash_bytes']:,} B of {limits['flash_bytes']:,} B")
    table.add_row("static RAM (data+bss)", f"{mem['static_ram_bytes']:,} B of {limits['ram_bytes']:,} B")
    if mem["arena_bytes"] is not None:
        table.add_row("arena (in static RAM)", f"{mem['arena_bytes']:,} B")
    split = mem["flash_split"]
    if split:
        table.add_row("flash split", f"model {split['model']:,} B · runtime {split['runtime']:,} B · rest {split['rest']:,} B")
    table.add_row(f"fits {limits['board']}", "yes" if record["fits"] else f"NO: {record['problem']}")
    Console().print(table)
    print(f"image: {record['image']['elf']}")
