"""Built-in example models that work offline, trained by the tool (never committed as binaries).

* ``digits``: a small CNN on scikit-learn's 8x8 handwritten digits (classification).
* ``sine``: the TFLM hello-world regression, y = sin(x) with noise, x in [0, 2*pi).
* ``kws_dscnn``: a depthwise-separable CNN of keyword-spotting shape (49x10x1 MFCC input,
  12 classes) trained briefly on *synthetic* data: for latency/size/arena, no accuracy claim.

Trained models are cached under ``mcubench.core.paths.work_dir()/models/<name>-<key>/`` where the
key hashes the example's code and seed, so tests and later stages do not retrain.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from mcubench.core import paths, progress
from mcubench.core.errors import UserError
from mcubench.models import tf as tfmod
from mcubench.models.data import Dataset

# Bump when something outside the builder functions changes what a cached model would be.
CODE_VERSION = "1"


@dataclass
class Example:
    """A trained example: the Keras 3 model, its data, and where the cache keeps it."""

    name: str
    model: Any
    dataset: Dataset
    path: Path
    seed: int


@dataclass(frozen=True)
class ExampleSpec:
    name: str
    description: str
    make_dataset: Callable[[int], Dataset]
    build: Callable[[Any], Any]  # keras module -> untrained, compiled model
    epochs: int
    batch_size: int = 32


def digits_dataset(seed: int) -> Dataset:
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[..., None]  # (1797, 8, 8, 1) in [0, 1]
    y = digits.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(x))
    cut = int(len(x) * 0.8)
    tr, te = order[:cut], order[cut:]
    return Dataset(x[tr], y[tr], x[te], y[te], task="classification", name="digits")


def build_digits(keras: Any) -> Any:
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1), name="image"),
            keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv1"),
            keras.layers.MaxPooling2D(2, name="pool1"),
            keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="conv2"),
            keras.layers.MaxPooling2D(2, name="pool2"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(64, activation="relu", name="fc1"),
            keras.layers.Dense(10, activation="softmax", name="probs"),
        ],
        name="digits_cnn",
    )
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def sine_dataset(seed: int) -> Dataset:
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 2 * np.pi, size=(1200, 1)).astype(np.float32)
    y = (np.sin(x) + rng.normal(0, 0.05, size=x.shape)).astype(np.float32)
    return Dataset(x[:1000], y[:1000], x[1000:], y[1000:], task="regression", name="sine")


def build_sine(keras: Any) -> Any:
    model = keras.Sequential(
        [
            keras.Input((1,), name="x"),
            keras.layers.Dense(16, activation="relu", name="fc1"),
            keras.layers.Dense(16, activation="relu", name="fc2"),
            keras.layers.Dense(1, name="y"),
        ],
        name="sine",
    )
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse", metrics=["mae"])
    return model


def kws_dataset(seed: int) -> Dataset:
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, size=(96, 49, 10, 1)).astype(np.float32)
    y = rng.integers(0, 12, size=96).astype(np.int64)
    return Dataset(
        x[:64], y[:64], x[64:], y[64:], task="classification", name="kws-synthetic", synthetic=True,
        notes=["synthetic inputs: latency/size/arena only, no accuracy claim"],
    )


def build_kws_dscnn(keras: Any) -> Any:
    """DS-CNN (small) shape: a strided conv, four depthwise-separable blocks, average pool."""
    layers = keras.layers
    inputs = keras.Input((49, 10, 1), name="mfcc")
    x = layers.Conv2D(64, (10, 4), strides=(2, 2), padding="same", use_bias=False, name="conv0")(inputs)
    x = layers.BatchNormalization(name="bn0")(x)
    x = layers.ReLU(name="relu0")(x)
    for i in range(1, 5):
        x = layers.DepthwiseConv2D(3, padding="same", use_bias=False, name=f"dw{i}")(x)
        x = layers.BatchNormalization(name=f"dw{i}_bn")(x)
        x = layers.ReLU(name=f"dw{i}_relu")(x)
        x = layers.Conv2D(64, 1, use_bias=False, name=f"pw{i}")(x)
        x = layers.BatchNormalization(name=f"pw{i}_bn")(x)
        x = layers.ReLU(name=f"pw{i}_relu")(x)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = layers.Dense(12, activation="softmax", name="probs")(x)
    model = keras.Model(inputs, outputs, name="kws_dscnn")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


EXAMPLES: dict[str, ExampleSpec] = {
    "digits": ExampleSpec("digits", "small CNN on scikit-learn digits (8x8x1, 10 classes)", digits_dataset, build_digits, epochs=25),
    "sine": ExampleSpec("sine", "sine regression, the TFLM hello-world task", sine_dataset, build_sine, epochs=60),
    "kws_dscnn": ExampleSpec(
        "kws_dscnn", "DS-CNN keyword-spotting shape (49x10x1, 12 classes), synthetic data: latency only",
        kws_dataset, build_kws_dscnn, epochs=1,
    ),
}


def cache_key(spec: ExampleSpec, seed: int) -> str:
    h = hashlib.sha256()
    for part in (CODE_VERSION, str(seed), str(spec.epochs), str(spec.batch_size)):
        h.update(part.encode())
    for func in (spec.build, spec.make_dataset):
        h.update(inspect.getsource(func).encode())
    h.update(tfmod.keras3().__version__.encode())
    return h.hexdigest()[:16]


def load_example(name: str, seed: int = 0, retrain: bool = False) -> Example:
    """Return the trained example ``name``, training (seconds) and caching it on first use."""
    if name not in EXAMPLES:
        raise UserError(f"unknown example {name!r}", f"choose one of: {', '.join(EXAMPLES)}")
    spec = EXAMPLES[name]
    keras = tfmod.keras3()
    dataset = spec.make_dataset(seed)
    cache_dir = paths.work_dir() / "models" / f"{name}-{cache_key(spec, seed)}"
    model_path = cache_dir / "model.keras"
    if model_path.is_file() and not retrain:
        try:
            return Example(name, keras.saving.load_model(model_path), dataset, model_path, seed)
        except Exception:  # a damaged cache entry is rebuilt, never trusted
            shutil.rmtree(cache_dir, ignore_errors=True)
    tfmod.set_seed(seed)
    model = spec.build(keras)
    with progress.step(f"training example {name} ({spec.epochs} epochs, once: the model is cached)"):
        model.fit(
            dataset.x_train, dataset.y_train, epochs=spec.epochs, batch_size=spec.batch_size,
            verbose=0, shuffle=True,
        )
    # Save into a temporary sibling and rename: a concurrent reader never sees half a cache.
    cache_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=cache_dir.parent, prefix=f".{cache_dir.name}."))
    try:
        model.save(tmp / "model.keras")
        (tmp / "meta.json").write_text(json.dumps({"example": name, "seed": seed, "epochs": spec.epochs}) + "\n")
        try:
            os.replace(tmp, cache_dir)
        except OSError:  # another process won the race; its copy is equivalent
            pass
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return Example(name, model, dataset, model_path, seed)
