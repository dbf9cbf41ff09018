"""What the model commands (quantize, prune, qat, distill, analyze) share: the source options,
the recipe ``--param`` options, and the comparison table."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from mcubench.core.errors import UserError
from mcubench.core.params import parse_params
from mcubench.models.data import load_dataset
from mcubench.models.examples import load_example
from mcubench.models.load import as_source, load_model
from mcubench.models.tf import third_party_output
from mcubench.models.torch_examples import TORCH_EXAMPLES, load_torch_example
from mcubench.recipes.variants import SUMMARY_NAME, Source, check_out_dir, run_variants


def add_source_args(parser: argparse.ArgumentParser, *, out_required: bool = True, source_required: bool = True) -> None:
    group = parser.add_mutually_exclusive_group(required=source_required)
    group.add_argument("--model", help="trained model: .keras, .h5, SavedModel dir, .tflite, .pt2 (torch.export.save), "
                                        ".onnx, or package.module:function returning (torch.nn.Module, example_input)")
    group.add_argument("--example", help="built-in example: digits, sine, kws_dscnn")
    parser.add_argument("--framework", choices=("keras", "torch"), default=None,
                        help=f"the example's framework (default keras; torch: {', '.join(TORCH_EXAMPLES)}, data channels first)")
    parser.add_argument("--data", help="dataset: .npz/.npy or package.module:function (default: the example's)")
    parser.add_argument("--out", required=out_required, help="output directory (written atomically)")
    parser.add_argument("--force", action="store_true", help="replace an existing output directory")
    parser.add_argument("--seed", type=int, default=0, help="seed for example training and recipes")
    parser.add_argument("--eval-samples", type=int, default=500, help="test samples run through LiteRT and TFLM")
    parser.add_argument("--no-micro", action="store_true", help="skip running the test set through TFLM")
    parser.add_argument("--json", action="store_true", help="print only the JSON summary on stdout")


def resolve_source(args: argparse.Namespace) -> Source:
    if args.model and args.framework:
        raise UserError(f"--framework {args.framework} applies to --example; a model file's type decides its framework",
                        f"drop --framework (mcubench reads {Path(str(args.model)).suffix or 'the model'} as it is)")
    if args.example and args.framework == "torch":
        model, data, _ = load_torch_example(args.example, seed=args.seed)
        dataset = load_dataset(args.data) if args.data else data
        return Source(model, dataset, f"example {args.example} (PyTorch)")
    if args.example:
        example = load_example(args.example, seed=args.seed)
        dataset = load_dataset(args.data) if args.data else example.dataset
        return Source(as_source(example.model), dataset, f"example {args.example}")
    model = load_model(args.model)
    dataset = load_dataset(args.data) if args.data else None
    return Source(model, dataset, str(args.model))


def parse_recipe_params(items: list[str] | None) -> dict[str, dict[str, Any]]:
    """``recipe.key=value`` (or ``key=value`` for every recipe) -> {recipe or '*': {key: value}};
    a value that reads as JSON is that value."""
    result: dict[str, dict[str, Any]] = {}
    for key, value in parse_params(items, example="int8.calibration_samples=100", decode_json=True).items():
        recipe, _, name = key.rpartition(".")
        result.setdefault(recipe or "*", {})[name] = value
    return result


def _kib(n: int | None) -> str:
    return "-" if n is None else f"{n / 1024:.1f} KiB"


def print_table(summary: dict, file: Any = None) -> None:
    """One comparison table: variant, metric, size, gzip size, MACs, arena, deployable?"""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{summary['command']}: {summary['source']}")
    for col in ("variant", "recipe", "metric", "size", "gzip", "MACs", "arena (64-bit host)", "TFLM?"):
        table.add_column(col, justify="left" if col in ("variant", "recipe", "TFLM?") else "right")
    for v in summary["variants"]:
        metric = v.get("metric") or {}
        if metric.get("name") == "accuracy":
            shown = f"acc {metric['value'] * 100:.2f} %"
            if metric.get("source") is not None:  # the PyTorch/ONNX model itself, before conversion
                shown += f" (source {metric['source'] * 100:.2f} %)"
        elif metric.get("name") == "mae":
            shown = f"MAE {metric['value']:.4f}"
            if metric.get("source") is not None:
                shown += f" (source {metric['source']:.4f})"
        else:
            shown = "-"
        deploy = "yes" if v["deployable_tflm"] else "no: " + "; ".join(
            f"#{p['op_index']} {p['op_name']} (fix: {p['fix_recipe']})" for p in v["problems"][:2]
        )
        table.add_row(v["name"], v["recipe"], shown, _kib(v["size_bytes"]), _kib(v["gzip_bytes"]), f"{v['macs']:,}", _kib(v["arena_bytes"]), deploy)
    Console(file=file or sys.stdout, width=160).print(table)


def emit(summary: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(summary, indent=2))
    else:
        print_table(summary)
        print(f"wrote {summary['out_dir']}/{SUMMARY_NAME}")


def run_command(args: argparse.Namespace, command: str, recipes: list[tuple[str, dict]], baseline: bool = True) -> int:
    """The body of quantize/prune/qat/distill: resolve, run, write, print. Returns the exit code."""

    check_out_dir(Path(args.out), args.force)
    with third_party_output():  # TensorFlow's chatter: shown with -v, never on a --json stdout
        source = resolve_source(args)
        summary = run_variants(
            source, recipes, args.out, command=command, force=args.force,
            eval_samples=args.eval_samples, run_micro=not args.no_micro, baseline=baseline,
        )
    emit(summary, args.json)
    return 0
