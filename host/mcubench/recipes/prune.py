"""Magnitude pruning through tensorflow-model-optimization, optionally followed by int8.

Two schedules, with parameters as a user sets them (epochs are turned into steps with
``ceil(len(x_train) / batch_size)`` steps per epoch):

* ``prune_constant``: the target ``sparsity`` from ``start_epoch`` on, re-applied every
  ``frequency`` steps (static sparsity).
* ``prune_polynomial``: from ``initial_sparsity`` to ``sparsity`` between ``start_epoch`` and
  ``end_epoch``; at step ``s`` the target is
  ``final + (initial - final) * (1 - (s - begin) / (end - begin)) ** power``, applied at steps
  where ``(s - begin) % frequency == 0`` (:func:`polynomial_sparsity`).

Wrappers are stripped before conversion; the sparsity actually reached is measured per layer.
``quantize=int8`` gives pruning + full-integer quantization in one variant.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from mcubench.core.errors import UserError
from mcubench.models import tf as tfmod
from mcubench.models.data import Dataset
from mcubench.models.load import SourceModel
from mcubench.models.tfkeras_bridge import to_tf_keras
from mcubench.recipes.base import Recipe, Variant
from mcubench.recipes.ptq import convert
from mcubench.recipes.training import compile_like, fit_quietly, keras_metric

KERNEL_NAMES = ("kernel", "depthwise_kernel")


def polynomial_sparsity(step: int, initial: float, final: float, begin_step: int, end_step: int, power: float = 3.0) -> float:
    """Target sparsity of tfmot's PolynomialDecay at ``step`` (the schedule's formula)."""
    progress = min(1.0, max(0.0, (step - begin_step) / max(end_step - begin_step, 1)))
    return final + (initial - final) * (1.0 - progress) ** power


def last_update_step(step: int, begin_step: int, end_step: int, frequency: int) -> int | None:
    """The last step <= ``step`` at which the mask was recomputed (training steps start at 1)."""
    upper = step if end_step < 0 else min(step, end_step)
    if upper < max(begin_step, 1):
        return None
    s = upper - (upper - begin_step) % frequency
    return s if s >= max(begin_step, 1) else None


def kernel_sparsity(model: Any, layer_names: list[str] | None = None) -> dict[str, float]:
    """Fraction of exactly-zero kernel weights per layer (only ``layer_names`` if given)."""
    result = {}
    for layer in model.layers:
        if layer_names is not None and layer.name not in layer_names:
            continue
        for weight in layer.weights:
            short = weight.name.split("/")[-1].split(":")[0]
            if short in KERNEL_NAMES:
                values = np.asarray(weight.numpy())
                result[layer.name] = float(np.mean(values == 0))
    return result


def kernel_sparsity_of(layer: Any) -> list[float]:
    return [float(np.mean(np.asarray(w.numpy()) == 0)) for w in layer.weights
            if w.name.split("/")[-1].split(":")[0] in KERNEL_NAMES]


class _Prune(Recipe):
    needs_labels = True
    schedule = "constant"
    defaults = {
        "sparsity": 0.75, "initial_sparsity": 0.0, "start_epoch": 0, "end_epoch": 3, "epochs": 4,
        "frequency": 10, "power": 3.0, "learning_rate": 1e-3, "batch_size": 32,
        "quantize": "float32", "calibration_samples": 200,
    }

    def do_apply(self, source: SourceModel, dataset: Dataset, params: dict) -> Variant:
        if not 0.0 <= params["sparsity"] < 1.0:
            raise UserError(f"recipe {self.name}: sparsity {params['sparsity']} is outside [0, 1)", "give a fraction, e.g. sparsity=0.75 for 75 %")
        if params["quantize"] not in ("float32", "int8"):
            raise UserError(f"recipe {self.name}: quantize={params['quantize']!r}", "use quantize=float32 or quantize=int8")
        if params["frequency"] < 1:
            raise UserError(f"recipe {self.name}: frequency must be >= 1 step", "e.g. frequency=10")
        if params["quantize"] == "int8":
            dataset.representative()
        mot = tfmod.tfmot()
        sparsity_api = mot.sparsity.keras
        steps_per_epoch = math.ceil(len(dataset.x_train) / params["batch_size"])
        begin_step = int(params["start_epoch"]) * steps_per_epoch
        if self.schedule == "constant":
            end_step = -1
            schedule = sparsity_api.ConstantSparsity(params["sparsity"], begin_step=begin_step, frequency=int(params["frequency"]))
        else:
            end_step = int(params["end_epoch"]) * steps_per_epoch
            if end_step <= begin_step:
                raise UserError(f"recipe {self.name}: end_epoch must be after start_epoch", "e.g. start_epoch=0 end_epoch=3")
            schedule = sparsity_api.PolynomialDecay(
                initial_sparsity=params["initial_sparsity"], final_sparsity=params["sparsity"],
                begin_step=begin_step, end_step=end_step, power=params["power"], frequency=int(params["frequency"]),
            )
        base = to_tf_keras(source.keras_model)
        try:
            pruned = sparsity_api.prune_low_magnitude(base, pruning_schedule=schedule)
        except ValueError as err:
            raise UserError(f"pruning cannot wrap model {base.name}: {str(err).splitlines()[0][:300]}", "use prunable layers (Conv2D, DepthwiseConv2D, Dense)") from None
        wrapped = [layer.layer.name for layer in pruned.layers if type(layer).__name__ == "PruneLowMagnitude"]
        compile_like(pruned, dataset.task, params["learning_rate"])
        log: list[dict] = []

        class _Log(tfmod.tf_keras().callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):  # after UpdatePruningStep re-masked
                wrappers = [lay for lay in self.model.layers if type(lay).__name__ == "PruneLowMagnitude"]
                step = int(wrappers[0].pruning_step.numpy()) if wrappers else 0
                # UpdatePruningStep (earlier in the callback list) has just re-masked the weights.
                measured = {lay.layer.name: s for lay in wrappers for s in kernel_sparsity_of(lay.layer)}
                log.append({"epoch": epoch + 1, "step": step, "sparsity": measured})

        fit_quietly(pruned, dataset, int(params["epochs"]), params["batch_size"],
                    callbacks=[sparsity_api.UpdatePruningStep(), _Log()])
        stripped = sparsity_api.strip_pruning(pruned)
        per_layer = kernel_sparsity(stripped, wrapped)
        rep = dataset.representative(params["calibration_samples"]) if params["quantize"] == "int8" else None
        data = convert(stripped, params["quantize"], rep)
        pct = f"{params['sparsity'] * 100:g}"
        name = f"{self.name}_{pct}" + ("_int8" if params["quantize"] == "int8" else "")
        total = sum(int(np.prod(w.shape)) for lay in stripped.layers if lay.name in per_layer for w in lay.weights if w.name.split("/")[-1].split(":")[0] in KERNEL_NAMES)
        zeros = sum(per_layer[lay.name] * int(np.prod(w.shape)) for lay in stripped.layers if lay.name in per_layer for w in lay.weights if w.name.split("/")[-1].split(":")[0] in KERNEL_NAMES)
        return Variant(
            name=name, recipe=self.name, tflite_bytes=data, params=params,
            metrics={
                "sparsity_per_layer": per_layer, "sparsity_overall": zeros / total if total else 0.0,
                "schedule": {"kind": self.schedule, "begin_step": begin_step, "end_step": end_step,
                             "frequency": int(params["frequency"]), "steps_per_epoch": steps_per_epoch},
                "sparsity_log": log, "keras_metric": keras_metric(stripped, dataset),
            },
            keras_model=stripped,
        )


class PruneConstant(_Prune):
    name = "prune_constant"
    description = "constant-sparsity magnitude pruning (tfmot), wrappers stripped"
    schedule = "constant"


class PrunePolynomial(_Prune):
    name = "prune_polynomial"
    description = "polynomial-decay sparsity from initial to final between start and end epoch (tfmot)"
    schedule = "polynomial"
