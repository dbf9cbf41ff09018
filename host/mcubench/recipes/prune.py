"""Magnitude pruning through tensorflow-model-optimization, optionally followed by int8.

Two schedules, with parameters as a user sets them (epochs are turned into steps with
``ceil(len(x_train) / batch_size)`` steps per epoch):

* ``prune_constant``: the target ``sparsity`` from ``start_epoch`` on, re-applied every
  ``frequency`` steps (static sparsity). ``frequency`` is capped at the steps the schedule has
  (:func:`capped_frequency`), so a short training still reaches the target.
* ``prune_polynomial``: from ``initial_sparsity`` to ``sparsity`` between ``start_epoch`` and
  ``end_epoch``; at step ``s`` the target is
  ``final + (initial - final) * (1 - (s - begin) / (end - begin)) ** power``, applied at steps
  where ``(s - begin) % frequency == 0`` (:func:`polynomial_sparsity`).

Structure (``block_size`` / ``m_by_n``): ``block_size="4x4"`` prunes whole blocks of 4 inputs x
4 output channels of each kernel viewed as [k_h*k_w*in_c, out_c] (tfmot's rule: |w| averaged
per block, the lowest blocks zeroed), the unit the AOT sparse kernel skips (see docs/aot.md).
Dense layers and Conv2D layers whose blocks stay inside one kernel row (1x1, or k_w*in_c a
multiple of the block height) are pruned; depthwise and other layers stay dense. ``m_by_n="2:4"`` keeps 2 of every 4
consecutive weights along the input channels (Conv2D and Dense; the target sparsity is then
m/n whatever ``sparsity`` says). Without either, every prunable layer is pruned weight by weight.

Wrappers are stripped before conversion; the sparsity actually reached is measured per layer.
``quantize=int8`` gives pruning + full-integer quantization in one variant.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from mcubench.core.errors import UserError
from mcubench.models import tf as tfmod
from mcubench.models.analysis import gzip_size
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


def capped_frequency(frequency: int, begin_step: int, end_step: int, total_steps: int) -> int:
    """The mask-update interval, capped at the steps the schedule has (training steps count from
    1, as in tfmot's wrapper): without the cap a short training (a small data set) would never
    reach an update step and stay dense. Constant: at most ``total - begin``; polynomial: at
    most ``end - begin``, so the last update lands on ``end_step`` at the final sparsity."""
    window = (total_steps if end_step < 0 else end_step) - begin_step
    return max(1, min(frequency, window)) if window >= 1 else frequency


def parse_structure(recipe: str, block_size: str, m_by_n: str) -> tuple[tuple[int, int] | None, tuple[int, int] | None]:
    """``"4x4"`` -> (4, 4); ``"2:4"`` -> (2, 4); empty -> None."""
    block = mn = None
    try:
        if block_size:
            h, w = (int(v) for v in str(block_size).lower().split("x"))
            block = (h, w) if (h, w) != (1, 1) else None
            if min(h, w) < 1:
                raise ValueError
        if m_by_n:
            m, n = (int(v) for v in str(m_by_n).split(":"))
            if not 0 < m < n:
                raise ValueError
            mn = (m, n)
    except ValueError:
        raise UserError(f"recipe {recipe}: block_size={block_size!r} m_by_n={m_by_n!r} do not read as HxW / M:N",
                        "e.g. block_size=4x4 or m_by_n=2:4") from None
    if block and mn:
        raise UserError(f"recipe {recipe}: block_size and m_by_n both given", "choose one structure")
    return block, mn


def structured_layer(layer: Any, block: tuple[int, int] | None) -> bool:
    """Layers that block (``block`` given) or m:n pruning prunes.

    m:n: Conv2D and Dense (tfmot's rule). Blocks: Dense, and Conv2D whose blocks of ``block[0]``
    consecutive kernel inputs stay inside one kernel row (1x1 kernels, or ``k_w * in_c`` a
    multiple of ``block[0]``): the kernel viewed as [k_h*k_w*in_c, out_c] then has blocks that
    are exactly steps of the AOT layout, which the sparse kernel skips."""
    kind = type(layer).__name__
    if kind == "Dense":
        return True
    if kind != "Conv2D" or int(layer.get_config().get("groups", 1)) != 1:
        return False
    if block is None:
        return True
    k_h, k_w = tuple(layer.get_config()["kernel_size"])
    return (k_h, k_w) == (1, 1) or (k_w * int(layer.kernel.shape[2])) % block[0] == 0


def _copy_weights(base: Any, pruned: Any) -> None:
    """The base model's weights into the clone (into the inner layer of each wrapper)."""
    by_name = {layer.name: layer for layer in base.layers}
    for layer in pruned.layers:
        inner = getattr(layer, "layer", layer)
        if inner.name in by_name and by_name[inner.name].weights:
            inner.set_weights(by_name[inner.name].get_weights())


class _Prune(Recipe):
    needs_labels = True
    schedule = "constant"
    defaults = {
        "sparsity": 0.75, "initial_sparsity": 0.0, "start_epoch": 0, "end_epoch": 3, "epochs": 4,
        "frequency": 10, "power": 3.0, "learning_rate": 1e-3, "batch_size": 32,
        "quantize": "float32", "calibration_samples": 200, "block_size": "", "m_by_n": "", "report_sizes": 0,
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
        end_step = -1 if self.schedule == "constant" else int(params["end_epoch"]) * steps_per_epoch
        if self.schedule != "constant" and end_step <= begin_step:
            raise UserError(f"recipe {self.name}: end_epoch must be after start_epoch", "e.g. start_epoch=0 end_epoch=3")
        frequency = capped_frequency(int(params["frequency"]), begin_step, end_step, int(params["epochs"]) * steps_per_epoch)
        if self.schedule == "constant":
            schedule = sparsity_api.ConstantSparsity(params["sparsity"], begin_step=begin_step, frequency=frequency)
        else:
            schedule = sparsity_api.PolynomialDecay(
                initial_sparsity=params["initial_sparsity"], final_sparsity=params["sparsity"],
                begin_step=begin_step, end_step=end_step, power=params["power"], frequency=frequency,
            )
        block, m_by_n = parse_structure(self.name, params["block_size"], params["m_by_n"])
        base = to_tf_keras(source.keras_model)
        if block is not None:
            return self._block_prune(base, dataset, params, schedule, block,
                                     {"kind": self.schedule, "begin_step": begin_step, "end_step": end_step,
                                      "frequency": frequency, "steps_per_epoch": steps_per_epoch})
        try:
            if m_by_n is None:
                pruned = sparsity_api.prune_low_magnitude(base, pruning_schedule=schedule)
            else:
                def wrap(layer: Any) -> Any:
                    clone = layer.__class__.from_config(layer.get_config())
                    if not structured_layer(layer, None):
                        return clone
                    return sparsity_api.prune_low_magnitude(clone, pruning_schedule=schedule, sparsity_m_by_n=m_by_n)

                pruned = tfmod.tf_keras().models.clone_model(base, clone_function=wrap)
                _copy_weights(base, pruned)
        except ValueError as err:
            raise UserError(f"pruning cannot wrap model {base.name}: {str(err).splitlines()[0][:300]}", "use prunable layers (Conv2D, DepthwiseConv2D, Dense)") from None
        if not any(type(layer).__name__ == "PruneLowMagnitude" for layer in pruned.layers):
            raise UserError(f"recipe {self.name}: no layer of {base.name} takes m:n pruning", "m:n pruning needs Conv2D or Dense layers")
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
        name = self._variant_name(params, block, m_by_n)
        total = sum(int(np.prod(w.shape)) for lay in stripped.layers if lay.name in per_layer for w in lay.weights if w.name.split("/")[-1].split(":")[0] in KERNEL_NAMES)
        zeros = sum(per_layer[lay.name] * int(np.prod(w.shape)) for lay in stripped.layers if lay.name in per_layer for w in lay.weights if w.name.split("/")[-1].split(":")[0] in KERNEL_NAMES)
        return Variant(
            name=name, recipe=self.name, tflite_bytes=data, params=params,
            metrics={
                "sparsity_per_layer": per_layer, "sparsity_overall": zeros / total if total else 0.0,
                "schedule": {"kind": self.schedule, "begin_step": begin_step, "end_step": end_step,
                             "frequency": frequency, "steps_per_epoch": steps_per_epoch},
                "sparsity_log": log, "keras_metric": keras_metric(stripped, dataset),
                **({"sizes": size_figures(stripped)} if params["report_sizes"] else {}),
            },
            keras_model=stripped,
        )


    def _variant_name(self, params: dict, block: tuple[int, int] | None, m_by_n: tuple[int, int] | None) -> str:
        pct = f"{params['sparsity'] * 100:g}"
        shape = f"_b{block[0]}x{block[1]}" if block else (f"_{m_by_n[0]}of{m_by_n[1]}" if m_by_n else "")
        return f"{self.name}_{pct}{shape}" + ("_int8" if params["quantize"] == "int8" else "")

    def _block_prune(self, base: Any, dataset: Dataset, params: dict, schedule: Any, block: tuple[int, int], schedule_info: dict) -> Variant:
        """Block pruning with tfmot's schedule and tfmot's block rule (mean |w| per block, the
        lowest-ranked blocks zeroed, at the schedule's steps), applied by a callback: tfmot's
        wrapper refuses block sizes on 4-D kernels, and Conv2D kernels are 4-D."""
        tfk = tfmod.tf_keras()
        model = tfk.models.clone_model(base)
        model.set_weights(base.get_weights())
        targets = [layer for layer in model.layers if structured_layer(layer, block)]
        if not targets:
            raise UserError(f"recipe {self.name}: no layer of {base.name} takes block pruning",
                            "block pruning needs Dense layers or Conv2D layers whose k_w * in_channels is a multiple of the block height")
        masks = {layer.name: np.ones(layer.kernel.shape, np.float32) for layer in targets}
        log: list[dict] = []

        class _BlockMasks(tfk.callbacks.Callback):
            step = 0

            def on_train_batch_begin(self, batch, logs=None):
                _BlockMasks.step += 1  # as tfmot's wrapper: steps count from 1
                should, target = schedule(_BlockMasks.step)
                if bool(should):
                    for layer in targets:
                        masks[layer.name] = block_mask(layer.kernel.numpy(), block, float(target))
                self._apply()

            def on_train_batch_end(self, batch, logs=None):
                self._apply()

            def on_epoch_end(self, epoch, logs=None):
                log.append({"epoch": epoch + 1, "step": _BlockMasks.step,
                            "sparsity": {layer.name: float(np.mean(layer.kernel.numpy() == 0)) for layer in targets}})

            @staticmethod
            def _apply():
                for layer in targets:
                    layer.kernel.assign(layer.kernel.numpy() * masks[layer.name])

        compile_like(model, dataset.task, params["learning_rate"])
        fit_quietly(model, dataset, int(params["epochs"]), params["batch_size"], callbacks=[_BlockMasks()])
        per_layer = kernel_sparsity(model, [layer.name for layer in targets])
        sizes = {layer.name: int(np.prod(layer.kernel.shape)) for layer in targets}
        rep = dataset.representative(params["calibration_samples"]) if params["quantize"] == "int8" else None
        data = convert(model, params["quantize"], rep)
        return Variant(
            name=self._variant_name(params, block, None), recipe=self.name, tflite_bytes=data, params=params,
            metrics={
                "sparsity_per_layer": per_layer,
                "sparsity_overall": sum(per_layer[n] * sizes[n] for n in sizes) / sum(sizes.values()),
                "block_size": list(block), "schedule": schedule_info, "sparsity_log": log,
                "keras_metric": keras_metric(model, dataset),
                **({"sizes": size_figures(model)} if params["report_sizes"] else {}),
            },
            keras_model=model,
        )


def size_figures(model: Any) -> dict[str, int]:
    """The pruning study's size columns: the stripped model as float32 and as dynamic-range
    int8 weights, each with its gzipped size (where zeros show)."""
    sizes = {}
    for mode in ("float32", "dynamic"):
        data = convert(model, mode)
        sizes[mode], sizes[f"{mode}_gzip"] = len(data), gzip_size(data)
    return sizes


def block_mask(kernel: np.ndarray, block: tuple[int, int], sparsity: float) -> np.ndarray:
    """tfmot's block rule on a kernel viewed as [inputs, outputs] (a conv's (k_h, k_w, in, out)
    as [k_h*k_w*in, out]): mean |w| per block (edge blocks averaged over what they hold), the
    ``round(sparsity * blocks)`` lowest blocks masked."""
    w2 = np.abs(kernel.reshape(-1, kernel.shape[-1]))
    rows, cols = w2.shape
    bh, bw = block
    ph, pw = -(-rows // bh), -(-cols // bw)
    padded = np.zeros((ph * bh, pw * bw), np.float64)
    count = np.zeros_like(padded)
    padded[:rows, :cols], count[:rows, :cols] = w2, 1.0
    pooled = padded.reshape(ph, bh, pw, bw).sum(axis=(1, 3)) / count.reshape(ph, bh, pw, bw).sum(axis=(1, 3))
    k = round(sparsity * pooled.size)
    keep = np.ones(pooled.size, np.float32)
    keep[np.argsort(pooled.ravel(), kind="stable")[:k]] = 0.0
    full = np.repeat(np.repeat(keep.reshape(ph, pw), bh, axis=0), bw, axis=1)[:rows, :cols]
    return full.reshape(kernel.shape).astype(np.float32)


class PruneConstant(_Prune):
    name = "prune_constant"
    description = "constant-sparsity magnitude pruning (tfmot), wrappers stripped"
    schedule = "constant"


class PrunePolynomial(_Prune):
    name = "prune_polynomial"
    description = "polynomial-decay sparsity from initial to final between start and end epoch (tfmot)"
    schedule = "polynomial"
