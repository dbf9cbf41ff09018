"""The int8 models the AOT runtime is measured on: the built-in examples and three conv-heavy
reference models of MLPerf Tiny shapes (and the fully connected anomaly-detection one).

* examples (``digits``, ``sine``, ``kws_dscnn``): the model pipeline's trained examples
  (:mod:`mcubench.models.examples`), quantized with the ``int8`` recipe and their own data.
* references, built with Keras with random weights (no training) and quantized with random
  representative inputs — for latency and memory only, no accuracy claim:

  - ``ref_dscnn``: DS-CNN of keyword-spotting shape (MLPerf Tiny KWS: 49x10x1 input, 64
    channels, a 10x4 stride-2 convolution, 4 depthwise-separable blocks, average pool, 12 classes);
  - ``ref_mobilenet``: MobileNet-v1 0.25 on 96x96x3 (MLPerf Tiny visual wake words shape);
  - ``ref_resnet8``: ResNet-8 on 32x32x3 (MLPerf Tiny image classification shape);
  - ``ref_autoencoder``: fully connected autoencoder of the MLPerf Tiny anomaly-detection shape
    (640 -> 128 x4 -> 8 -> 128 x4 -> 640, ReLU on every hidden layer, linear output).

``model_path(name)`` returns a cached ``.tflite`` (built on first use, seconds each); the cache
key hashes the builder's source, the seed and the TensorFlow version.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from mcubench.core import paths
from mcubench.core.errors import UserError
from mcubench.core.fileio import write_bytes_atomic
from mcubench.models import tf as tfmod
from mcubench.models.data import Dataset
from mcubench.recipes import get_recipe
from mcubench.recipes.variants import prepare_example_variant

CODE_VERSION = "1"
EXAMPLES = ("digits", "sine", "kws_dscnn")


@dataclass(frozen=True)
class ReferenceModel:
    name: str
    description: str
    input_shape: tuple[int, ...]
    build: Callable[[Any], Any]  # keras module -> model with random weights


def _bn_relu(layers, x, name: str, relu6: bool = False):
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return layers.ReLU(6.0 if relu6 else None, name=f"{name}_relu")(x)


def build_dscnn(keras: Any) -> Any:
    layers = keras.layers
    inputs = keras.Input((49, 10, 1), name="mfcc")
    x = layers.Conv2D(64, (10, 4), strides=(2, 2), padding="same", use_bias=False, name="conv0")(inputs)
    x = _bn_relu(layers, x, "conv0")
    for i in range(4):
        x = layers.DepthwiseConv2D(3, padding="same", use_bias=False, name=f"dw{i}")(x)
        x = _bn_relu(layers, x, f"dw{i}")
        x = layers.Conv2D(64, 1, use_bias=False, name=f"pw{i}")(x)
        x = _bn_relu(layers, x, f"pw{i}")
    x = layers.AveragePooling2D((25, 5), name="pool")(x)
    x = layers.Flatten(name="flatten")(x)
    outputs = layers.Dense(12, activation="softmax", name="probs")(x)
    return keras.Model(inputs, outputs, name="ref_dscnn")


def build_mobilenet(keras: Any) -> Any:
    layers = keras.layers
    alpha = 0.25
    inputs = keras.Input((96, 96, 3), name="image")
    x = layers.Conv2D(int(32 * alpha), 3, strides=2, padding="same", use_bias=False, name="conv0")(inputs)
    x = _bn_relu(layers, x, "conv0", relu6=True)
    blocks = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
              (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1)]
    for i, (filters, stride) in enumerate(blocks):
        x = layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False, name=f"dw{i}")(x)
        x = _bn_relu(layers, x, f"dw{i}", relu6=True)
        x = layers.Conv2D(int(filters * alpha), 1, use_bias=False, name=f"pw{i}")(x)
        x = _bn_relu(layers, x, f"pw{i}", relu6=True)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = layers.Dense(2, activation="softmax", name="probs")(x)
    return keras.Model(inputs, outputs, name="ref_mobilenet")


def build_resnet8(keras: Any) -> Any:
    layers = keras.layers
    inputs = keras.Input((32, 32, 3), name="image")
    x = layers.Conv2D(16, 3, padding="same", name="conv0")(inputs)
    x = _bn_relu(layers, x, "conv0")
    for stage, (filters, stride) in enumerate([(16, 1), (32, 2), (64, 2)]):
        y = layers.Conv2D(filters, 3, strides=stride, padding="same", name=f"s{stage}_a")(x)
        y = _bn_relu(layers, y, f"s{stage}_a")
        y = layers.Conv2D(filters, 3, padding="same", name=f"s{stage}_b")(y)
        y = layers.BatchNormalization(name=f"s{stage}_b_bn")(y)
        if stride != 1:
            x = layers.Conv2D(filters, 1, strides=stride, padding="same", name=f"s{stage}_short")(x)
        x = layers.ReLU(name=f"s{stage}_relu")(layers.Add(name=f"s{stage}_add")([x, y]))
    x = layers.AveragePooling2D(8, name="pool")(x)
    x = layers.Flatten(name="flatten")(x)
    outputs = layers.Dense(10, activation="softmax", name="probs")(x)
    return keras.Model(inputs, outputs, name="ref_resnet8")


def build_autoencoder(keras: Any) -> Any:
    layers = keras.layers
    inputs = keras.Input((640,), name="features")
    x = inputs
    for i, units in enumerate((128, 128, 128, 128, 8, 128, 128, 128, 128)):
        x = layers.Dense(units, activation="relu", name=f"fc{i}")(x)
    outputs = layers.Dense(640, name="reconstruction")(x)
    return keras.Model(inputs, outputs, name="ref_autoencoder")


REFERENCE_MODELS: dict[str, ReferenceModel] = {
    "ref_dscnn": ReferenceModel("ref_dscnn", "DS-CNN KWS shape 49x10x1, 64 channels, 4 DS blocks", (49, 10, 1), build_dscnn),
    "ref_mobilenet": ReferenceModel("ref_mobilenet", "MobileNet-v1 0.25, 96x96x3", (96, 96, 3), build_mobilenet),
    "ref_resnet8": ReferenceModel("ref_resnet8", "ResNet-8, 32x32x3", (32, 32, 3), build_resnet8),
    "ref_autoencoder": ReferenceModel("ref_autoencoder", "FC autoencoder 640-128x4-8-128x4-640 (MLPerf Tiny AD shape)",
                                      (640,), build_autoencoder),
}

ALL_MODELS = (*EXAMPLES, *REFERENCE_MODELS)


def cache_dir() -> Path:
    return paths.work_dir() / "aot-models"


def _key(parts: list[str]) -> str:
    h = hashlib.sha256()
    for part in (CODE_VERSION, importlib.metadata.version("tensorflow"), *parts):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()[:16]


def _randomize(model: Any, seed: int) -> None:
    """Random weights with per-channel spread, so per-channel scales and activations vary."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        weights = layer.get_weights()
        if not weights:
            continue
        if type(layer).__name__ == "BatchNormalization":
            gamma, beta, mean, var = weights
            n = gamma.shape[0]
            layer.set_weights([rng.uniform(0.5, 1.5, n).astype(np.float32), rng.normal(0.1, 0.2, n).astype(np.float32),
                               rng.normal(0.0, 0.1, n).astype(np.float32), rng.uniform(0.5, 1.5, n).astype(np.float32)])
            continue
        new = []
        for w in weights:
            if w.ndim > 1:
                fan_in = int(np.prod(w.shape[:-1])) if type(layer).__name__ != "DepthwiseConv2D" else int(np.prod(w.shape[:2]))
                new.append(rng.normal(0.0, np.sqrt(2.0 / max(fan_in, 1)), w.shape).astype(np.float32))
            else:
                new.append(rng.normal(0.0, 0.1, w.shape).astype(np.float32))
        layer.set_weights(new)


def _quantize(model: Any, x_rep: np.ndarray) -> bytes:
    dataset = Dataset(x_rep, None, x_rep[:1], None, task="classification", name="random", synthetic=True)
    return get_recipe("int8").apply(model, dataset, {"calibration_samples": len(x_rep)}).tflite_bytes


def _build_reference(spec: ReferenceModel, seed: int) -> bytes:
    keras = tfmod.keras3()
    tfmod.set_seed(seed)
    model = spec.build(keras)
    _randomize(model, seed)
    rep = np.random.default_rng(seed + 1).normal(0.0, 1.0, (24, *spec.input_shape)).astype(np.float32)
    return _quantize(model, rep)


def model_path(name: str, seed: int = 0) -> Path:
    """The cached int8 .tflite of an example or reference model, built when missing."""
    if name in REFERENCE_MODELS:
        spec = REFERENCE_MODELS[name]
        key = _key([name, str(seed), inspect.getsource(spec.build), inspect.getsource(_randomize),
                    inspect.getsource(_build_reference)])
        build = lambda: _build_reference(spec, seed)  # noqa: E731
    elif name in EXAMPLES:
        # The one cached example -> variant path (recipes.variants).
        return prepare_example_variant(name, "int8", seed=seed).path
    else:
        raise UserError(f"unknown model {name!r}", f"choose one of: {', '.join(ALL_MODELS)}")
    path = cache_dir() / f"{name}-{key}.tflite"
    if not path.is_file():
        write_bytes_atomic(path, build())
    return path


def model_bytes(name: str, seed: int = 0) -> bytes:
    return model_path(name, seed).read_bytes()
