"""Shared fixtures: the digits example is trained once (seconds) and cached on disk."""

from __future__ import annotations

import pytest

import mcubench.models  # noqa: F401  sets TF_USE_LEGACY_KERAS before anything imports tensorflow


@pytest.fixture(scope="session")
def digits():
    from mcubench.models.examples import load_example

    return load_example("digits")


@pytest.fixture(scope="session")
def digits_variants(digits):
    """float32 / int8 / float16 / dynamic variants of the digits CNN with their analyses."""
    from mcubench.models.analysis import analyze
    from mcubench.recipes import get_recipe

    result = {}
    for name in ("float32", "int8", "float16", "dynamic"):
        variant = get_recipe(name).apply(digits.model, digits.dataset, {})
        result[name] = (variant, analyze(variant.tflite_bytes, digits.dataset, source=f"{name}.tflite"))
    return result
