"""mcubench distill: a narrower student trained from the teacher, float32 and int8."""

from __future__ import annotations

import argparse

from mcubench.commands.model_variants import add_source_args, run_command


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser("distill", help="knowledge distillation into a narrower student, then quantize it")
    add_source_args(p)
    p.add_argument("--width", type=float, default=0.5, help="student width relative to the teacher (default 0.5)")
    p.add_argument("--temperature", type=float, default=4.0)
    p.add_argument("--alpha", type=float, default=0.1, help="weight of the hard-label loss (default 0.1)")
    p.add_argument("--epochs", type=int, default=20)
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    common = {"width": args.width, "temperature": args.temperature, "alpha": args.alpha, "epochs": args.epochs, "seed": args.seed}
    recipes = [("int8", {}), ("distill", {**common, "quantize": "float32"}), ("distill", {**common, "quantize": "int8"})]
    return run_command(args, "distill", recipes)
