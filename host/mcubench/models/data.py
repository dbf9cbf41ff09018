"""Datasets: what a recipe calibrates/trains on and what a variant is scored against.

A spec is one of:
  * ``data.npz`` with ``x_train, y_train, x_test, y_test`` (optionally ``task``), or with
    ``x, y`` (split 80/20 with a fixed seed), or with only ``x`` (a representative set);
  * ``data.npy``: inputs only, a representative set for calibration (no metric);
  * ``package.module:function`` returning a :class:`Dataset`, a dict with the keys above or
    a tuple ``(x_train, y_train, x_test, y_test)``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from mcubench.core.errors import UserError
from mcubench.models.tflite_file import TfliteModel
from mcubench.models.torch_onnx import CHANNELS_FIRST, LAYOUT_METADATA

TASKS = ("classification", "regression")


@dataclass
class Dataset:
    """Train/test arrays plus what the task is. ``y_*`` may be ``None`` (calibration only)."""

    x_train: np.ndarray
    y_train: np.ndarray | None
    x_test: np.ndarray
    y_test: np.ndarray | None
    task: str = "classification"
    name: str = "dataset"
    # Synthetic data (e.g. the keyword-spotting example) is for latency only: no metric.
    synthetic: bool = False
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise UserError(f"dataset {self.name}: unknown task {self.task!r}", f"use one of {', '.join(TASKS)}")
        self.x_train = np.asarray(self.x_train, dtype=np.float32)
        self.x_test = np.asarray(self.x_test, dtype=np.float32)

    @property
    def has_labels(self) -> bool:
        return self.y_test is not None and not self.synthetic

    def representative(self, count: int = 200) -> np.ndarray:
        """The calibration set for integer quantization: the first ``count`` training inputs."""
        rep = self.x_train[:count]
        if len(rep) == 0:
            raise UserError(
                f"dataset {self.name}: the representative set is empty",
                "integer quantization needs calibration inputs; give a dataset with at least one x_train sample",
            )
        return rep

    def channels_last(self) -> "Dataset":
        """This dataset with the channel axis moved from 1 to last (NCHW -> NHWC, NCW -> NWC):
        what the ``.tflite`` of a channels-first (PyTorch, ONNX) model takes."""
        def move(x: np.ndarray) -> np.ndarray:
            return np.ascontiguousarray(np.moveaxis(x, 1, -1)) if x.ndim >= 3 else x

        return replace(self, x_train=move(self.x_train), x_test=move(self.x_test), notes=list(self.notes))

    def for_model(self, model: TfliteModel, what: str = "the model") -> "Dataset":
        """This dataset as ``model``'s first input takes it: the channel axis moved when the
        ``.tflite`` was made from a channels-first (PyTorch/ONNX) model, then the shape checked."""
        data = self.channels_last() if model.metadata.get(LAYOUT_METADATA) == CHANNELS_FIRST else self
        data.check_input_shape(tuple(model.tensor(model.inputs[0]).shape), what=what)
        return data

    def check_input_shape(self, input_shape: tuple[int | None, ...], what: str = "the model") -> None:
        """Raise a UserError if one sample does not have the model's input shape (batch dim excluded)."""
        expected = tuple(int(d) for d in input_shape[1:])
        for label, arr in (("x_train", self.x_train), ("x_test", self.x_test)):
            if arr.size == 0:
                continue
            got = tuple(arr.shape[1:])
            if got != expected and int(np.prod(got)) != int(np.prod(expected)):
                raise UserError(
                    f"dataset {self.name}: {label} samples have shape {got} but {what} expects {expected}",
                    "give a dataset whose arrays are shaped (N, " + ", ".join(map(str, expected)) + ")",
                )
            if got != expected:  # same element count: reshape, that is what a user means
                setattr(self, label, arr.reshape((len(arr), *expected)))


def _split(x: np.ndarray, y: np.ndarray | None, seed: int = 0) -> tuple:
    order = np.random.default_rng(seed).permutation(len(x))
    cut = max(1, int(len(x) * 0.8)) if len(x) > 1 else len(x)
    tr, te = order[:cut], order[cut:]
    return x[tr], (None if y is None else y[tr]), x[te], (None if y is None else y[te])


def _infer_task(y: np.ndarray | None) -> str:
    if y is None:
        return "classification"
    y = np.asarray(y)
    return "classification" if y.ndim == 1 and np.issubdtype(y.dtype, np.integer) else "regression"


def from_arrays(arrays: dict[str, Any], name: str) -> Dataset:
    keys = set(arrays)
    task = str(arrays["task"]) if "task" in keys else None
    if {"x_train", "x_test"} <= keys:
        xtr, ytr, xte, yte = (arrays.get(k) for k in ("x_train", "y_train", "x_test", "y_test"))
    elif "x_test" in keys and "x" not in keys:
        # A test set alone is enough to evaluate or validate; recipes that calibrate or train
        # refuse the empty training set with their own message.
        xte, yte = np.asarray(arrays["x_test"]), arrays.get("y_test")
        xtr, ytr = np.zeros((0, *xte.shape[1:]), dtype=np.float32), None
    elif "x" in keys:
        xtr, ytr, xte, yte = _split(np.asarray(arrays["x"]), None if arrays.get("y") is None else np.asarray(arrays["y"]))
    else:
        raise UserError(
            f"dataset {name} has no usable arrays (it has: {', '.join(sorted(keys)) or 'none'}); "
            "mcubench reads x_train/y_train/x_test/y_test, x_test/y_test alone, or x/y (split 80/20)",
            "save the data with np.savez(path, x_train=..., y_train=..., x_test=..., y_test=...)",
        )
    for label, x, y in (("train", xtr, ytr), ("test", xte, yte)):
        if y is not None and len(np.asarray(y)) != len(np.asarray(x)):
            raise UserError(
                f"dataset {name}: x_{label} has {len(x)} samples but y_{label} has {len(y)}",
                "give as many labels as inputs",
            )
    return Dataset(xtr, ytr, xte, yte, task=task or _infer_task(ytr if ytr is not None else yte), name=name)


def load_dataset(spec: str | Path | Dataset) -> Dataset:
    """Load a dataset from a ``.npz``/``.npy`` path or a ``module:function`` callable."""
    if isinstance(spec, Dataset):
        return spec
    text = str(spec)
    path = Path(text)
    if path.suffix in (".npz", ".npy"):
        if not path.is_file():
            raise UserError(f"dataset file {path} does not exist", "check the path given to --data")
        try:
            loaded = np.load(path, allow_pickle=False)
        except Exception as err:  # numpy raises several kinds for a damaged file
            raise UserError(f"dataset file {path} cannot be read: {err}", "re-save it with np.savez / np.save") from None
        if path.suffix == ".npy":
            x = np.asarray(loaded)
            return Dataset(x, None, x[:0], None, name=path.name, notes=["inputs only: no metric"])
        with loaded:
            return from_arrays({k: loaded[k] for k in loaded.files}, path.name)
    if ":" in text and not path.exists():
        module_name, _, func_name = text.partition(":")
        try:
            func = getattr(importlib.import_module(module_name), func_name)
        except (ImportError, AttributeError) as err:
            raise UserError(f"dataset callable {text} cannot be imported: {err}", "give it as package.module:function") from None
        result = func()
        if isinstance(result, Dataset):
            return result
        if isinstance(result, dict):
            return from_arrays(result, text)
        if isinstance(result, tuple) and len(result) == 4:
            return from_arrays(dict(zip(("x_train", "y_train", "x_test", "y_test"), result)), text)
        raise UserError(f"dataset callable {text} returned {type(result).__name__}", "return a Dataset, a dict or a 4-tuple")
    raise UserError(f"dataset {text}: not a .npz/.npy file or module:function", "use --data data.npz or --data pkg.mod:func")
