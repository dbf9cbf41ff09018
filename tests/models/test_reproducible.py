"""Seeded training gives the same bytes whatever ran before it in the process (issue #15: two
fresh sweeps gave the same job keys different models, because the recipes' fine-tuning used
whatever random state earlier jobs had left)."""

from __future__ import annotations

import numpy as np
import pytest

from mcubench.models import tf as tfmod
from mcubench.recipes import get_recipe

pytestmark = pytest.mark.slow


def disturb_random_state() -> None:
    """What an earlier job in the same worker does to the global generators."""
    np.random.rand(1000)
    tfmod.tensorflow().random.uniform((1000,))
    tfmod.keras3().utils.set_random_seed(12345)


@pytest.mark.parametrize("recipe, params", [
    ("prune_constant", {"epochs": 1, "end_epoch": 1, "quantize": "int8"}),
    ("qat_int8", {"epochs": 1}),
])
def test_training_recipes_are_reproducible(digits, recipe, params):
    first = get_recipe(recipe).apply(digits.model, digits.dataset, params)
    disturb_random_state()
    second = get_recipe(recipe).apply(digits.model, digits.dataset, params)
    assert first.tflite_bytes == second.tflite_bytes
    assert first.metrics == second.metrics
