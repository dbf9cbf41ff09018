"""mcubench quantize: the float32 baseline and post-training quantized variants, side by side."""

from __future__ import annotations

import argparse

from mcubench.commands.model_variants import add_source_args, parse_recipe_params, run_command
from mcubench.core.errors import UserError
from mcubench.recipes import RECIPES

DEFAULT_RECIPES = "int8,int16x8,float16,dynamic"


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser("quantize", help="post-training quantization variants of a model, evaluated on the host")
    add_source_args(p)
    p.add_argument("--recipes", default=DEFAULT_RECIPES, help=f"comma-separated recipe names (default {DEFAULT_RECIPES}); see docs/model-pipeline.md")
    p.add_argument("--param", action="append", metavar="RECIPE.KEY=VALUE", help="recipe parameter, e.g. int8.calibration_samples=100")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    names = [n.strip() for n in args.recipes.split(",") if n.strip()]
    if not names:
        raise UserError("--recipes is empty", f"choose from: {', '.join(RECIPES)}")
    for name in names:
        if name not in RECIPES:
            raise UserError(f"unknown recipe {name!r} in --recipes", f"choose from: {', '.join(RECIPES)}")
    params = parse_recipe_params(args.param)
    recipes = [(n, {**params.get("*", {}), **params.get(n, {})}) for n in names if n != "float32"]
    return run_command(args, "quantize", recipes)
