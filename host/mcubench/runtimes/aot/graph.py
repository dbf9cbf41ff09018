"""The AOT compiler's view of a model: numpy-typed tensors and operators with their options.

Built from :mod:`mcubench.models.tflite_file`, the one reader of ``.tflite`` flatbuffers, so
a model the compiler sees has passed its structural checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from mcubench.models.tflite_file import TfliteModel, parse_tflite

# Tensor types the compiler reads constants of, to numpy dtypes.
_DTYPES = {"float32": np.float32, "float16": np.float16, "int32": np.int32, "uint8": np.uint8,
           "int64": np.int64, "int16": np.int16, "int8": np.int8}


@dataclass
class Tensor:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str                      # "int8", "int32", "float32", ...
    scales: np.ndarray              # float32; empty when not quantized
    zero_points: np.ndarray         # int64; empty when not quantized
    quantized_dimension: int
    data: np.ndarray | None = None  # constant contents (shaped), None for activations

    @property
    def is_const(self) -> bool:
        return self.data is not None

    @property
    def scale(self) -> float:
        """Per-tensor scale as a float32 value (what TFLM keeps in params.scale)."""
        return float(np.float32(self.scales[0])) if len(self.scales) else 0.0

    @property
    def zero_point(self) -> int:
        return int(self.zero_points[0]) if len(self.zero_points) else 0

    @property
    def size(self) -> int:
        return int(np.prod(self.shape)) if self.shape else 1

    @property
    def nbytes(self) -> int:
        return self.size * np.dtype(_DTYPES.get(self.dtype, np.int8)).itemsize


@dataclass
class Operator:
    index: int
    opcode: str                 # builtin name, e.g. "CONV_2D", or "CUSTOM:<name>"
    version: int
    inputs: list[int]           # tensor indices, -1 for an omitted optional input
    outputs: list[int]
    options: Any = None         # the schema's *OptionsT object (or None)


@dataclass
class Graph:
    tensors: list[Tensor]
    operators: list[Operator]
    inputs: list[int]
    outputs: list[int]
    subgraph_count: int = 1
    description: str = ""


def graph_from_model(model: TfliteModel) -> Graph:
    tensors = []
    for t in model.tensors:
        dtype = t.dtype.lower()
        arr = None
        if t.data is not None and dtype in _DTYPES:
            # the reader checked that a constant holds exactly prod(shape) elements
            arr = np.frombuffer(t.data, dtype=_DTYPES[dtype]).copy()
            if t.shape and arr.size == int(np.prod(t.shape)):  # sparse constants are not
                arr = arr.reshape(t.shape)
        tensors.append(Tensor(t.index, t.name or f"t{t.index}", t.shape, dtype,
                              np.asarray(t.scale, dtype=np.float32), np.asarray(t.zero_point, dtype=np.int64),
                              t.quantized_dimension, arr))
    operators = [Operator(op.index, f"CUSTOM:{op.name}" if op.custom else op.name, op.version,
                          list(op.inputs), list(op.outputs), op.options) for op in model.ops]
    return Graph(tensors, operators, list(model.inputs), list(model.outputs),
                 subgraph_count=model.subgraphs, description=model.description)


def read_graph(tflite_bytes: bytes, source: str = "model") -> Graph:
    """Check and read a model (UserError for a damaged or non-TFLite file) into the compiler's graph."""
    return graph_from_model(parse_tflite(tflite_bytes, source))
