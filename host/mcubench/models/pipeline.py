"""What the model commands share: pick the source and data, run recipes, analyze, write, print.

:func:`run_variants` is the stage the CLI commands (quantize, prune, qat, distill) call and
other code may call too: the float32 baseline plus one variant per recipe, each analyzed,
written into ``out_dir`` atomically (a temporary sibling directory renamed at the end, so
a failed run never leaves a complete-looking directory), and summarised as a JSON-able dict.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import UserError
from ..fileio import write_bytes_atomic, write_json_atomic
from .data import Dataset, load_dataset
from .load import SourceModel, as_source, load_model

SUMMARY_NAME = "summary.json"


@dataclass
class Source:
    model: SourceModel
    dataset: Dataset | None
    label: str  # "example digits" or the model path


def add_source_args(parser: argparse.ArgumentParser, *, out_required: bool = True) -> None:
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--model", help="trained model: .keras, .h5, SavedModel dir or .tflite")
    group.add_argument("--example", help="built-in example: digits, sine, kws_dscnn")
    parser.add_argument("--data", help="dataset: .npz/.npy or package.module:function (default: the example's)")
    parser.add_argument("--out", required=out_required, help="output directory (written atomically)")
    parser.add_argument("--force", action="store_true", help="replace an existing output directory")
    parser.add_argument("--seed", type=int, default=0, help="seed for example training and recipes")
    parser.add_argument("--eval-samples", type=int, default=500, help="test samples run through LiteRT and TFLM")
    parser.add_argument("--no-micro", action="store_true", help="skip running the test set through TFLM")
    parser.add_argument("--json", action="store_true", help="print only the JSON summary on stdout")


def resolve_source(args: argparse.Namespace) -> Source:
    if args.example:
        from .examples import load_example

        example = load_example(args.example, seed=args.seed)
        dataset = load_dataset(args.data) if args.data else example.dataset
        return Source(as_source(example.model), dataset, f"example {args.example}")
    model = load_model(args.model)
    dataset = load_dataset(args.data) if args.data else None
    return Source(model, dataset, str(args.model))


def parse_params(items: list[str] | None) -> dict[str, dict[str, Any]]:
    """``recipe.key=value`` (or ``key=value`` for every recipe) -> {recipe or '*': {key: value}}."""
    result: dict[str, dict[str, Any]] = {}
    for item in items or []:
        if "=" not in item:
            raise UserError(f"--param {item!r} is not key=value", "e.g. --param int8.calibration_samples=100")
        key, _, raw = item.partition("=")
        recipe, _, name = key.rpartition(".")
        try:
            value: Any = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        result.setdefault(recipe or "*", {})[name] = value
    return result


def check_out_dir(out: Path, force: bool) -> None:
    if out.exists() and any(out.iterdir()) and not force:
        raise UserError(f"output directory {out} already exists and is not empty", "choose another --out or pass --force")


class _StagingDir:
    """A temporary sibling of ``out`` renamed onto it only when everything succeeded."""

    def __init__(self, out: Path, force: bool):
        self.out, self.force = out, force

    def __enter__(self) -> Path:
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = Path(tempfile.mkdtemp(dir=self.out.parent, prefix=f".{self.out.name}.partial-"))
        os.chmod(self.tmp, 0o755)  # mkdtemp makes it private; the result is an ordinary directory
        return self.tmp

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            return False
        old = None
        if self.out.exists():
            check_out_dir(self.out, self.force)
            old = self.out.parent / f".{self.out.name}.old-{os.getpid()}"
            os.replace(self.out, old)
        os.replace(self.tmp, self.out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return False


def variant_entry(variant: Any, analysis: Any, file_name: str) -> dict:
    metric = analysis.metric or {}
    entry = {
        "name": variant.name,
        "recipe": variant.recipe,
        "file": file_name,
        "accuracy": metric.get("value") if metric.get("name") == "accuracy" else None,
        "mae": metric.get("value") if metric.get("name") == "mae" else None,
        "metric": metric or None,
        "size_bytes": analysis.size_bytes,
        "gzip_bytes": analysis.gzip_bytes,
        "params": analysis.params,
        "macs": analysis.total_macs,
        "arena_bytes": analysis.arena["exact_bytes"] if analysis.arena else None,
        "arena_32bit_budget_bytes": analysis.arena["budget_32bit_bytes"] if analysis.arena else None,
        "deployable_tflm": analysis.deployable_tflm,
        "problems": [p.__dict__ if hasattr(p, "__dict__") else p for p in analysis.problems],
        "lite_vs_micro": analysis.lite_vs_micro,
        "recipe_params": variant.params,
        "recipe_metrics": variant.metrics,
    }
    return entry


def run_variants(
    source: Source,
    recipes: list[tuple[str, dict]],
    out_dir: Path | str,
    *,
    command: str,
    force: bool = False,
    eval_samples: int = 500,
    run_micro: bool = True,
    baseline: bool = True,
) -> dict:
    """Baseline float32 + each ``(recipe name, params)``; analyze, write, return the summary."""
    from ..recipes import Variant, get_recipe
    from .analysis import analyze

    out = Path(out_dir)
    check_out_dir(out, force)
    todo = ([("float32", {})] if baseline else []) + list(recipes)
    instances = [(get_recipe(name), params) for name, params in todo]  # unknown names fail before any work
    for recipe, params in instances:
        recipe.merged_params(params)
    started = time.time()
    entries = []
    with _StagingDir(out, force) as staging:
        for recipe, params in instances:
            variant: Variant = recipe.apply(source.model, source.dataset, params)
            file_name = f"{variant.name}.tflite"
            variant.path = out / file_name
            write_bytes_atomic(staging / file_name, variant.tflite_bytes)
            analysis = analyze(variant.tflite_bytes, source.dataset, source=file_name, eval_samples=eval_samples, run_micro=run_micro)
            write_json_atomic(staging / f"{variant.name}.analysis.json", analysis.to_dict())
            entries.append(variant_entry(variant, analysis, file_name))
        summary = {
            "tool": f"mcubench {__version__}",
            "command": command,
            "source": source.label,
            "dataset": None if source.dataset is None else {
                "name": source.dataset.name, "task": source.dataset.task, "synthetic": source.dataset.synthetic,
                "train": len(source.dataset.x_train), "test": len(source.dataset.x_test),
            },
            "out_dir": str(out),
            "seconds": round(time.time() - started, 2),
            "variants": entries,
        }
        write_json_atomic(staging / SUMMARY_NAME, summary)
    return summary


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
        elif metric.get("name") == "mae":
            shown = f"MAE {metric['value']:.4f}"
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
    from .tf import third_party_output

    check_out_dir(Path(args.out), args.force)
    with third_party_output():  # TensorFlow's chatter: shown with -v, never on a --json stdout
        source = resolve_source(args)
        summary = run_variants(
            source, recipes, args.out, command=command, force=args.force,
            eval_samples=args.eval_samples, run_micro=not args.no_micro, baseline=baseline,
        )
    emit(summary, args.json)
    return 0
