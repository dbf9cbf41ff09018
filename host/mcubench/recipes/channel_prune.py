"""Channel pruning for Keras models: filters removed for real, so MACs, flash, arena and
latency fall together on every runtime.

1. **Channel groups.** The model's graph is walked once. Every Conv2D / Dense output starts a
   group of channels; layers that act channel by channel carry their input's group through
   (DepthwiseConv2D with depth multiplier 1, BatchNormalization, activations, pooling,
   Dropout, ZeroPadding2D, Flatten — which repeats the group over its spatial positions);
   element-wise merges (Add, Subtract, Multiply, Maximum, Minimum, Average) join their
   inputs' groups into one channel set (union-find), as a residual ADD needs. A group that
   reaches a model output, the model input, or a layer this walk does not know (Concatenate,
   Reshape, attention...) is fixed: its channels all stay.
2. **Scores.** A channel's score is the sum, over the group's producers, of the norm (L1 or
   L2) of its filter divided by the mean filter norm of that producer, so producers of
   different scales count alike.
3. **Keep.** ``round((1 - sparsity) * channels)`` channels with the highest scores stay,
   rounded up to a multiple of ``multiple`` (4 by default: the AOT kernels work on groups of
   four output channels and 4-byte input rows, so other counts pay for padding).
4. **Rebuild.** ``keras.models.clone_model`` with the producers' ``filters``/``units``
   reduced; every kept weight is sliced from the original (conv kernels on both channel axes,
   depthwise and BatchNorm vectors on theirs, Dense rows through Flatten's repetition).
5. **Fine-tune** for ``epochs`` with the task's loss, then convert (float32 or int8).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mcubench.core.errors import UserError
from mcubench.models.data import Dataset
from mcubench.models.load import SourceModel
from mcubench.recipes.base import Recipe, Variant
from mcubench.recipes.prune import size_figures
from mcubench.recipes.ptq import convert
from mcubench.recipes.training import compile_like, fit_quietly, keras_metric

PRODUCERS = ("Conv2D", "Dense")
CHANNELWISE = ("BatchNormalization", "ReLU", "Activation", "MaxPooling2D", "AveragePooling2D",
               "GlobalAveragePooling2D", "GlobalMaxPooling2D", "Dropout", "ZeroPadding2D", "LeakyReLU",
               "MaxPooling1D", "AveragePooling1D", "GlobalAveragePooling1D", "GlobalMaxPooling1D", "Identity")
MERGES = ("Add", "Subtract", "Multiply", "Maximum", "Minimum", "Average")


@dataclass
class _TensorChannels:
    group: int | None  # None: fixed channels (model input, or after an unknown layer)
    repeat: int = 1    # >1 after Flatten: the group's channels repeated over spatial positions
    size: int = 0      # channels in the group


@dataclass
class ChannelPlan:
    """What the walk found: each layer's input channels and, for producers, its own group."""

    parents: dict[int, int] = field(default_factory=dict)
    sizes: dict[int, int] = field(default_factory=dict)
    fixed: set[int] = field(default_factory=set)
    producers: dict[str, int] = field(default_factory=dict)      # layer name -> group
    inputs: dict[str, _TensorChannels] = field(default_factory=dict)  # layer name -> its input channels
    channelwise: dict[str, int] = field(default_factory=dict)    # depthwise/BN layer -> group

    def root(self, g: int) -> int:
        while self.parents[g] != g:
            self.parents[g] = self.parents[self.parents[g]]
            g = self.parents[g]
        return g

    def union(self, a: int, b: int) -> int:
        ra, rb = self.root(a), self.root(b)
        if ra != rb:
            if self.sizes[ra] != self.sizes[rb]:
                raise UserError(f"merged channel sets differ in size ({self.sizes[ra]} vs {self.sizes[rb]})",
                                "the model's element-wise merges must add tensors of equal channels")
            self.parents[rb] = ra
            if rb in self.fixed:
                self.fixed.add(ra)
        return ra

    def new_group(self, size: int) -> int:
        g = len(self.parents)
        self.parents[g], self.sizes[g] = g, size
        return g

    def prunable(self, g: int | None) -> bool:
        return g is not None and self.root(g) not in self.fixed


def _graph(model: Any) -> list[tuple[Any, list[int], list[int]]]:
    """(layer, input tensor keys, output tensor keys) in topological order."""
    layers = [lay for lay in model.layers if type(lay).__name__ != "InputLayer"]
    if type(model).__name__ == "Sequential":
        return [(lay, [i], [i + 1]) for i, lay in enumerate(layers)]
    nodes = []
    for lay in layers:
        if len(lay._inbound_nodes) != 1:
            raise UserError(f"layer {lay.name} is used {len(lay._inbound_nodes)} times; channel pruning needs each layer used once",
                            "give each use its own layer")
        node = lay._inbound_nodes[0]
        nodes.append((lay, [id(t) for t in node.input_tensors], [id(t) for t in node.output_tensors]))
    return nodes


def _input_keys(model: Any) -> list[int]:
    return [0] if type(model).__name__ == "Sequential" else [id(t) for t in model.inputs]


def _output_keys(model: Any) -> list[int]:
    if type(model).__name__ == "Sequential":
        return [len([lay for lay in model.layers if type(lay).__name__ != "InputLayer"])]
    return [id(t) for t in model.outputs]


def plan_channels(model: Any) -> ChannelPlan:
    """Walks the graph: channel groups, which layers read or make them, which are fixed."""
    plan = ChannelPlan()
    tensors: dict[int, _TensorChannels] = {key: _TensorChannels(None) for key in _input_keys(model)}

    def fix(info: _TensorChannels) -> None:
        if info.group is not None:
            plan.fixed.add(plan.root(info.group))

    for layer, ins, outs in _graph(model):
        kind = type(layer).__name__
        infos = [tensors.get(k, _TensorChannels(None)) for k in ins]
        first = infos[0] if infos else _TensorChannels(None)
        plan.inputs[layer.name] = first
        out: _TensorChannels
        if kind in PRODUCERS and len(infos) == 1 and (kind != "Conv2D" or int(layer.get_config().get("groups", 1)) == 1):
            size = int(layer.get_config()["filters" if kind == "Conv2D" else "units"])
            g = plan.new_group(size)
            plan.producers[layer.name] = g
            if kind == "Dense" and first.repeat > 1 and len(layer.input.shape) != 2:
                fix(first)  # Dense over a >2-D tensor after Flatten: not a case the walk follows
            out = _TensorChannels(g, 1, size)
        elif kind == "DepthwiseConv2D" and int(layer.get_config().get("depth_multiplier", 1)) == 1:
            if first.group is not None:
                plan.channelwise[layer.name] = first.group
            out = first
        elif kind in CHANNELWISE and len(infos) == 1:
            cfg = layer.get_config()
            axis = cfg.get("axis", -1)
            axis = axis[0] if isinstance(axis, (list, tuple)) and len(axis) == 1 else axis
            if kind == "BatchNormalization" and axis not in (-1, len(layer.input.shape) - 1):
                fix(first)
                out = _TensorChannels(None)
            else:
                if kind == "BatchNormalization" and first.group is not None:
                    plan.channelwise[layer.name] = first.group
                out = first
        elif kind == "Flatten" and len(infos) == 1:
            spatial = int(np.prod([int(d) for d in layer.input.shape[1:-1]])) if len(layer.input.shape) > 2 else 1
            out = _TensorChannels(first.group, first.repeat * spatial, first.size)
        elif kind in MERGES and infos and all(i.repeat == 1 for i in infos):
            groups = [i.group for i in infos]
            if any(g is None for g in groups):
                for i in infos:
                    fix(i)
                out = _TensorChannels(None)
            else:
                root = groups[0]
                for g in groups[1:]:
                    root = plan.union(root, g)
                out = _TensorChannels(root, 1, first.size)
        else:
            for i in infos:
                fix(i)
            out = _TensorChannels(None)
        for k in outs:
            tensors[k] = out
    for k in _output_keys(model):
        fix(tensors.get(k, _TensorChannels(None)))
    return plan


def _kernel(layer: Any) -> np.ndarray:
    return np.asarray(layer.get_weights()[0])


def channel_scores(model: Any, plan: ChannelPlan, criterion: str = "l2") -> dict[int, np.ndarray]:
    """Per prunable group root: one score per channel (higher = keep)."""
    scores: dict[int, np.ndarray] = {}
    for layer in model.layers:
        g = plan.producers.get(layer.name)
        if g is None or not plan.prunable(g):
            continue
        w = _kernel(layer)
        flat = np.abs(w.reshape(-1, w.shape[-1]))
        norms = flat.sum(axis=0) if criterion == "l1" else np.sqrt((flat ** 2).sum(axis=0))
        norms = norms / max(float(norms.mean()), 1e-12)
        root = plan.root(g)
        scores[root] = scores.get(root, 0.0) + norms
    return scores


def keep_count(size: int, sparsity: float, multiple: int) -> int:
    keep = max(1, round((1.0 - sparsity) * size))
    if multiple > 1 and size >= multiple:
        keep = min(size, -(-keep // multiple) * multiple)
    return keep


def select_channels(scores: dict[int, np.ndarray], sparsity: float, multiple: int) -> dict[int, np.ndarray]:
    """Per group root: the kept channel indices, ascending."""
    kept = {}
    for root, s in scores.items():
        k = keep_count(len(s), sparsity, multiple)
        kept[root] = np.sort(np.argsort(-s, kind="stable")[:k])
    return kept


def _indices(plan: ChannelPlan, info: _TensorChannels, kept: dict[int, np.ndarray]) -> np.ndarray | None:
    """Kept indices along a tensor's last axis, or None when all stay."""
    if info.group is None or not plan.prunable(info.group):
        return None
    keep = kept[plan.root(info.group)]
    if info.repeat == 1:
        return keep
    return (np.arange(info.repeat)[:, None] * info.size + keep[None, :]).ravel()


def prune_channels(model: Any, sparsity: float, criterion: str = "l2", multiple: int = 4) -> tuple[Any, dict]:
    """A copy of ``model`` with channels removed (weights sliced) and a per-layer report."""
    keras = __import__(type(model).__module__.split(".")[0])
    plan = plan_channels(model)
    kept = select_channels(channel_scores(model, plan, criterion), sparsity, multiple)
    new_sizes = {name: len(kept[plan.root(g)]) for name, g in plan.producers.items() if plan.prunable(g)}

    def clone(layer: Any) -> Any:
        cfg = layer.get_config()
        if layer.name in new_sizes:
            cfg["filters" if "filters" in cfg else "units"] = new_sizes[layer.name]
        return layer.__class__.from_config(cfg)

    try:
        pruned = keras.models.clone_model(model, clone_function=clone)
    except Exception as err:  # noqa: BLE001 - Keras raises many kinds
        raise UserError(f"channel pruning cannot rebuild model {model.name}: {(str(err).splitlines() or [type(err).__name__])[0][:300]}",
                        "use standard Keras layers (Conv2D, DepthwiseConv2D, Dense, BatchNormalization, Add...)") from None
    report = {}
    for old in model.layers:
        weights = old.get_weights()
        if not weights:
            continue
        kind = type(old).__name__
        in_idx = _indices(plan, plan.inputs.get(old.name, _TensorChannels(None)), kept)
        if old.name in plan.producers:
            g = plan.producers[old.name]
            out_idx = kept[plan.root(g)] if plan.prunable(g) else None
            w = weights[0]
            if in_idx is not None:
                w = np.take(w, in_idx, axis=-2)
            if out_idx is not None:
                w = np.take(w, out_idx, axis=-1)
                weights = [w] + [np.take(b, out_idx, axis=-1) for b in weights[1:]]
            else:
                weights = [w] + weights[1:]
            report[old.name] = {"channels": int(weights[0].shape[-1]), "was": int(_kernel(old).shape[-1])}
        elif old.name in plan.channelwise and in_idx is not None:
            if kind == "DepthwiseConv2D":
                weights = [np.take(weights[0], in_idx, axis=2)] + [np.take(b, in_idx, axis=-1) for b in weights[1:]]
            else:
                weights = [np.take(v, in_idx, axis=-1) for v in weights]
        pruned.get_layer(old.name).set_weights(weights)
    return pruned, report


class PruneChannels(Recipe):
    name = "prune_channels"
    description = "channel pruning: lowest-norm filters removed (dependencies kept consistent), fine-tuned"
    needs_labels = True
    defaults = {
        "sparsity": 0.5, "criterion": "l2", "multiple": 4, "epochs": 4, "learning_rate": 1e-3,
        "batch_size": 32, "quantize": "float32", "calibration_samples": 200, "report_sizes": 0,
    }

    def do_apply(self, source: SourceModel, dataset: Dataset, params: dict) -> Variant:
        if not 0.0 <= params["sparsity"] < 1.0:
            raise UserError(f"recipe {self.name}: sparsity {params['sparsity']} is outside [0, 1)", "give the fraction of channels to remove, e.g. sparsity=0.5")
        if params["criterion"] not in ("l1", "l2"):
            raise UserError(f"recipe {self.name}: criterion={params['criterion']!r}", "use criterion=l1 or criterion=l2")
        if params["quantize"] not in ("float32", "int8"):
            raise UserError(f"recipe {self.name}: quantize={params['quantize']!r}", "use quantize=float32 or quantize=int8")
        if params["quantize"] == "int8":
            dataset.representative()
        model = source.keras_model
        pruned, report = prune_channels(model, params["sparsity"], params["criterion"], int(params["multiple"]))
        before_tune = keras_metric(pruned, dataset)
        compile_like(pruned, dataset.task, params["learning_rate"])
        fit_quietly(pruned, dataset, int(params["epochs"]), params["batch_size"])
        rep = dataset.representative(params["calibration_samples"]) if params["quantize"] == "int8" else None
        data = convert(pruned, params["quantize"], rep)
        pct = f"{params['sparsity'] * 100:g}"
        name = f"{self.name}_{pct}" + ("_int8" if params["quantize"] == "int8" else "")
        removed = sum(r["was"] - r["channels"] for r in report.values())
        total = sum(r["was"] for r in report.values())
        return Variant(
            name=name, recipe=self.name, tflite_bytes=data, params=params,
            metrics={"channels_per_layer": report, "channels_removed": removed / total if total else 0.0,
                     "keras_metric_before_finetune": before_tune, "keras_metric": keras_metric(pruned, dataset),
                     **({"sizes": size_figures(pruned)} if params["report_sizes"] else {})},
            keras_model=pruned,
        )
