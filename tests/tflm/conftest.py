"""Example variants for the TFLM tests: trained (cached) and converted once per session."""

from __future__ import annotations

import pytest

import mcubench.models  # noqa: F401  sets TF_USE_LEGACY_KERAS before anything imports tensorflow

EXAMPLES = ("digits", "sine", "kws_dscnn")
RECIPES = ("int8", "float32")


@pytest.fixture(scope="session")
def example_variants():
    """{(example, recipe): (tflite bytes, dataset, deployable)} for every example × recipe."""
    from mcubench.models.analysis import analyze
    from mcubench.models.examples import load_example
    from mcubench.models.load import as_source
    from mcubench.recipes import get_recipe

    out = {}
    for name in EXAMPLES:
        example = load_example(name)
        for recipe in RECIPES:
            variant = get_recipe(recipe).apply(as_source(example.model), example.dataset, {})
            analysis = analyze(variant.tflite_bytes, None, source=f"{name}_{recipe}.tflite", run_micro=False)
            out[(name, recipe)] = (variant.tflite_bytes, example.dataset, analysis.deployable_tflm)
    return out
