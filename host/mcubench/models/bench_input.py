"""What a benchmark feeds a model: its ``.tflite`` bytes, checked, and a fixed test input.

The firmware runs one deterministic input that the host makes here, so the host TFLM
interpreter can compute the expected output and a result can say whether the device's output
matches bit for bit.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mcubench.core.errors import UserError
from mcubench.models.tflite_file import parse_tflite, validate_tflite

TEST_INPUT_SEED = 20260101


def read_tflite(path: Path) -> bytes:
    if not path.is_file():
        raise UserError(f"model file {path} does not exist", "check the path")
    data = path.read_bytes()
    # A flatbuffer .tflite carries the identifier "TFL3" at byte 4.
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise UserError(f"{path} is not a .tflite flatbuffer (no TFL3 identifier)", "convert the model with mcubench quantize first")
    validate_tflite(data, str(path))  # before any runtime renders, compiles or runs it
    return data


def test_input(model_bytes: bytes) -> tuple[np.ndarray, bytes]:
    """A deterministic input for the model's first input tensor, in its own dtype."""
    model = parse_tflite(model_bytes)
    if len(model.inputs) != 1:
        raise UserError(f"the model has {len(model.inputs)} inputs; mcubench benchmarks single-input models", "export a single-input model")
    tensor = model.tensor(model.inputs[0])
    dtypes = {"INT8": np.int8, "UINT8": np.uint8, "INT16": np.int16, "INT32": np.int32, "FLOAT32": np.float32}
    if tensor.dtype not in dtypes:
        raise UserError(f"input tensor type {tensor.dtype} is not supported for benchmarking", "quantize with the int8 recipe")
    shape, dtype = tuple(max(d, 1) for d in tensor.shape), dtypes[tensor.dtype]
    rng = np.random.default_rng(TEST_INPUT_SEED)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        array = rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=np.int64).astype(dtype)
    else:
        array = rng.uniform(-1.0, 1.0, size=shape).astype(dtype)
    return array, array.tobytes()
