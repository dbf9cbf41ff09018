"""Reading a .tflite flatbuffer into plain dataclasses the AOT compiler works on.

Uses the schema module shipped with the `tflite-micro` wheel (no TensorFlow import), so
parsing a model costs milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from mcubench.core.errors import UserError

# TensorType enum values of the TFLite schema, to numpy dtypes.
_DTYPES = {0: np.float32, 1: np.float16, 2: np.int32, 3: np.uint8, 4: np.int64, 7: np.int16, 9: np.int8}
DTYPE_NAMES = {0: "float32", 1: "float16", 2: "int32", 3: "uint8", 4: "int64", 5: "string", 6: "bool",
               7: "int16", 8: "complex64", 9: "int8", 10: "float64", 17: "int4"}


@lru_cache(maxsize=1)
def schema():
    """The flatbuffer schema module (imported lazily: it is a 20k-line file)."""
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated

    return schema_py_generated


@lru_cache(maxsize=1)
def builtin_names() -> dict[int, str]:
    ops = schema().BuiltinOperator
    return {v: k for k, v in vars(ops).items() if not k.startswith("_") and isinstance(v, int)}


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
        return self.size * np.dtype(_DTYPES.get(DTYPE_CODES[self.dtype], np.int8)).itemsize


DTYPE_CODES = {v: k for k, v in DTYPE_NAMES.items()}


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
    extra: dict = field(default_factory=dict)


def parse_tflite(model: bytes) -> Graph:
    """Parse the flatbuffer; raises UserError for files that are not TFLite models."""
    data = bytes(model)
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise UserError("not a TensorFlow Lite flatbuffer (missing the 'TFL3' identifier)",
                        "pass a .tflite file produced by the TFLite converter")
    sch = schema()
    try:
        m = sch.ModelT.InitFromPackedBuf(data, 0)
    except Exception as e:  # a corrupt flatbuffer surfaces as an arbitrary decode error
        raise UserError(f"cannot decode the .tflite flatbuffer: {e}", "re-export the model") from e
    if not m.subgraphs:
        raise UserError("the model has no subgraph", "re-export the model")
    sg = m.subgraphs[0]
    names = builtin_names()

    tensors: list[Tensor] = []
    for i, t in enumerate(sg.tensors or []):
        q = t.quantization
        scales = np.asarray(q.scale if q is not None and q.scale is not None else [], dtype=np.float32)
        zps = np.asarray(q.zeroPoint if q is not None and q.zeroPoint is not None else [], dtype=np.int64)
        qdim = int(q.quantizedDimension) if q is not None else 0
        dtype = DTYPE_NAMES.get(t.type, f"type{t.type}")
        shape = tuple(int(s) for s in (t.shape if t.shape is not None else []))
        arr = None
        buf = m.buffers[t.buffer] if m.buffers and t.buffer < len(m.buffers) else None
        raw = None
        if buf is not None and buf.data is not None and len(buf.data):
            raw = np.asarray(buf.data, dtype=np.uint8).tobytes()
        elif buf is not None and getattr(buf, "offset", 0) > 1 and getattr(buf, "size", 0):
            raw = data[buf.offset: buf.offset + buf.size]
        if raw is not None and t.type in _DTYPES:
            arr = np.frombuffer(raw, dtype=_DTYPES[t.type]).copy()
            if shape and arr.size == int(np.prod(shape)):
                arr = arr.reshape(shape)
        name = t.name.decode() if isinstance(t.name, bytes) else (t.name or f"t{i}")
        tensors.append(Tensor(i, name, shape, dtype, scales, zps, qdim, arr))

    operators: list[Operator] = []
    for k, op in enumerate(sg.operators or []):
        code = m.operatorCodes[op.opcodeIndex]
        builtin = max(int(code.builtinCode), int(code.deprecatedBuiltinCode))
        if builtin == sch.BuiltinOperator.CUSTOM:
            cc = code.customCode.decode() if isinstance(code.customCode, bytes) else code.customCode
            opname = f"CUSTOM:{cc}"
        else:
            opname = names.get(builtin, f"BUILTIN_{builtin}")
        operators.append(Operator(k, opname, int(code.version or 1),
                                  [int(x) for x in (op.inputs if op.inputs is not None else [])],
                                  [int(x) for x in (op.outputs if op.outputs is not None else [])],
                                  op.builtinOptions))
    desc = m.description.decode() if isinstance(m.description, bytes) else (m.description or "")
    return Graph(tensors, operators, [int(x) for x in sg.inputs], [int(x) for x in sg.outputs],
                 subgraph_count=len(m.subgraphs), description=desc)
