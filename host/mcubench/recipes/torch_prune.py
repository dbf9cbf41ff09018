"""PyTorch pruning as the workshop notebooks do it, then conversion (float32 or int8) like any
PyTorch model.

* ``torch_prune_l1``: global unstructured L1 magnitude pruning
  (``torch.nn.utils.prune.global_unstructured`` with ``L1Unstructured``) over every conv and
  linear weight, in ``steps`` rounds of prune -> fine-tune, the target growing linearly to
  ``sparsity``; the masks are then made permanent (``prune.remove``). Zeros in dense tensors:
  the ``.tflite`` compresses better (gzip) but runs the same MACs.
* ``torch_prune_channels``: structured L1 pruning of output channels
  (``prune.ln_structured(n=1, dim=0)``; the bias of a pruned channel is masked too) of every
  conv and every linear layer but the classifier, in ``steps`` rounds of prune -> fine-tune;
  then ``torch-pruning`` removes the zeroed channels from the module (and the matching inputs of
  the layers that read them), so they really leave the exported graph: MACs, size and arena
  fall. One last fine-tune follows the removal.

Both train (fine-tune) with cross-entropy: classification data with labels, a PyTorch
``nn.Module`` with real layers (``package.module:function`` or ``--example NAME --framework
torch``; a ``.pt2`` holds a flattened graph that cannot be pruned layer by layer).
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from mcubench.core.errors import UserError
from mcubench.models import tf as tfmod
from mcubench.models import torch_onnx
from mcubench.models.data import Dataset
from mcubench.models.load import SourceModel
from mcubench.models.torch_examples import train_classifier
from mcubench.recipes.base import Recipe, Variant
from mcubench.recipes.ptq import convert


def _layers(torch: Any, module: Any) -> list[Any]:
    return [m for m in module.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Conv1d, torch.nn.Linear))]


def _weight_sparsity(layers: list[Any]) -> tuple[float, list[float]]:
    per_layer = [float((m.weight == 0).float().mean()) for m in layers]
    total = sum(int(m.weight.numel()) for m in layers)
    zeros = sum(int((m.weight == 0).sum()) for m in layers)
    return zeros / max(total, 1), per_layer


def _step_amount(target: float, previous: float) -> float:
    """The fraction of the still-unpruned weights to prune to go from ``previous`` to ``target``
    overall (torch's pruning containers apply ``amount`` to what is left)."""
    return 0.0 if target <= previous else 1.0 - (1.0 - target) / (1.0 - previous)


class _TorchPrune(Recipe):
    needs_keras = False
    needs_torch = True
    needs_labels = True
    needs_representative = True

    def _check(self, source: SourceModel, dataset: Dataset, params: dict) -> Any:
        torch = torch_onnx.require("torch", f"recipe {self.name}")
        if dataset.task != "classification":
            raise UserError(f"recipe {self.name} fine-tunes with cross-entropy and needs classification data",
                            "give a dataset with integer class labels")
        if type(source.torch_module).__name__ == "GraphModule":
            raise UserError(f"recipe {self.name} needs the PyTorch module with its layers; a .pt2 holds a flattened graph",
                            "give --model package.module:function returning (nn.Module, example_input)")
        if params["quantize"] not in ("float32", "int8"):
            raise UserError(f"recipe {self.name}: quantize={params['quantize']!r}", "use quantize=float32 or quantize=int8")
        if not 0.0 < params[self.amount_key] < 1.0:
            raise UserError(f"recipe {self.name}: {self.amount_key} must be in (0, 1)", f"e.g. {self.name}.{self.amount_key}=0.5")
        if params["steps"] < 1:
            raise UserError(f"recipe {self.name}: steps must be at least 1", f"e.g. {self.name}.steps=3")
        return torch

    def _finish(self, source: SourceModel, module: Any, dataset: Dataset, params: dict, metrics: dict) -> Variant:
        pruned = SourceModel(None, "torch", torch_module=module.eval(), example_input=source.example_input,
                             label=f"{source.name}_{self.name}")
        rep = dataset.representative(params["calibration_samples"]) if params["quantize"] == "int8" else None
        data = convert(pruned, params["quantize"], rep)
        name = f"{self.name}_{self.variant_suffix(params)}" + ("_int8" if params["quantize"] == "int8" else "")
        return Variant(name=name, recipe=self.name, tflite_bytes=data, params=params, metrics=metrics, source_model=pruned)

    def variant_suffix(self, params: dict) -> str:
        return f"{round(params[self.amount_key] * 100)}"


class TorchPruneL1(_TorchPrune):
    name = "torch_prune_l1"
    description = "PyTorch: global unstructured L1 pruning, iterative prune -> fine-tune, then float32/int8"
    amount_key = "sparsity"
    defaults = {"sparsity": 0.75, "steps": 3, "epochs": 2, "learning_rate": 1e-3, "batch_size": 32,
                "quantize": "int8", "calibration_samples": 200, "seed": 0}

    def do_apply(self, source: SourceModel, dataset: Dataset | None, params: dict) -> Variant:
        torch = self._check(source, dataset, params)
        prune = torch_onnx.require("torch.nn.utils.prune", f"recipe {self.name}")
        module = copy.deepcopy(source.torch_module)
        layers = _layers(torch, module)
        targets = [(m, "weight") for m in layers]
        reached, history = 0.0, []
        with tfmod.third_party_output():
            for step in range(1, params["steps"] + 1):
                goal = params["sparsity"] * step / params["steps"]
                prune.global_unstructured(targets, pruning_method=prune.L1Unstructured, amount=_step_amount(goal, reached))
                reached = goal
                train_classifier(module, dataset, params["epochs"], params["batch_size"], params["learning_rate"], params["seed"] + step)
                history.append(round(goal, 4))
            for m, attr in targets:
                prune.remove(m, attr)  # the mask becomes the weight: zeros stay zeros
        overall, per_layer = _weight_sparsity(layers)
        metrics = {"sparsity_overall": overall, "sparsity_per_layer": per_layer, "sparsity_steps": history}
        return self._finish(source, module, dataset, params, metrics)


class TorchPruneChannels(_TorchPrune):
    name = "torch_prune_channels"
    description = "PyTorch: L1 channel pruning (ln_structured), iterative, pruned channels removed with torch-pruning; float32/int8"
    amount_key = "ratio"
    defaults = {"ratio": 0.5, "steps": 2, "epochs": 2, "final_epochs": 2, "learning_rate": 1e-3, "batch_size": 32,
                "quantize": "int8", "calibration_samples": 200, "seed": 0}

    def do_apply(self, source: SourceModel, dataset: Dataset | None, params: dict) -> Variant:
        torch = self._check(source, dataset, params)
        tp = torch_onnx.require("torch_pruning", f"recipe {self.name}")
        prune = torch_onnx.require("torch.nn.utils.prune", f"recipe {self.name}")
        module = copy.deepcopy(source.torch_module)
        layers = _layers(torch, module)
        prunable = layers[:-1]  # never the classifier: its outputs are the classes
        if not prunable:
            raise UserError(f"recipe {self.name}: the model has no conv/linear layer before its classifier", "use torch_prune_l1")
        before = [int(m.weight.shape[0]) for m in prunable]
        with tfmod.third_party_output():
            for step in range(1, params["steps"] + 1):
                goal = params["ratio"] * step / params["steps"]
                previous = params["ratio"] * (step - 1) / params["steps"]
                for m in prunable:
                    prune.ln_structured(m, "weight", amount=_step_amount(goal, previous), n=1, dim=0)
                    if m.bias is not None or hasattr(m, "bias_orig"):
                        keep = m.weight_mask.flatten(1).amax(dim=1)  # 1 for a kept output channel
                        if hasattr(m, "bias_mask"):
                            prune.remove(m, "bias")
                        prune.custom_from_mask(m, "bias", mask=keep)
                train_classifier(module, dataset, params["epochs"], params["batch_size"], params["learning_rate"], params["seed"] + step)
            dead = []
            for m in prunable:
                dead.append([int(i) for i in torch.nonzero(m.weight_mask.flatten(1).amax(dim=1) == 0).flatten()])
                prune.remove(m, "weight")
                if hasattr(m, "bias_mask"):
                    prune.remove(m, "bias")
            example = torch.from_numpy(np.asarray(source.example_input, dtype=np.float32))
            graph = tp.DependencyGraph().build_dependency(module.eval(), example_inputs=example)
            for m, idxs in zip(prunable, dead):
                if not idxs:
                    continue
                prune_fn = tp.prune_linear_out_channels if isinstance(m, torch.nn.Linear) else tp.prune_conv_out_channels
                group = graph.get_pruning_group(m, prune_fn, idxs=idxs)
                if graph.check_pruning_group(group):
                    group.prune()
            if params["final_epochs"]:
                train_classifier(module, dataset, params["final_epochs"], params["batch_size"], params["learning_rate"], params["seed"] + 1000)
        after = [int(m.weight.shape[0]) for m in prunable]
        params_after = sum(int(p.numel()) for p in module.parameters())
        metrics = {"channels_before": before, "channels_after": after,
                   "params_before": sum(int(p.numel()) for p in source.torch_module.parameters()), "params_after": params_after}
        return self._finish(source, module, dataset, params, metrics)
