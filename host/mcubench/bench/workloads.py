"""From a model file to a benchmark workload: the link between the model pipeline and bench.

A `.tflite` file is benchmarked as is; a Keras model is first quantized to full int8 with
its example data (`mcubench quantize` gives more control). The firmware runs a fixed test
input that the host generates here, so the host TFLM interpreter can compute the expected
output and the result can say whether the device's output matches bit for bit.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from mcubench.core.errors import UserError
from mcubench.core.types import WorkloadSpec
from mcubench.models.bench_input import read_tflite, test_input
from mcubench.models.tflm_host import invoke
from mcubench.recipes.variants import PreparedVariant, prepare_example_variant
from mcubench.runtimes import default_model_runtime, get_runtime, model_runtimes


def refuse_directory(path: Path) -> None:
    """A folder where a model file belongs: say so, and name the models it holds."""
    if not path.is_dir():
        return
    found = sorted(p.name for p in path.glob("*.tflite"))
    hint = f"give one of its models, e.g. {path / found[0]} (it holds: {', '.join(found)})" if found else \
        "give a .tflite file, e.g. DIR/int8.tflite after mcubench quantize --out DIR"
    raise UserError(f"{path} is a directory, not a model file", hint)


def workload_for_model(path: Path, runtime: str | None) -> tuple[WorkloadSpec, str, dict[str, Any]]:
    refuse_directory(path)
    suffix = path.suffix.lower()
    if suffix != ".tflite":
        raise UserError(
            f"{path}: bench takes a .tflite model",
            f"quantize it first: mcubench quantize --model {path} --recipes int8 --out DIR, then bench DIR/<variant>.tflite",
        )
    model_bytes = read_tflite(path)
    runtime = runtime or default_model_runtime()
    if not get_runtime(runtime).takes_model:
        raise UserError(f"--runtime {runtime} runs built-in workloads, not models",
                        f"use {' or '.join(f'--runtime {r}' for r in model_runtimes())}")
    array, raw = test_input(model_bytes)
    workload = WorkloadSpec(
        name=path.stem,
        model_path=path.resolve(),
        model_bytes=model_bytes,
        model_sha256=hashlib.sha256(model_bytes).hexdigest(),
        input_bytes=raw,
    )

    def reference_output() -> bytes:
        return np.ascontiguousarray(invoke(model_bytes, array)).tobytes()

    return workload, runtime, {"reference_output": reference_output}


def workload_for_variant(variant: PreparedVariant, name: str, recipe: str | None, runtime: str | None) -> tuple[WorkloadSpec, str, dict[str, Any]]:
    """A prepared variant as a workload: the model is named after its source (the recipe makes
    the variant), and the host's figures come along."""
    workload, runtime, extras = workload_for_model(variant.path, runtime)
    workload.name = name
    extras.update(recipe=recipe, variant=variant.name, host_metrics=variant.host_metrics)
    return workload, runtime, extras


def workload_for_example(example: str, recipe: str, params: dict[str, Any], runtime: str | None) -> tuple[WorkloadSpec, str, dict[str, Any]]:
    """A built-in example's variant (made once and cached) as a workload."""
    return workload_for_variant(prepare_example_variant(example, recipe, dict(params)), example, recipe, runtime)
