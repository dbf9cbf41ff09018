"""From a model file to a benchmark workload: the link between the model pipeline and bench.

A `.tflite` file is benchmarked as is; a Keras model is first quantized to full int8 with
its example data (`mcubench quantize` gives more control). The firmware runs a fixed test
input that the host generates here, so the host TFLM interpreter can compute the expected
output and the result can say whether the device's output matches bit for bit.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import numpy as np

from .errors import UserError
from .runtimes import RUNTIMES, WorkloadSpec

TEST_INPUT_SEED = 20260101


def default_model_runtime() -> str:
    """TFLM when its sources are available, else the ahead-of-time compiler (fully offline)."""
    if os.environ.get("MCUBENCH_TFLM_DIR") and "tflm" in RUNTIMES:
        return "tflm"
    if "aot" in RUNTIMES:
        return "aot"
    return "tflm"


def read_tflite(path: Path) -> bytes:
    if not path.is_file():
        raise UserError(f"model file {path} does not exist", "check the path")
    data = path.read_bytes()
    # A flatbuffer .tflite carries the identifier "TFL3" at byte 4.
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise UserError(f"{path} is not a .tflite flatbuffer (no TFL3 identifier)", "convert the model with mcubench quantize first")
    from .models.tflite_file import validate_tflite

    validate_tflite(data, str(path))  # before any runtime renders, compiles or runs it
    return data


def test_input(model_bytes: bytes) -> tuple[np.ndarray, bytes]:
    """A deterministic input for the model's first input tensor, in its own dtype."""
    from .models.tflite_file import parse_tflite

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


def refuse_directory(path: Path) -> None:
    """A folder where a model file belongs: say so, and name the models it holds."""
    if not path.is_dir():
        return
    found = sorted(p.name for p in path.glob("*.tflite"))
    hint = f"give one of its models, e.g. {path / found[0]} (it holds: {', '.join(found)})" if found else \
        "give a .tflite file, e.g. DIR/int8.tflite after mcubench quantize --out DIR"
    raise UserError(f"{path} is a directory, not a model file", hint)


def workload_for_model(path: Path, runtime: str | None) -> tuple[WorkloadSpec, str, dict[str, Any]]:
    refuse_directory(path)
    suffix = path.suffix.lower()
    if suffix != ".tflite":
        raise UserError(
            f"{path}: bench takes a .tflite model",
            f"quantize it first: mcubench quantize --model {path} --recipes int8 --out DIR, then bench DIR/<variant>.tflite",
        )
    model_bytes = read_tflite(path)
    runtime = runtime or default_model_runtime()
    if runtime == "builtin":
        raise UserError("--runtime builtin runs built-in workloads, not models", "use --runtime aot or --runtime tflm")
    array, raw = test_input(model_bytes)
    workload = WorkloadSpec(
        name=path.stem,
        model_path=path.resolve(),
        model_bytes=model_bytes,
        model_sha256=hashlib.sha256(model_bytes).hexdigest(),
        input_bytes=raw,
    )

    def reference_output() -> bytes:
        from .models.tflm_host import invoke

        return np.ascontiguousarray(invoke(model_bytes, array)).tobytes()

    return workload, runtime, {"reference_output": reference_output}
