"""`mcubench render`: write the firmware project for a model without building it.

    mcubench render --example digits --runtime tflm --board nano33ble --out DIR
    mcubench render --model m.tflite --runtime tflm --board mps2-an386 --out DIR --cmsis-nn off
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

from mcubench.bench.render import render_project
from mcubench.commands.options import add_runtime_options, runtime_options
from mcubench.core.boards import load_board
from mcubench.core.errors import UserError
from mcubench.core.types import WorkloadSpec
from mcubench.models.bench_input import read_tflite, test_input
from mcubench.recipes.variants import example_variant
from mcubench.runtimes import model_runtimes


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("render", help="write a model's firmware project (PlatformIO) without building it")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--model", type=Path, help="a .tflite model")
    src.add_argument("--example", help="a built-in example (digits, sine, kws_dscnn), quantized with --recipe")
    p.add_argument("--recipe", default="int8", help="recipe applied to an --example (default int8)")
    p.add_argument("--runtime", choices=sorted(model_runtimes()), default="tflm")
    p.add_argument("--board", default="nano33ble", help="board id (default nano33ble)")
    p.add_argument("--target", default=None, help="the target the image is for (default: the board's own)")
    p.add_argument("--out", type=Path, required=True, help="project directory to write")
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--runs", type=int, default=5)
    add_runtime_options(p)
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    if args.model:
        model_bytes, name = read_tflite(args.model), args.model.stem
    else:
        model_bytes, _ = example_variant(args.example, args.recipe)
        name = f"{args.example}_{args.recipe}"
    if args.runs < 1 or args.warmup < 0:
        raise UserError("--runs must be at least 1 and --warmup at least 0", "e.g. --warmup 1 --runs 5")
    workload = WorkloadSpec(name, model_path=args.model, model_bytes=model_bytes,
                            model_sha256=hashlib.sha256(model_bytes).hexdigest(), input_bytes=test_input(model_bytes)[1],
                            options=runtime_options(args.runtime, args))
    workload.warmup, workload.runs = args.warmup, args.runs
    board = load_board(args.board)
    board = board.for_target(args.target or board.default_target)
    project = render_project(args.runtime, workload, board, out_dir=args.out.resolve())
    print(f"rendered {args.runtime} project for {board.id} in {project.dir} (build id {project.build_id})")
    for key in ("resolver_methods", "arena", "kernels"):
        if key in project.sources.facts:
            value = project.sources.facts[key]
            if key == "arena":
                value = f"{value['bytes']:,} B = exact {value['exact_bytes']:,} B + margin {value['margin_bytes']:,} B"
            print(f"  {key}: {value}")
    print(f"  build it: pio run -d {project.dir}")
    return 0
