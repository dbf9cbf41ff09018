"""mcubench qat: quantization-aware training next to post-training int8."""

from __future__ import annotations

import argparse

from mcubench.commands.model_variants import add_source_args, run_command


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser("qat", help="quantization-aware training (int8) next to PTQ int8")
    add_source_args(p)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--learning-rate", type=float, default=5e-4)
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    return run_command(args, "qat", [("int8", {}), ("qat_int8", {"epochs": args.epochs, "learning_rate": args.learning_rate})])
