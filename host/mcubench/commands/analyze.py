"""mcubench analyze: everything about one model on the host (ops, MACs, arena, TFLM verdict, metric)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from mcubench.commands.model_variants import add_source_args, print_table, resolve_source
from mcubench.core.errors import UserError
from mcubench.core.fileio import write_bytes_atomic, write_json_atomic
from mcubench.models.analysis import analyze
from mcubench.models.tf import third_party_output
from mcubench.recipes import get_recipe
from mcubench.recipes.base import Variant
from mcubench.recipes.variants import _StagingDir, check_out_dir, variant_entry
from mcubench.runtimes import RUNTIMES, get_runtime


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser("analyze", help="analyze a .tflite (or convert a Keras, PyTorch or ONNX model to float32 first)")
    p.add_argument("model_file", nargs="?", metavar="MODEL", help="the model, as every other command takes it (or --model)")
    add_source_args(p, out_required=False, source_required=False)
    p.set_defaults(func=run)
    return p


def runtime_support(tflite_bytes: bytes) -> dict[str, str | None]:
    """Per model runtime: None when it runs every operator, else why not."""
    return {name: runtime.model_support(tflite_bytes) for name, runtime in
            ((name, get_runtime(name)) for name in sorted(RUNTIMES)) if runtime.takes_model}


def run(args: argparse.Namespace) -> int:
    given = [x for x in (args.model_file, args.model, args.example) if x]
    if len(given) != 1:
        raise UserError("analyze takes one model: MODEL, --model MODEL or --example NAME",
                        "e.g. mcubench analyze model.tflite")
    args.model = args.model or args.model_file
    if args.out:
        check_out_dir(Path(args.out), args.force)
    with third_party_output():
        source = resolve_source(args)
        if source.model.tflite_bytes is not None:
            variant = Variant(name=source.model.name, recipe="as-given", tflite_bytes=source.model.tflite_bytes)
        else:
            variant = get_recipe("float32").apply(source.model, source.dataset, {})
        file_name = f"{variant.name}.tflite"
        analysis = analyze(variant.tflite_bytes, source.dataset, source=str(args.model or file_name),
                           eval_samples=args.eval_samples, run_micro=not args.no_micro, reference=source.model.predict)
    result = analysis.to_dict()
    support = runtime_support(variant.tflite_bytes)
    summary = {"command": "analyze", "source": source.label, "out_dir": args.out,
               "variants": [variant_entry(variant, analysis, file_name)], "analysis": result, "runtimes": support}
    if args.out:
        with _StagingDir(Path(args.out), args.force) as staging:
            write_bytes_atomic(staging / file_name, variant.tflite_bytes)
            write_json_atomic(staging / "analysis.json", result)
            write_json_atomic(staging / "summary.json", summary)
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    print_table(summary)
    for op in analysis.ops:
        print(f"  op {op['index']:3d} {op['name']:<22} v{op['version']:<3} MACs {op['macs']:>12,}")
    for p in analysis.problems:
        print(f"  not TFLM-deployable: op {p.op_index} {p.op_name}: {p.reason} -> use recipe {p.fix_recipe}")
    for name, reason in support.items():
        print(f"  runtime {name}: {'runs every operator' if reason is None else 'no: ' + reason}")
    if analysis.arena:
        a = analysis.arena
        print(f"  arena: {a['exact_bytes']} B exact on the 64-bit host (head {a['head_bytes']}, tail {a['tail_bytes']}); "
              f"reserve {a['budget_32bit_bytes']} B on 32-bit targets (+{a['margin_bytes']} B margin)")
    return 0
