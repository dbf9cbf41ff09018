"""PyTorch and ONNX source models: load, run on the host, convert to ``.tflite``.

Sources: a ``.pt2`` saved with ``torch.export.save``, an ``.onnx`` file, or
``package.module:function`` returning ``(nn.Module, example_input)``. Their data stays in the
source's layout (channels first: NCHW, or NCW for 1-D); the ``.tflite`` made from them has
channels-last I/O (what TFLM kernels want) and carries the metadata entry
:data:`LAYOUT_METADATA` = ``b"channels_first"``, so analysis and validation move the channel axis
of the user's data themselves (:func:`mcubench.models.data.Dataset.for_model`).

Conversions:

* PyTorch: ``litert-torch``. The model is wrapped with ``to_channel_last_io``, exported with
  ``torch.export``; int8 is the PT2E flow (per-channel symmetric int8 weights, calibrated int8
  activations, ``convert_pt2e(fold_quantize=False)``), which gives int8 I/O and no
  QUANTIZE/DEQUANTIZE at the edges.
* ONNX: ``onnx2tf`` translates the graph to a TensorFlow SavedModel with NHWC I/O; from there
  the project's TFLite converter path makes every recipe (int8, int16x8, float16, dynamic) with
  the user's calibration data. The batch dimension is made symbolic first, which keeps onnx2tf
  from downloading its sample images (it does for any 4-D, 3-channel input with a fixed batch),
  and onnx2tf's ``onnxsim`` subprocess is switched off (it needs the environment's ``bin`` on
  ``PATH``; the TFLite converter folds constants itself).

torch, onnx, onnxruntime, onnx2tf and litert-torch are heavy optional dependencies (the
``torch`` extra): imported inside the functions that need them.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import numpy as np

from mcubench.core.errors import UserError

LAYOUT_METADATA = "mcubench_source_layout"
CHANNELS_FIRST = b"channels_first"
TORCH_MODES = ("float32", "int8")  # what litert-torch makes from a PyTorch model
EXTRA_HINT = "install the torch extra: pip install -e '.[torch]' (bash host/dev.sh setup installs it)"


def require(module: str, what: str) -> Any:
    """Import an optional dependency, or a one-line UserError naming the extra."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise UserError(f"{what} needs the Python package `{module.split('.')[0]}` ({err})", EXTRA_HINT) from None


# ---- loading ---------------------------------------------------------------------------------


def load_pt2(path: Path) -> tuple[Any, np.ndarray]:
    """A ``torch.export.save`` file: (the exported program's module, its example input)."""
    torch = require("torch", f"model {path}")
    try:
        program = torch.export.load(str(path))
    except Exception as err:  # torch raises many kinds for a damaged archive
        first = str(err).strip().splitlines()[0][:200] if str(err).strip() else type(err).__name__
        raise UserError(f"model {path} cannot be loaded by torch.export.load: {first}",
                        "save it with torch.export.save(torch.export.export(model, (example,)), path)") from None
    args, _ = program.example_inputs
    if len(args) != 1:
        raise UserError(f"model {path} takes {len(args)} inputs; mcubench converts single-input models", "export a single-input model")
    return program.module(), args[0].detach().cpu().numpy().astype(np.float32)


def load_torch_callable(spec: str) -> tuple[Any, np.ndarray]:
    """``package.module:function`` returning ``(nn.Module, example_input)``."""
    torch = require("torch", f"model {spec}")
    module_name, _, func_name = spec.partition(":")
    try:
        func = getattr(importlib.import_module(module_name), func_name)
    except (ImportError, AttributeError, ValueError) as err:  # ValueError: an empty module name
        raise UserError(f"model callable {spec} cannot be imported: {err}", "give it as package.module:function") from None
    try:
        result = func()
    except Exception as err:  # the user's code: one line naming it, the traceback with --traceback
        raise UserError(f"model callable {spec} failed: {type(err).__name__}: {err}", "run it in Python to see where") from err
    if not (isinstance(result, tuple) and len(result) == 2 and isinstance(result[0], torch.nn.Module)):
        raise UserError(f"model callable {spec} returned {type(result).__name__}", "return (torch.nn.Module, example_input)")
    module, example = result
    return module.eval(), np.asarray(torch.as_tensor(example).detach().cpu().numpy(), dtype=np.float32)


def onnx_input_shape(path: Path) -> tuple:
    onnx = require("onnx", f"model {path}")
    try:
        model = onnx.load(str(path))
    except Exception as err:  # protobuf decode errors
        raise UserError(f"model {path} is not a readable ONNX file ({type(err).__name__})", "re-export it with torch.onnx.export") from None
    initializers = {i.name for i in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in initializers]
    if len(inputs) != 1:
        raise UserError(f"model {path} has {len(inputs)} inputs; mcubench converts single-input models", "export a single-input model")
    dims = inputs[0].type.tensor_type.shape.dim
    return tuple(int(d.dim_value) if d.HasField("dim_value") else None for d in dims)


# ---- running on the host ---------------------------------------------------------------------


def torch_predict(module: Any, x: np.ndarray) -> np.ndarray:
    torch = require("torch", "running a PyTorch model")
    # One sample per call: an exported program is specialised to its example's batch of 1.
    with torch.no_grad():
        outs = [module(torch.from_numpy(np.ascontiguousarray(x[i:i + 1], dtype=np.float32))).numpy() for i in range(len(x))]
    return np.concatenate(outs) if outs else np.zeros((0,))


def onnx_predict(path: Path, x: np.ndarray) -> np.ndarray:
    ort = require("onnxruntime", "running an ONNX model")
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    # One sample per run: a fixed batch of 1 in the graph is the usual export for a microcontroller.
    return np.concatenate([session.run(None, {name: x[i:i + 1].astype(np.float32)})[0] for i in range(len(x))])


def channels_last(x: np.ndarray) -> np.ndarray:
    """(N, C, ...) -> (N, ..., C)."""
    return np.ascontiguousarray(np.moveaxis(np.asarray(x, dtype=np.float32), 1, -1))


# ---- conversion ------------------------------------------------------------------------------


def torch_to_tflite(module: Any, example: np.ndarray, mode: str, representative: np.ndarray | None) -> bytes:
    """float32 or int8 (PT2E, per-channel) ``.tflite`` with channels-last I/O, batch 1.
    ``example`` and ``representative`` are in the module's own (channels-first) layout."""
    if mode not in TORCH_MODES:
        raise UserError(f"recipe {mode} is not available for PyTorch models",
                        "litert-torch makes float32 and full-integer int8 (PT2E); use --recipes float32,int8")
    torch = require("torch", "converting a PyTorch model")
    litert_torch = require("litert_torch", "converting a PyTorch model")
    sample = torch.from_numpy(channels_last(example[:1]))
    wrapped = litert_torch.to_channel_last_io(module, args=[0])
    # Inference: the wrapper's own flag only (the module is in eval mode already, and an exported
    # program refuses eval()).
    wrapped.training = False
    try:
        if mode == "float32":
            edge = litert_torch.convert(wrapped, (sample,))
        else:
            pt2e = require("litert_torch.quantize.pt2e_quantizer", "int8 conversion of a PyTorch model")
            quant_config = require("litert_torch.quantize.quant_config", "int8 conversion of a PyTorch model")
            quantize_pt2e = require("torchao.quantization.pt2e.quantize_pt2e", "int8 conversion of a PyTorch model")
            quantizer = pt2e.PT2EQuantizer().set_global(pt2e.get_symmetric_quantization_config(is_per_channel=True))
            prepared = quantize_pt2e.prepare_pt2e(torch.export.export(wrapped, (sample,)).module(), quantizer)
            with torch.no_grad():
                for row in channels_last(representative):
                    prepared(torch.from_numpy(row[None]))
            converted = quantize_pt2e.convert_pt2e(prepared, fold_quantize=False)
            edge = litert_torch.convert(converted, (sample,),
                                        quant_config=quant_config.QuantConfig(pt2e_quantizer=quantizer))
    except UserError:
        raise
    except Exception as err:  # torch.export/litert-torch raise many kinds; keep the first line
        first = str(err).strip().splitlines()[0][:300] if str(err).strip() else type(err).__name__
        raise UserError(f"PyTorch conversion ({mode}) failed: {first}",
                        "check the model exports with torch.export and uses ops litert-torch converts") from None
    return bytes(edge.model_content())


def onnx_to_saved_model(path: Path, out_dir: Path) -> Path:
    """``onnx2tf``: the ONNX graph as a SavedModel with channels-last input, batch dimension open."""
    onnx = require("onnx", f"converting {path}")
    onnx2tf = require("onnx2tf", f"converting {path}")
    model = onnx.load(str(path))
    initializers = {i.name for i in model.graph.initializer}
    for inp in model.graph.input:
        if inp.name not in initializers and inp.type.tensor_type.shape.dim:
            # A symbolic batch: onnx2tf then never fetches its sample images from the network.
            inp.type.tensor_type.shape.dim[0].dim_param = "batch"
    prepared = out_dir / "model.onnx"
    onnx.save(model, str(prepared))
    saved = out_dir / "saved_model"
    try:
        onnx2tf.convert(input_onnx_file_path=str(prepared), output_folder_path=str(saved),
                        not_use_onnxsim=True, non_verbose=True, verbosity="error")
    except SystemExit as err:  # onnx2tf exits on a conversion error
        raise UserError(f"ONNX conversion of {path} failed (onnx2tf exit {err.code})",
                        "check the model's ops are supported by onnx2tf (run onnx2tf -i MODEL.onnx to see why)") from None
    except Exception as err:  # noqa: BLE001 - onnx2tf raises many kinds
        first = str(err).strip().splitlines()[0][:300] if str(err).strip() else type(err).__name__
        raise UserError(f"ONNX conversion of {path} failed: {first}",
                        "check the model's ops are supported by onnx2tf (run onnx2tf -i MODEL.onnx to see why)") from None
    if not (saved / "saved_model.pb").is_file():
        raise UserError(f"onnx2tf made no SavedModel from {path}", "run onnx2tf -i MODEL.onnx to see why")
    return saved

