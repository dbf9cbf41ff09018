"""mcubench prune: magnitude pruning at one or more sparsities, optionally + int8."""

from __future__ import annotations

import argparse

from mcubench.commands.model_variants import add_source_args, run_command
from mcubench.core.errors import UserError


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser("prune", help="pruned variants (constant or polynomial-decay sparsity), evaluated on the host")
    add_source_args(p)
    p.add_argument("--schedule", choices=("constant", "polynomial"), default="constant")
    p.add_argument("--sparsity", default="0.5,0.75,0.875", help="final sparsities, comma-separated fractions (default 0.5,0.75,0.875)")
    p.add_argument("--initial-sparsity", type=float, default=0.0, help="polynomial schedule start (default 0)")
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--start-epoch", type=int, default=0)
    p.add_argument("--end-epoch", type=int, default=3, help="polynomial schedule end")
    p.add_argument("--frequency", type=int, default=10, help="steps between mask updates")
    p.add_argument("--quantize", choices=("float32", "int8", "both"), default="both", help="convert pruned models to float32, int8 or both")
    p.add_argument("--method", choices=("tfmot", "torch_l1", "torch_channels"), default="tfmot",
                   help="tfmot (Keras, the schedules above); PyTorch models: torch_l1 (global unstructured L1) or "
                        "torch_channels (L1 channel pruning, channels removed); --sparsity is then the weight or channel fraction")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    try:
        sparsities = [float(s) for s in args.sparsity.split(",") if s.strip()]
    except ValueError:
        raise UserError(f"--sparsity {args.sparsity!r} is not a list of numbers", "e.g. --sparsity 0.5,0.75") from None
    if not sparsities:
        raise UserError("--sparsity is empty", "e.g. --sparsity 0.75")
    recipe = "prune_constant" if args.schedule == "constant" else "prune_polynomial"
    kinds = ("float32", "int8") if args.quantize == "both" else (args.quantize,)
    if args.method != "tfmot":  # PyTorch pruning (recipes/torch_prune.py): its own iterative schedule
        recipe, amount = ("torch_prune_l1", "sparsity") if args.method == "torch_l1" else ("torch_prune_channels", "ratio")
        return run_command(args, "prune", [(recipe, {amount: s, "quantize": q}) for s in sparsities for q in kinds])
    common = {"initial_sparsity": args.initial_sparsity, "epochs": args.epochs, "start_epoch": args.start_epoch,
              "end_epoch": args.end_epoch, "frequency": args.frequency}
    recipes = [(recipe, {**common, "sparsity": s, "quantize": q}) for s in sparsities for q in kinds]
    return run_command(args, "prune", recipes)
