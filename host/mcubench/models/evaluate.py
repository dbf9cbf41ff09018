"""Score models on the host: Keras, the LiteRT interpreter, and TFLM, with one metric code path.

Metrics: ``accuracy`` (argmax vs integer labels) for classification; ``mae`` for regression,
also reported per output column (like yaw/pitch/roll MAE in head-pose work).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from mcubench.core.errors import UserError
from mcubench.models import tf as tfmod
from mcubench.models.tflite_file import NUMPY_DTYPES, parse_tflite


@dataclass
class Metric:
    name: str  # "accuracy" or "mae"
    value: float
    per_output: list[float] = field(default_factory=list)
    samples: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


def score(task: str, y_true: np.ndarray, y_pred: np.ndarray) -> Metric:
    y_pred = np.asarray(y_pred, dtype=np.float64)
    if task == "classification":
        labels = np.asarray(y_true).reshape(-1).astype(np.int64)
        pred = y_pred.reshape(len(labels), -1)
        predicted = pred.argmax(axis=1) if pred.shape[1] > 1 else (pred[:, 0] > 0.5).astype(np.int64)
        return Metric("accuracy", float(np.mean(predicted == labels)), samples=len(labels))
    truth = np.asarray(y_true, dtype=np.float64).reshape(len(y_pred), -1)
    err = np.abs(y_pred.reshape(len(truth), -1) - truth)
    per_output = [float(v) for v in err.mean(axis=0)]
    return Metric("mae", float(np.mean(per_output)), per_output=per_output, samples=len(truth))


def quantize_input(x: np.ndarray, dtype: Any, scale: float, zero_point: int) -> np.ndarray:
    """float -> the input tensor's integer domain (no-op for float inputs)."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f" or not scale:
        return x.astype(dtype)
    info = np.iinfo(dtype)
    return np.clip(np.round(x / scale + zero_point), info.min, info.max).astype(dtype)


def dequantize_output(y: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    if np.asarray(y).dtype.kind == "f" or not scale:
        return np.asarray(y, dtype=np.float32)
    return ((np.asarray(y, dtype=np.float32) - zero_point) * scale).astype(np.float32)


def keras_predict(model: Any, x: np.ndarray) -> np.ndarray:
    return np.asarray(model.predict(x, verbose=0, batch_size=256))


def lite_interpreter(tflite_bytes: bytes, source: str = "model"):
    tf = tfmod.tensorflow()
    try:
        interp = tf.lite.Interpreter(model_content=bytes(tflite_bytes), num_threads=1)
        interp.allocate_tensors()
    except (ValueError, RuntimeError) as err:
        raise UserError(
            f"{source} is corrupt or not loadable by the TFLite interpreter: {str(err).splitlines()[0]}",
            "re-export the model with the TFLite converter (the file may be truncated)",
        ) from None
    return interp


def lite_predict(tflite_bytes: bytes, x: np.ndarray, source: str = "model") -> tuple[np.ndarray, np.ndarray]:
    """Run float inputs through LiteRT; returns (raw outputs, dequantized float outputs)."""
    interp = lite_interpreter(tflite_bytes, source)
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    in_scale, in_zp = inp["quantization"]
    xq = quantize_input(np.asarray(x, dtype=np.float32), inp["dtype"], in_scale, in_zp)
    xq = xq.reshape((len(xq), *inp["shape"][1:]))
    raw = []
    for sample in xq:  # one at a time: exactly what the device does, and batch-shape agnostic
        interp.set_tensor(inp["index"], sample[None])
        interp.invoke()
        raw.append(interp.get_tensor(out["index"])[0].copy())
    raw_arr = np.stack(raw) if raw else np.zeros((0,))
    return raw_arr, dequantize_output(raw_arr, *out["quantization"])


def io_quantization(tflite_bytes: bytes) -> tuple[tuple[Any, float, int], tuple[Any, float, int]]:
    """(dtype, scale, zero_point) of the first input and output, from the flatbuffer."""

    model = parse_tflite(tflite_bytes)
    result = []
    for idx in (model.inputs[0], model.outputs[0]):
        t = model.tensor(idx)
        result.append((NUMPY_DTYPES.get(t.dtype, np.float32), t.scale[0] if t.scale else 0.0, t.zero_point[0] if t.zero_point else 0))
    return result[0], result[1]
