"""Rebuild a Keras 3 model in tf-keras (what tensorflow-model-optimization needs), weights included.

Supported: Sequential models and single-path functional models (each layer has one input)
made of standard ``keras.layers`` that tf-keras also has. Initializers, regularizers and
constraints are not carried over (weights are copied, so only fine-tuning regularization is
lost). Anything else raises a UserError naming the layer.
"""

from __future__ import annotations

import inspect
from typing import Any

from mcubench.core.errors import UserError
from mcubench.models import tf as tfmod

_DROPPED = ("_initializer", "_regularizer", "_constraint")


def _layer_kwargs(cls: type, config: dict) -> dict:
    accepted = set(inspect.signature(cls.__init__).parameters)
    kwargs = {}
    for key, value in config.items():
        if key.endswith(_DROPPED) or key == "dtype":
            continue
        if key in accepted or key in ("name", "trainable"):
            kwargs[key] = value
    return kwargs


def _single_path_layers(model: Any) -> list[Any]:
    layers = [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]
    if type(model).__name__ == "Sequential":
        # Single path by construction. Keras 3 rebuilds a Sequential graph as layers are added
        # (and again on loading), leaving stale inbound nodes that say nothing about the model.
        return layers
    previous = None
    for layer in layers:
        nodes = getattr(layer, "_inbound_nodes", [])
        if len(nodes) != 1:
            raise UserError(
                f"layer {layer.name} is used {len(nodes)} times; QAT/pruning rebuild supports single-path models only",
                "build the model with tf_keras (import tf_keras) and save it as .h5 — tf-keras models are used as they are",
            )
        parents = nodes[0].parent_nodes if hasattr(nodes[0], "parent_nodes") else []
        if len(parents) > 1:
            raise UserError(
                f"layer {layer.name} has {len(parents)} inputs (a branch/merge); QAT/pruning rebuild supports single-path models only",
                "build the model with tf_keras (import tf_keras) and save it as .h5 — tf-keras models are used as they are",
            )
        previous = layer
    del previous
    return layers


def to_tf_keras(model: Any) -> Any:
    """Return a tf-keras copy of ``model`` (returned unchanged if it already is tf-keras)."""
    if tfmod.is_tf_keras_model(model):
        return model
    tfk = tfmod.tf_keras()
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise UserError(f"model {model.name} has {len(model.inputs)} inputs and {len(model.outputs)} outputs", "QAT/pruning rebuild supports one of each")
    input_shape = tuple(model.inputs[0].shape[1:])
    rebuilt = [tfk.Input(input_shape, name=tfmod.stable_input_name(model.inputs[0], 0))]
    for layer in _single_path_layers(model):
        cls_name = type(layer).__name__
        cls = getattr(tfk.layers, cls_name, None)
        if cls is None:
            raise UserError(
                f"layer {layer.name} ({cls_name}) has no tf-keras equivalent, so QAT/pruning cannot rebuild the model",
                "use standard layers, or build the model with tf_keras and save it as .h5",
            )
        try:
            new_layer = cls(**_layer_kwargs(cls, layer.get_config()))
        except (TypeError, ValueError) as err:
            raise UserError(f"layer {layer.name} ({cls_name}) cannot be rebuilt in tf-keras: {err}", "build the model with tf_keras and save it as .h5") from None
        rebuilt.append(new_layer)
    clone = tfk.Sequential(rebuilt, name=model.name)
    for old, new in zip(_single_path_layers(model), clone.layers):
        weights = old.get_weights()
        if len(weights) != len(new.get_weights()):
            raise UserError(f"layer {old.name}: weight layout differs between Keras 3 and tf-keras", "build the model with tf_keras")
        new.set_weights(weights)
    return clone
