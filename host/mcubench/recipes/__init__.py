"""Recipes: named ways to turn a model into a deployable ``.tflite`` variant.

One base class (:class:`Recipe`), one module per family (``ptq``, ``qat``, ``prune``,
``distill``, ``torch_prune``) and an explicit registry :data:`RECIPES` from name to class.
``Recipe().apply(model, dataset, params)`` checks its inputs, then calls ``do_apply``.
"""

from __future__ import annotations

from mcubench.core.errors import UserError
from mcubench.recipes.base import Recipe
from mcubench.recipes.channel_prune import PruneChannels
from mcubench.recipes.distill import Distill
from mcubench.recipes.prune import PruneConstant, PrunePolynomial
from mcubench.recipes.ptq import Dynamic, Float16, Float32, Int8, Int16x8
from mcubench.recipes.qat import QatInt8
from mcubench.recipes.torch_prune import TorchPruneChannels, TorchPruneL1


def _registry() -> dict[str, type[Recipe]]:
    classes = [Float32, Int8, Int16x8, Float16, Dynamic, QatInt8, PruneConstant, PrunePolynomial, PruneChannels, Distill,
               TorchPruneL1, TorchPruneChannels]
    return {cls.name: cls for cls in classes}


RECIPES: dict[str, type[Recipe]] = _registry()


def get_recipe(name: str) -> Recipe:
    if name not in RECIPES:
        raise UserError(f"unknown recipe {name!r}", f"choose from: {', '.join(RECIPES)}")
    return RECIPES[name]()
