"""Variants: a model through a recipe to a `.tflite`, analyzed on the host — one path for all.

* :func:`make_variant` — one recipe applied to one model, then analyzed: the step every
  other function here takes.
* :func:`prepare_example_variant` — an example model's variant, made once and cached under
  the work dir, keyed by everything that defines it (used by sweeps, ``validate``, ``render``,
  the AOT and estimate benchmarks). Concurrent workers asking for the same variant make it
  once (a file lock).
* :func:`run_variants` — the float32 baseline plus one variant per recipe, written into an
  output directory atomically (a temporary sibling renamed at the end, so a failed run never
  leaves a complete-looking directory) and summarised as a JSON-able dict (the model commands).
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

from mcubench import __version__
from mcubench.core import progress
from mcubench.core.errors import UserError
from mcubench.core.fileio import write_bytes_atomic, write_json_atomic
from mcubench.core.identity import tool_version
from mcubench.core.paths import work_dir
from mcubench.models.analysis import Analysis, analyze
from mcubench.models.data import Dataset, load_dataset
from mcubench.models.examples import EXAMPLES, cache_key, load_example
from mcubench.models.load import SourceModel, as_source, load_model
from mcubench.models.tf import third_party_output
from mcubench.recipes import get_recipe
from mcubench.recipes.base import Recipe, Variant

SUMMARY_NAME = "summary.json"


def make_variant(recipe: Recipe, model: Any, dataset: Dataset | None, params: dict | None = None, *,
                 eval_samples: int = 500, run_micro: bool = True) -> tuple[Variant, Analysis]:
    """Applies ``recipe`` to ``model`` and analyzes the `.tflite` it makes on the host."""
    source = as_source(model)
    with progress.step(f"recipe {recipe.name}"):
        variant = recipe.apply(source, dataset, params)
    # A PyTorch/ONNX source is also run itself (torch, onnxruntime), beside LiteRT and TFLM; a
    # recipe that changed the model (pruning) gives the changed one.
    reference = variant.source_model.predict if variant.source_model is not None else source.predict
    with progress.step(f"evaluating {variant.name} on the host (LiteRT{', TFLM' if run_micro else ''})"):
        analysis = analyze(variant.tflite_bytes, dataset, source=f"{variant.name}.tflite",
                           eval_samples=eval_samples, run_micro=run_micro, reference=reference)
    return variant, analysis


# ---- cached example variants -------------------------------------------------------------------


@dataclass(frozen=True)
class PreparedVariant:
    name: str  # e.g. "int8", "prune_constant_75_int8"
    path: Path  # the .tflite
    host_metrics: dict[str, Any]  # result["host"]: accuracy/mae, sizes, MACs, params, sparsity


def host_metrics_from(analysis: dict[str, Any], variant_metrics: dict[str, Any]) -> dict[str, Any]:
    metric = analysis.get("metric") or {}
    # Pruning recipes measure the weight sparsity reached over the pruned layers.
    sparsity = (variant_metrics or {}).get("sparsity_overall")
    return {
        "accuracy": metric.get("value") if metric.get("name") == "accuracy" else None,
        "mae": metric.get("value") if metric.get("name") == "mae" else None,
        "size_bytes": analysis.get("size_bytes"),
        "gzip_bytes": analysis.get("gzip_bytes"),
        "macs": analysis.get("total_macs"),
        "params": analysis.get("params"),
        "sparsity": sparsity,
        # pruning recipes with report_sizes=1: stripped float32 / dynamic-range sizes (and gzipped)
        **({"sizes": variant_metrics["sizes"]} if (variant_metrics or {}).get("sizes") else {}),
    }


@functools.lru_cache(maxsize=1)  # the sources do not change while a process runs
def example_fingerprint() -> str:
    """What decides an example variant's bytes besides its job spec: the code that trains,
    prunes and converts it, and the versions of the frameworks. Training is seeded and
    deterministic, so the same fingerprint and spec give the same model, byte for byte; a cached
    variant or a stored sweep job with the same key is this one, and any change to that code
    makes them new."""
    package = Path(__file__).resolve().parent.parent  # mcubench/
    sources = sorted({*package.glob("recipes/*.py"), *package.glob("models/*.py")})
    digest = hashlib.sha256()
    for source in sources:
        digest.update(source.name.encode() + b"\0" + source.read_bytes())
    for dist in ("tensorflow", "keras", "tf-keras", "tensorflow-model-optimization", "numpy", "torch", "litert-torch", "onnx2tf"):
        try:
            digest.update(f"{dist}=={metadata.version(dist)}".encode())
        except metadata.PackageNotFoundError:
            digest.update(f"{dist} absent".encode())
    return digest.hexdigest()[:16]


def prepare_example_variant(example: str, recipe: str, params: dict[str, Any] | None = None, seed: int = 0) -> PreparedVariant:
    params = dict(params or {})
    spec = EXAMPLES.get(example)
    if spec is None:
        raise UserError(f"unknown example `{example}`", f"choose one of: {', '.join(EXAMPLES)}")
    ident = json.dumps({"example": cache_key(spec, seed), "recipe": recipe, "params": params, "tool": tool_version(),
                        "code": example_fingerprint()}, sort_keys=True)
    directory = work_dir() / "variants" / f"{example}-{recipe}-{hashlib.sha256(ident.encode()).hexdigest()[:12]}"

    def make() -> tuple[Variant, Analysis]:
        ex = load_example(example, seed=seed)
        return make_variant(get_recipe(recipe), ex.model, ex.dataset, params)

    return _cached_variant(directory, make)


def prepare_model_variant(model: Path, data: Path | None, recipe: str, params: dict[str, Any] | None = None) -> PreparedVariant:
    """A model file's variant (``.keras``, ``.h5``, ``.pt2``, ``.onnx``...) calibrated/trained on
    ``data``, made once and cached, keyed by the contents of both files (sweeps)."""
    params = dict(params or {})
    digest = lambda path: hashlib.sha256(path.read_bytes()).hexdigest() if path is not None and path.is_file() else None  # noqa: E731
    ident = json.dumps({"model": digest(model), "data": digest(data), "recipe": recipe, "params": params,
                        "tool": tool_version(), "code": example_fingerprint()}, sort_keys=True)
    directory = work_dir() / "variants" / f"{model.stem}-{recipe}-{hashlib.sha256(ident.encode()).hexdigest()[:12]}"

    def make() -> tuple[Variant, Analysis]:
        return make_variant(get_recipe(recipe), load_model(model), load_dataset(data) if data is not None else None, params)

    return _cached_variant(directory, make)


def _cached_variant(directory: Path, make: Callable[[], tuple[Variant, Analysis]]) -> PreparedVariant:
    """The variant stored in ``directory``, made by ``make`` the first time. Concurrent callers
    wait on a file lock and make it once."""
    directory.mkdir(parents=True, exist_ok=True)
    meta_path = directory / "variant.json"
    with open(directory / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if meta_path.is_file():
            meta = json.loads(meta_path.read_text())
            return PreparedVariant(meta["name"], directory / meta["file"], meta["host_metrics"])
        with third_party_output():  # TensorFlow's chatter while training, converting, evaluating
            variant, analyzed = make()
        file_name = f"{variant.name}.tflite"
        write_bytes_atomic(directory / file_name, variant.tflite_bytes)
        analysis = analyzed.to_dict()
        metrics = host_metrics_from(analysis, variant.metrics)
        # Written last: its presence means the variant is complete.
        write_json_atomic(meta_path, {"name": variant.name, "file": file_name, "host_metrics": metrics, "analysis": analysis})
        return PreparedVariant(variant.name, directory / file_name, metrics)


def example_variant(example: str, recipe: str = "int8", seed: int = 0) -> tuple[bytes, Dataset]:
    """An example's variant (cached) and the example's dataset: (tflite bytes, dataset)."""
    prepared = prepare_example_variant(example, recipe, seed=seed)
    return prepared.path.read_bytes(), load_example(example, seed=seed).dataset


# ---- variants written to an output directory -------------------------------------------------


@dataclass
class Source:
    model: SourceModel
    dataset: Dataset | None
    label: str  # "example digits" or the model path


def check_out_dir(out: Path, force: bool) -> None:
    if out.exists() and any(out.iterdir()) and not force:
        raise UserError(f"output directory {out} already exists and is not empty", "choose another --out or pass --force")


class _StagingDir:
    """A temporary sibling of ``out`` renamed onto it only when everything succeeded."""

    def __init__(self, out: Path, force: bool):
        self.out, self.force = out, force

    def __enter__(self) -> Path:
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = Path(tempfile.mkdtemp(dir=self.out.parent, prefix=f".{self.out.name}.partial-"))
        os.chmod(self.tmp, 0o755)  # mkdtemp makes it private; the result is an ordinary directory
        return self.tmp

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            return False
        old = None
        if self.out.exists():
            check_out_dir(self.out, self.force)
            old = self.out.parent / f".{self.out.name}.old-{os.getpid()}"
            os.replace(self.out, old)
        os.replace(self.tmp, self.out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return False


def variant_entry(variant: Any, analysis: Any, file_name: str) -> dict:
    metric = analysis.metric or {}
    entry = {
        "name": variant.name,
        "recipe": variant.recipe,
        "file": file_name,
        "accuracy": metric.get("value") if metric.get("name") == "accuracy" else None,
        "mae": metric.get("value") if metric.get("name") == "mae" else None,
        "metric": metric or None,
        "size_bytes": analysis.size_bytes,
        "gzip_bytes": analysis.gzip_bytes,
        "params": analysis.params,
        "macs": analysis.total_macs,
        "arena_bytes": analysis.arena["exact_bytes"] if analysis.arena else None,
        "arena_32bit_budget_bytes": analysis.arena["budget_32bit_bytes"] if analysis.arena else None,
        "deployable_tflm": analysis.deployable_tflm,
        "problems": [p.__dict__ if hasattr(p, "__dict__") else p for p in analysis.problems],
        "lite_vs_micro": analysis.lite_vs_micro,
        "recipe_params": variant.params,
        "recipe_metrics": variant.metrics,
    }
    return entry


def run_variants(
    source: Source,
    recipes: list[tuple[str, dict]],
    out_dir: Path | str,
    *,
    command: str,
    force: bool = False,
    eval_samples: int = 500,
    run_micro: bool = True,
    baseline: bool = True,
) -> dict:
    """Baseline float32 + each ``(recipe name, params)``; analyze, write, return the summary."""

    out = Path(out_dir)
    check_out_dir(out, force)
    todo = ([("float32", {})] if baseline else []) + list(recipes)
    instances = [(get_recipe(name), params) for name, params in todo]  # unknown names fail before any work
    for recipe, params in instances:  # every refusal before the first conversion
        recipe.merged_params(params)
        recipe.check_source(source.model)
    started = time.time()
    entries = []
    with _StagingDir(out, force) as staging:
        for recipe, params in instances:
            variant, analysis = make_variant(recipe, source.model, source.dataset, params,
                                             eval_samples=eval_samples, run_micro=run_micro)
            file_name = f"{variant.name}.tflite"
            variant.path = out / file_name
            write_bytes_atomic(staging / file_name, variant.tflite_bytes)
            write_json_atomic(staging / f"{variant.name}.analysis.json", analysis.to_dict())
            entries.append(variant_entry(variant, analysis, file_name))
        summary = {
            "tool": f"mcubench {__version__}",
            "command": command,
            "source": source.label,
            "dataset": None if source.dataset is None else {
                "name": source.dataset.name, "task": source.dataset.task, "synthetic": source.dataset.synthetic,
                "train": len(source.dataset.x_train), "test": len(source.dataset.x_test),
            },
            "out_dir": str(out),
            "seconds": round(time.time() - started, 2),
            "variants": entries,
        }
        write_json_atomic(staging / SUMMARY_NAME, summary)
    return summary
