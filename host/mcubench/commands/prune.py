"""mcubench prune: pruning at one or more sparsities, optionally + int8.

``--structure none`` prunes weight by weight (tfmot), ``block`` prunes whole blocks of the
kernels' SIMD shape (``--block 4x4``: 4 input x 4 output channels; or M:N such as ``2:4``),
``channels`` removes filters (the model is rebuilt smaller, then fine-tuned)."""

from __future__ import annotations

import argparse

from mcubench.commands.model_variants import add_source_args, run_command
from mcubench.core.errors import UserError


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser("prune", help="pruned variants (constant or polynomial-decay sparsity), evaluated on the host")
    add_source_args(p)
    p.add_argument("--structure", choices=("none", "block", "channels"), default="none",
                   help="none: weight by weight; block: whole blocks (--block); channels: filters removed, model rebuilt (default none)")
    p.add_argument("--block", default="4x4", help="with --structure block: HxW block of input x output channels (default 4x4, "
                   "what the AOT sparse kernel skips) or M:N (e.g. 2:4)")
    p.add_argument("--schedule", choices=("constant", "polynomial"), default="constant",
                   help="sparsity schedule (none/block); channel pruning is one-shot, then fine-tuned")
    p.add_argument("--sparsity", default="0.5,0.75,0.875", help="final sparsities, comma-separated fractions (default 0.5,0.75,0.875); "
                   "with --structure channels the fraction of channels removed")
    p.add_argument("--initial-sparsity", type=float, default=0.0, help="polynomial schedule start (default 0)")
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--start-epoch", type=int, default=0)
    p.add_argument("--end-epoch", type=int, default=3, help="polynomial schedule end")
    p.add_argument("--frequency", type=int, default=10, help="steps between mask updates")
    p.add_argument("--quantize", choices=("float32", "int8", "both"), default="both", help="convert pruned models to float32, int8 or both")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    try:
        sparsities = [float(s) for s in args.sparsity.split(",") if s.strip()]
    except ValueError:
        raise UserError(f"--sparsity {args.sparsity!r} is not a list of numbers", "e.g. --sparsity 0.5,0.75") from None
    if not sparsities:
        raise UserError("--sparsity is empty", "e.g. --sparsity 0.75")
    kinds = ("float32", "int8") if args.quantize == "both" else (args.quantize,)
    recipe, common = recipe_for(args)
    recipes = [(recipe, {**common, "sparsity": s, "quantize": q}) for s in sparsities for q in kinds]
    return run_command(args, "prune", recipes)


def recipe_for(args: argparse.Namespace) -> tuple[str, dict]:
    """(recipe name, parameters shared by every sparsity) for the structure and schedule asked."""
    if args.structure == "channels":
        return "prune_channels", {"epochs": args.epochs}
    recipe = "prune_constant" if args.schedule == "constant" else "prune_polynomial"
    common = {"initial_sparsity": args.initial_sparsity, "epochs": args.epochs, "start_epoch": args.start_epoch,
              "end_epoch": args.end_epoch, "frequency": args.frequency}
    if args.structure == "block":
        common["m_by_n" if ":" in args.block else "block_size"] = args.block
    return recipe, common
