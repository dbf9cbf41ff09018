"""Post-training conversions: float32 baseline, full-integer int8, 16x8, float16, dynamic range."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import warnings
import weakref
from pathlib import Path
from typing import Any

import numpy as np

from mcubench.core.errors import UserError
from mcubench.models import tf as tfmod
from mcubench.models import torch_onnx
from mcubench.models.data import Dataset
from mcubench.models.load import SourceModel
from mcubench.models.tflite_file import with_metadata
from mcubench.recipes.base import Recipe, Variant

MODES = ("float32", "int8", "int16x8", "float16", "dynamic")


def convert(source: SourceModel | Any, mode: str, representative: np.ndarray | None = None) -> bytes:
    """Convert a Keras model (Keras 3 or tf-keras, incl. QAT), SavedModel, PyTorch or ONNX model to
    ``.tflite`` bytes (PyTorch: float32 and int8 only, see :mod:`mcubench.models.torch_onnx`).

    ``int8``: int8 weights and activations, int8 input/output (builtins-int8 only, so a
    float fallback is an error, not a hybrid model). ``int16x8``: int16 activations, int8
    weights, int16 I/O. ``float16``: float16 weights. ``dynamic``: int8 weights, float activations.
    """
    if isinstance(source, SourceModel) and source.channels_first:
        return _convert_channels_first(source, mode, representative)
    tf = tfmod.tensorflow()
    if isinstance(source, SourceModel):
        if source.keras_model is not None:
            converter = _batch_one_converter(tf, source.keras_model)
        elif source.saved_model_dir is not None:
            converter = tf.lite.TFLiteConverter.from_saved_model(str(source.saved_model_dir))
        elif mode == "float32" and source.tflite_bytes is not None:
            return source.tflite_bytes
        else:
            raise UserError(f"{source.path} is already a .tflite model; recipe {mode} needs the Keras model", "give the .keras/.h5 model")
    else:
        converter = _batch_one_converter(tf, source)
    return _run_converter(tf, converter, mode, representative)


def _run_converter(tf: Any, converter: Any, mode: str, representative: np.ndarray | None) -> bytes:
    """Configure a TFLiteConverter for ``mode`` and convert."""
    if mode != "float32":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if mode == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if mode in ("int8", "int16x8"):
        if representative is None or len(representative) == 0:
            raise UserError(f"recipe {mode} needs a non-empty representative dataset", "pass --data with x_train samples")
        rep = np.asarray(representative, dtype=np.float32)
        converter.representative_dataset = lambda: ([sample[None]] for sample in rep)
        if mode == "int8":
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            converter.inference_input_type = tf.int8
            converter.inference_output_type = tf.int8
        else:
            converter.target_spec.supported_ops = [tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
            converter.inference_input_type = tf.int16
            converter.inference_output_type = tf.int16
    try:
        with tfmod.third_party_output():
            return bytes(converter.convert())
    except Exception as err:  # the converter's errors are long; keep the first line
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UserError(f"TFLite conversion ({mode}) failed: {first[:300]}", "check the model uses ops the TFLite converter supports") from None


def _convert_channels_first(source: SourceModel, mode: str, representative: np.ndarray | None) -> bytes:
    """PyTorch (litert-torch) or ONNX (onnx2tf, then the TFLite converter) to a channels-last
    ``.tflite`` marked as made from channels-first data (analysis moves the data's channel axis)."""
    if source.torch_module is not None:
        if mode in ("int8", "int16x8") and (representative is None or len(representative) == 0):
            raise UserError(f"recipe {mode} needs a non-empty representative dataset", "pass --data with x_train samples")
        with tfmod.third_party_output():
            data = torch_onnx.torch_to_tflite(source.torch_module, source.example_input, mode, representative)
    else:
        tf = tfmod.tensorflow()
        rep = None if representative is None else torch_onnx.channels_last(representative)
        data = _run_converter(tf, _onnx_converter(tf, source), mode, rep)
    return with_metadata(data, torch_onnx.LAYOUT_METADATA, torch_onnx.CHANNELS_FIRST)


def _onnx_converter(tf: Any, source: SourceModel) -> Any:
    """A TFLiteConverter for the onnx2tf SavedModel of ``source`` (made once per source), batch 1."""
    if source.saved_model_dir is None:
        scratch = Path(tempfile.mkdtemp(prefix="mcubench-onnx2tf-"))
        weakref.finalize(source, shutil.rmtree, scratch, True)
        with tfmod.third_party_output():
            source.saved_model_dir = torch_onnx.onnx_to_saved_model(source.onnx_path, scratch)
    loaded = tf.saved_model.load(str(source.saved_model_dir))
    signature = loaded.signatures["serving_default"]
    (name, spec), = signature.structured_input_signature[1].items()
    # Batch 1, as on the device: Flatten/Reshape fold into one static RESHAPE.
    function = tf.function(lambda x: signature(**{name: x}))
    concrete = function.get_concrete_function(tf.TensorSpec((1, *spec.shape[1:]), spec.dtype))
    return tf.lite.TFLiteConverter.from_concrete_functions([concrete], loaded)


def _batch_one_converter(tf: Any, model: Any) -> Any:
    """A converter for a copy of the model with batch size 1, as it runs on a microcontroller.

    With the batch left open, Flatten/Reshape become SHAPE/STRIDED_SLICE/PACK ops computing the
    shape at run time; with batch 1 they fold into one static RESHAPE. The model is cloned (the
    caller's model is not touched); one that cannot be cloned is converted as it is.
    """
    legacy = type(model).__module__.startswith("tf_keras")
    keras = tfmod.tf_keras() if legacy else tfmod.keras3()
    try:
        inputs = [
            keras.Input(batch_shape=(1, *inp.shape[1:]), dtype=inp.dtype, name=tfmod.stable_input_name(inp, i))
            for i, inp in enumerate(model.inputs)
        ]
        scope = contextlib.nullcontext()
        if legacy:  # QAT/pruning wrappers must be known to clone them
            scope = tfmod.tfmot().quantization.keras.quantize_scope()
        with scope:
            clone = keras.models.clone_model(model, input_tensors=inputs[0] if len(inputs) == 1 else inputs)
        clone.set_weights(model.get_weights())
        model = clone
    except Exception as err:  # noqa: BLE001 - Keras raises many kinds; the model still converts
        first = str(err).strip().splitlines()[0][:200] if str(err).strip() else ""
        warnings.warn(f"could not clone model {getattr(model, 'name', '?')} with batch size 1 "
                      f"({type(err).__name__}: {first}); converting it as it is, so Flatten/Reshape may "
                      "become SHAPE/STRIDED_SLICE ops computed at run time", stacklevel=3)
    return tf.lite.TFLiteConverter.from_keras_model(model)


class _Ptq(Recipe):
    mode: str = "float32"
    needs_keras = False
    defaults = {"calibration_samples": 200}

    def check_source(self, source: SourceModel) -> None:
        super().check_source(source)
        if source.torch_module is not None and self.mode not in torch_onnx.TORCH_MODES:
            raise UserError(f"recipe {self.name} is not available for PyTorch models",
                            "litert-torch makes float32 and full-integer int8 (PT2E); use --recipes float32,int8")

    def do_apply(self, source: SourceModel, dataset: Dataset | None, params: dict) -> Variant:
        rep = dataset.representative(params["calibration_samples"]) if self.needs_representative else None
        data = convert(source, self.mode, rep)
        return Variant(name=self.name, recipe=self.name, tflite_bytes=data, params=params)


class Float32(_Ptq):
    name, mode, description = "float32", "float32", "float32 baseline (no optimization)"
    defaults: dict = {}


class Int8(_Ptq):
    name, mode, description = "int8", "int8", "full-integer int8, int8 input/output (representative set required)"
    needs_representative = True


class Int16x8(_Ptq):
    name, mode, description = "int16x8", "int16x8", "int16 activations, int8 weights, int16 input/output"
    needs_representative = True


class Float16(_Ptq):
    name, mode, description = "float16", "float16", "float16 weights (halves size; not runnable by TFLM)"
    defaults: dict = {}


class Dynamic(_Ptq):
    name, mode, description = "dynamic", "dynamic", "dynamic-range: int8 weights, float activations (hybrid; not runnable by TFLM)"
    defaults: dict = {}
