"""mcubench prune: pruning at one or more sparsities, optionally + int8; ``--study`` runs the
whole pruning study on the device.

``--structure none`` prunes weight by weight (tfmot), ``block`` prunes whole blocks of the
kernels' SIMD shape (``--block 4x4``: 4 input x 4 output channels; or M:N such as ``2:4``),
``channels`` removes filters (the model is rebuilt smaller, then fine-tuned). Several
structures may be given, comma-separated.

``--study``: schedule (constant, polynomial decay) x final sparsity x structure (x polynomial
begin:end epochs) as int8 variants of an example, each benchmarked with the AOT runtime on the
emulated Cortex-M4 with a cycle estimate for ``--estimate`` (a Dask sweep: resumable, parallel;
results in the history), then one table and a report with plots written to ``--out``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from mcubench.commands.model_variants import add_source_args, run_command
from mcubench.core.errors import UserError
from mcubench.core.fileio import write_json_atomic
from mcubench.estimate.model import load_cost_model
from mcubench.recipes.prune import parse_structure
from mcubench.recipes.variants import check_out_dir
from mcubench.results.history import History
from mcubench.results.report import write_report
from mcubench.results.study import study_report, study_row, study_table
from mcubench.sweep import parse_config, run_sweep

STRUCTURES = ("none", "block", "channels")
STUDY_BOARD, STUDY_RUNTIME = "mps2-an386", "aot"


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser("prune", help="pruned variants (weights, blocks or channels; constant or polynomial-decay sparsity), "
                              "evaluated on the host; --study benchmarks the grid on the device")
    add_source_args(p)
    p.add_argument("--structure", default="none",
                   help="none: weight by weight; block: whole blocks (--block); channels: filters removed, model rebuilt; "
                   "comma-separated for several (default none)")
    p.add_argument("--block", default="4x4", help="with --structure block: HxW block of input x output channels (default 4x4, "
                   "what the AOT sparse kernel skips) or M:N (e.g. 2:4)")
    p.add_argument("--schedule", choices=("constant", "polynomial", "both"), default=None,
                   help="sparsity schedule of none/block (default constant; --study: both); channel pruning is one-shot, then fine-tuned")
    p.add_argument("--sparsity", default="0.5,0.75,0.875", help="final sparsities, comma-separated fractions (default 0.5,0.75,0.875); "
                   "with --structure channels the fraction of channels removed")
    p.add_argument("--initial-sparsity", type=float, default=0.0, help="polynomial schedule start (default 0)")
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--start-epoch", type=int, default=0)
    p.add_argument("--end-epoch", type=int, default=3, help="polynomial schedule end")
    p.add_argument("--frequency", type=int, default=10, help="steps between mask updates")
    p.add_argument("--quantize", choices=("float32", "int8", "both"), default="both", help="convert pruned models to float32, int8 or both "
                   "(--study: always int8)")
    p.add_argument("--method", choices=("tfmot", "torch_l1", "torch_channels"), default="tfmot",
                   help="tfmot (Keras: the structures and schedules above); PyTorch models: torch_l1 (global unstructured L1) or "
                        "torch_channels (L1 channel pruning, channels removed); --sparsity is then the weight or channel fraction")
    study = p.add_argument_group("study (--study)")
    study.add_argument("--study", action="store_true", help="run the pruning study on the emulated board and write its report to --out")
    study.add_argument("--begin-end", default=None, metavar="B:E,...",
                       help="polynomial schedule begin:end epochs to sweep (default: --start-epoch:--end-epoch)")
    study.add_argument("--estimate", default="nano33ble", metavar="ASSUMPTION", help="board assumption of the cycle estimate (default nano33ble)")
    study.add_argument("--workers", type=int, default=None, help="worker processes of the local Dask cluster (default: one per core)")
    study.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="use an existing Dask cluster")
    p.set_defaults(func=run)
    return p


def _sparsities(args: argparse.Namespace) -> list[float]:
    try:
        sparsities = [float(s) for s in args.sparsity.split(",") if s.strip()]
    except ValueError:
        raise UserError(f"--sparsity {args.sparsity!r} is not a list of numbers", "e.g. --sparsity 0.5,0.75") from None
    if not sparsities:
        raise UserError("--sparsity is empty", "e.g. --sparsity 0.75")
    return sparsities


def _structures(args: argparse.Namespace) -> list[str]:
    structures = [s.strip() for s in args.structure.split(",") if s.strip()]
    bad = [s for s in structures if s not in STRUCTURES]
    if bad or not structures:
        raise UserError(f"--structure {args.structure!r}: unknown structure {', '.join(bad) or '(none given)'}",
                        f"choose from {', '.join(STRUCTURES)}, comma-separated")
    return structures


def _begin_end(args: argparse.Namespace) -> list[tuple[int, int]]:
    if not args.begin_end:
        return [(args.start_epoch, args.end_epoch)]
    try:
        pairs = [tuple(int(v) for v in item.split(":")) for item in args.begin_end.split(",") if item.strip()]
    except ValueError:
        pairs = []
    if not pairs or any(len(p) != 2 or p[0] < 0 or p[1] <= p[0] for p in pairs):
        raise UserError(f"--begin-end {args.begin_end!r} is not a list of BEGIN:END epochs with END > BEGIN >= 0", "e.g. --begin-end 0:3,1:3")
    return pairs  # type: ignore[return-value]


def recipe_grid(args: argparse.Namespace, quantize: tuple[str, ...], schedules: tuple[str, ...],
                begin_end: list[tuple[int, int]]) -> list[tuple[str, dict[str, Any]]]:
    """Every (recipe, parameters) the structures, schedules, sparsities and quantizations ask for."""
    grid: list[tuple[str, dict[str, Any]]] = []
    block, m_by_n = parse_structure("prune --block", "" if ":" in args.block else args.block, args.block if ":" in args.block else "")
    for structure in _structures(args):
        # M:N fixes the sparsity (tfmot ignores the schedule's target): one job, named by what it reaches.
        sparsities = [1 - m_by_n[0] / m_by_n[1]] if structure == "block" and m_by_n else _sparsities(args)
        for s in sparsities:
            for q in quantize:
                if structure == "channels":
                    grid.append(("prune_channels", {"epochs": args.epochs, "sparsity": s, "quantize": q}))
                    continue
                shape = {"m_by_n" if ":" in args.block else "block_size": args.block} if structure == "block" else {}
                common = {"epochs": args.epochs, "frequency": args.frequency, "sparsity": s, "quantize": q, **shape}
                if "constant" in schedules:
                    grid.append(("prune_constant", {**common, "start_epoch": args.start_epoch}))
                if "polynomial" in schedules:
                    for begin, end in begin_end:
                        grid.append(("prune_polynomial", {**common, "initial_sparsity": args.initial_sparsity,
                                                          "start_epoch": begin, "end_epoch": end}))
    return grid


def run(args: argparse.Namespace) -> int:
    if args.method != "tfmot":
        return run_torch(args)
    if args.study:
        return run_study(args)
    schedules = ("constant", "polynomial") if args.schedule == "both" else (args.schedule or "constant",)
    kinds = ("float32", "int8") if args.quantize == "both" else (args.quantize,)
    return run_command(args, "prune", recipe_grid(args, kinds, schedules, _begin_end(args) if args.begin_end else
                                                   [(args.start_epoch, args.end_epoch)]))


def run_torch(args: argparse.Namespace) -> int:
    """PyTorch pruning (recipes/torch_prune.py): its own iterative prune -> fine-tune schedule."""
    if args.study or args.structure != "none":
        raise UserError(f"--method {args.method} takes neither --study nor --structure",
                        "torch_channels removes channels, torch_l1 prunes weights; drop --structure/--study")
    recipe, amount = ("torch_prune_l1", "sparsity") if args.method == "torch_l1" else ("torch_prune_channels", "ratio")
    kinds = ("float32", "int8") if args.quantize == "both" else (args.quantize,)
    return run_command(args, "prune", [(recipe, {amount: s, "quantize": q}) for s in _sparsities(args) for q in kinds])


def run_study(args: argparse.Namespace) -> int:
    """The pruning study: a sweep of int8 variants on the emulated board, one table, one report."""
    if not args.example:
        raise UserError("the pruning study runs on a built-in example", "give --example digits or --example kws_dscnn")
    if args.framework == "torch" or args.data:
        raise UserError("the pruning study runs the Keras examples on their own data",
                        "drop --framework/--data; PyTorch pruning: mcubench prune --framework torch --method torch_channels")
    if args.workers is not None and args.workers < 1:
        raise UserError("--workers must be at least 1", "e.g. --workers 2")
    load_cost_model().board(args.estimate)  # a mistyped assumption is refused before any training
    out = Path(args.out)
    check_out_dir(out, args.force)
    schedules = ("constant", "polynomial") if args.schedule in (None, "both") else (args.schedule,)
    grid = recipe_grid(args, ("int8",), schedules, _begin_end(args))
    recipes = [{"int8": {}}] + [{name: {**params, "report_sizes": 1}} for name, params in grid]
    config = parse_config({"name": f"prune-study-{args.example}", "models": [{"example": args.example}], "recipes": recipes,
                           "runtimes": [STUDY_RUNTIME], "boards": [STUDY_BOARD], "estimate": args.estimate,
                           "warmup": 0, "runs": 1}, "mcubench prune --study")
    summary = run_sweep(config, workers=args.workers, scheduler=args.scheduler)
    history = History(summary.history)
    rows, records = [], []
    for spec in config.jobs:
        found = history.query(job_key=spec.key(), limit=1)
        if found:
            records.append(found[0])
            rows.append(study_row(spec.recipe or "int8", dict(spec.recipe_params), found[0]))
    if not rows:
        raise UserError(f"no job of the study finished ({summary.failed} failed)",
                        (summary.failures[0]["error"].splitlines()[0] if summary.failures else "see the sweep's failures"))
    report = study_report(rows, records, f"pruning study: {args.example}")
    files = write_report(report, out)
    write_json_atomic(out / "study.json", {"example": args.example, "estimate": args.estimate, "rows": rows,
                                           "failures": summary.failures, "history": summary.history})
    if args.json:
        json.dump({"rows": rows, "failures": summary.failures, "report": str(files.html)}, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        _print(report.tables[0] if report.tables else study_table(rows))
        for failure in summary.failures:
            print(f"failed: {failure['job']}: {failure['error'].splitlines()[0]}", file=sys.stderr)
        print(f"report: {files.markdown} and {files.html}")
    return 1 if summary.failed else 0


def _print(table: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    shown = Table(title=table.title)
    for i, col in enumerate(table.columns):
        shown.add_column(col, justify="right" if i in table.numeric else "left")
    for row in table.rows:
        shown.add_row(*row)
    Console(width=240).print(shown)
