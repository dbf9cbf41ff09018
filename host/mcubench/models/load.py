"""Load a user's model: ``.keras``/``.h5`` (Keras 3, or tf-keras for legacy h5), SavedModel, ``.tflite``,
and PyTorch/ONNX sources (``.pt2``, ``.onnx``, ``package.module:function``; see :mod:`mcubench.models.torch_onnx`)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcubench.core.errors import UserError
from mcubench.models import tf as tfmod
from mcubench.models import torch_onnx
from mcubench.models.tflite_file import parse_tflite


@dataclass
class SourceModel:
    """What a recipe starts from. Exactly one of ``keras_model``/``saved_model_dir``/``tflite_bytes``/
    ``torch_module``/``onnx_path`` is the primary form (``kind`` says which).

    PyTorch and ONNX sources are channels first: ``example_input`` (one batch-1 sample) and the
    data given with them are NCHW (NCW for 1-D); their ``.tflite`` is channels last.
    """

    path: Path | None
    kind: str  # "keras" | "saved_model" | "tflite" | "torch" | "onnx"
    keras_model: Any = None
    saved_model_dir: Path | None = None
    tflite_bytes: bytes | None = None
    torch_module: Any = None
    onnx_path: Path | None = None
    example_input: Any = None  # numpy, the source's layout (torch and onnx sources)
    label: str = ""  # a name when there is no path (a torch callable or example)

    @property
    def channels_first(self) -> bool:
        """The source takes channels-first data and its ``.tflite`` channels-last."""
        return self.torch_module is not None or self.onnx_path is not None

    def predict(self, x: Any) -> Any:
        """The source model's own outputs on the host (torch, onnxruntime), or None when the
        source is a Keras/TFLite model (those are scored by the interpreters)."""
        if self.torch_module is not None:
            return torch_onnx.torch_predict(self.torch_module, x)
        if self.onnx_path is not None:
            return torch_onnx.onnx_predict(self.onnx_path, x)
        return None

    @property
    def name(self) -> str:
        if self.label:
            return self.label
        if self.path is not None:
            return self.path.stem
        return getattr(self.keras_model, "name", "model")

    @property
    def input_shape(self) -> tuple:
        if self.keras_model is not None:
            shape = self.keras_model.inputs[0].shape
            return tuple(None if d is None else int(d) for d in shape)
        if self.tflite_bytes is not None:
            m = parse_tflite(self.tflite_bytes, str(self.path))
            return m.tensor(m.inputs[0]).shape
        if self.example_input is not None:
            return (None, *self.example_input.shape[1:])
        if self.onnx_path is not None:
            return (None, *torch_onnx.onnx_input_shape(self.onnx_path)[1:])
        return ()


def as_source(model: Any) -> SourceModel:
    """Accept a SourceModel, a Keras model (Keras 3 or tf-keras) or a path."""
    if isinstance(model, SourceModel):
        return model
    if isinstance(model, (str, Path)):
        return load_model(model)
    if hasattr(model, "predict") and hasattr(model, "layers"):
        return SourceModel(None, "keras", keras_model=model)
    raise UserError(f"cannot use a {type(model).__name__} as a model", "give a Keras model or a .keras/.h5/SavedModel/.tflite/.pt2/.onnx path")


def load_model(path: str | Path) -> SourceModel:
    """Load ``path`` (.keras, .h5, SavedModel directory, .tflite, .pt2, .onnx, or
    ``package.module:function`` returning a PyTorch module and example input) into a :class:`SourceModel`."""
    text = str(path)
    if ":" in text and not Path(text).exists():
        module, example = torch_onnx.load_torch_callable(text)
        return SourceModel(None, "torch", torch_module=module, example_input=example, label=text.rpartition(":")[2])
    path = Path(path)
    if not path.exists():
        raise UserError(f"model {path} does not exist", "check the path given to --model")
    if path.suffix == ".pt2":
        module, example = torch_onnx.load_pt2(path)
        return SourceModel(path, "torch", torch_module=module, example_input=example)
    if path.suffix == ".onnx":
        torch_onnx.onnx_input_shape(path)  # readable, one input
        return SourceModel(path, "onnx", onnx_path=path)
    if path.suffix == ".tflite":
        data = path.read_bytes()
        parse_tflite(data, str(path))
        return SourceModel(path, "tflite", tflite_bytes=data)
    if path.is_dir():
        if not (path / "saved_model.pb").exists():
            raise UserError(f"model directory {path} has no saved_model.pb", "give a SavedModel directory or a .keras/.h5/.tflite file")
        tfk = tfmod.tf_keras()
        try:  # a Keras-2 SavedModel keeps its architecture (needed for QAT/pruning)
            return SourceModel(path, "keras", keras_model=tfk.models.load_model(path, compile=False), saved_model_dir=path)
        except Exception as err:  # noqa: BLE001 - tf-keras raises many kinds for a non-Keras SavedModel
            first = str(err).strip().splitlines()[0][:200] if str(err).strip() else ""
            warnings.warn(f"{path} loads as a plain SavedModel, not a Keras model ({type(err).__name__}: {first}); "
                          "recipes that train (qat_int8, prune_*, distill) need the Keras model", stacklevel=2)
            return SourceModel(path, "saved_model", saved_model_dir=path)
    if path.suffix in (".keras", ".h5", ".hdf5"):
        keras = tfmod.keras3()
        errors = []
        try:
            return SourceModel(path, "keras", keras_model=keras.saving.load_model(path, compile=False))
        except Exception as err:
            errors.append(str(err).splitlines()[0] if str(err) else type(err).__name__)
        if path.suffix != ".keras":
            try:
                return SourceModel(path, "keras", keras_model=tfmod.tf_keras().models.load_model(path, compile=False))
            except Exception as err:
                errors.append(str(err).splitlines()[0] if str(err) else type(err).__name__)
        raise UserError(f"model {path} cannot be loaded: {errors[0][:300]}", "check the file is a complete Keras model (re-save it with model.save)")
    raise UserError(f"model {path}: unknown format {path.suffix or '(no suffix)'}",
                    "give a .keras, .h5, .tflite, .pt2 or .onnx file, a SavedModel directory or package.module:function")
