"""Deployable variants of the example models, made once and cached (used by sweeps).

``prepare_example_variant("digits", "int8")`` trains the example (cached by the model
pipeline), applies the recipe, analyzes the result on the host, and keeps the `.tflite` and
its host metrics under the work dir, keyed by everything that defines them. Concurrent
sweep workers asking for the same variant make it once (a file lock).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcubench.core.fileio import write_bytes_atomic, write_json_atomic
from mcubench.core.identity import tool_version
from mcubench.core.paths import work_dir


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
    }


def prepare_example_variant(example: str, recipe: str, params: dict[str, Any] | None = None, seed: int = 0) -> PreparedVariant:
    from mcubench.models.analysis import analyze
    from mcubench.models.examples import EXAMPLES, cache_key, load_example
    from mcubench.recipes import get_recipe

    params = dict(params or {})
    spec = EXAMPLES.get(example)
    if spec is None:
        from mcubench.core.errors import UserError

        raise UserError(f"unknown example `{example}`", f"choose one of: {', '.join(EXAMPLES)}")
    ident = json.dumps({"example": cache_key(spec, seed), "recipe": recipe, "params": params, "tool": tool_version()}, sort_keys=True)
    directory = work_dir() / "variants" / f"{example}-{recipe}-{hashlib.sha256(ident.encode()).hexdigest()[:12]}"
    directory.mkdir(parents=True, exist_ok=True)
    meta_path = directory / "variant.json"
    with open(directory / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if meta_path.is_file():
            meta = json.loads(meta_path.read_text())
            return PreparedVariant(meta["name"], directory / meta["file"], meta["host_metrics"])
        ex = load_example(example, seed=seed)
        variant = get_recipe(recipe).apply(ex.model, ex.dataset, params)
        file_name = f"{variant.name}.tflite"
        write_bytes_atomic(directory / file_name, variant.tflite_bytes)
        analysis = analyze(variant.tflite_bytes, ex.dataset, source=file_name).to_dict()
        metrics = host_metrics_from(analysis, variant.metrics)
        # Written last: its presence means the variant is complete.
        write_json_atomic(meta_path, {"name": variant.name, "file": file_name, "host_metrics": metrics, "analysis": analysis})
        return PreparedVariant(variant.name, directory / file_name, metrics)
