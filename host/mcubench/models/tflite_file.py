"""Read a ``.tflite`` flatbuffer without TensorFlow: ops, versions, tensors, MACs.

Uses the schema bindings shipped in the ``tflite-micro`` wheel. A corrupt or truncated file
is a :class:`UserError` naming the file, raised by :func:`parse_tflite`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from mcubench.core.errors import UserError


def _schema():
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema_fb

    return schema_fb


@lru_cache(maxsize=None)
def _enum_names(enum_name: str) -> dict[int, str]:
    enum = getattr(_schema(), enum_name)
    return {v: k for k, v in vars(enum).items() if not k.startswith("_") and isinstance(v, int)}


NUMPY_DTYPES = {
    "FLOAT32": np.float32, "FLOAT16": np.float16, "INT32": np.int32, "UINT8": np.uint8, "INT64": np.int64,
    "INT16": np.int16, "INT8": np.int8, "BOOL": np.bool_, "FLOAT64": np.float64, "UINT32": np.uint32,
}


@dataclass
class TensorInfo:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str  # schema name: FLOAT32, INT8, FLOAT16, ...
    is_constant: bool
    scale: list[float] = field(default_factory=list)
    zero_point: list[int] = field(default_factory=list)

    @property
    def elements(self) -> int:
        return int(np.prod(self.shape)) if self.shape else 1


@dataclass
class OpInfo:
    index: int
    name: str  # builtin name (CONV_2D) or the custom code for custom ops
    version: int
    inputs: list[int]
    outputs: list[int]
    custom: bool = False


@dataclass
class TfliteModel:
    ops: list[OpInfo]
    tensors: list[TensorInfo]
    inputs: list[int]
    outputs: list[int]
    subgraphs: int
    size_bytes: int

    def tensor(self, index: int) -> TensorInfo:
        return self.tensors[index]

    def macs(self, op: OpInfo) -> int:
        return op_macs(op, self.tensors)

    @property
    def params(self) -> int:
        """Elements of constant tensors (weights and biases)."""
        return sum(t.elements for t in self.tensors if t.is_constant)


def op_macs(op: OpInfo, tensors: list[TensorInfo]) -> int:
    """Multiply-accumulates of one op at batch size 1 (element-wise ops count 0)."""
    ins = [tensors[i] if i >= 0 else None for i in op.inputs]
    outs = [tensors[i] for i in op.outputs if i >= 0]
    if not outs or len(ins) < 2 or ins[1] is None:
        return 0
    out_elems = outs[0].elements
    weights = ins[1].shape
    if op.name == "CONV_2D" and len(weights) == 4:  # [out_ch, kh, kw, in_ch]
        return out_elems * weights[1] * weights[2] * weights[3]
    if op.name == "DEPTHWISE_CONV_2D" and len(weights) == 4:  # [1, kh, kw, out_ch]
        return out_elems * weights[1] * weights[2]
    if op.name == "FULLY_CONNECTED" and len(weights) == 2:  # [units, in]
        return out_elems * weights[1]
    if op.name == "BATCH_MATMUL" and ins[0] is not None and ins[0].shape:
        return out_elems * ins[0].shape[-1]
    if op.name == "TRANSPOSE_CONV" and len(ins) >= 3 and ins[2] is not None and len(weights) == 4:
        return ins[2].elements * weights[0] * weights[1] * weights[2]
    return 0


def parse_tflite(data: bytes, source: str = "model") -> TfliteModel:
    """Parse flatbuffer bytes; raise UserError if they are not a complete TFLite model."""
    hint = "re-export the model with the TFLite converter (the file may be truncated or not a .tflite)"
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise UserError(f"{source} is not a TFLite flatbuffer (no 'TFL3' identifier)", hint)
    schema = _schema()
    try:
        model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(bytearray(data), 0))
    except Exception as err:  # flatbuffers raises struct/index errors on damage
        raise UserError(f"{source} is corrupt or truncated ({type(err).__name__}: {err})", hint) from None
    if not model.subgraphs:
        raise UserError(f"{source} has no subgraphs", hint)
    op_names, type_names = _enum_names("BuiltinOperator"), _enum_names("TensorType")
    graph = model.subgraphs[0]
    buffers = model.buffers or []
    tensors = []
    for i, t in enumerate(graph.tensors or []):
        has_data = False
        if 0 < t.buffer < len(buffers):
            buf = buffers[t.buffer]
            has_data = (buf.data is not None and len(buf.data) > 0) or bool(getattr(buf, "size", 0))
        elif t.buffer >= len(buffers):
            raise UserError(f"{source} is corrupt: tensor {i} points at missing buffer {t.buffer}", hint)
        q = t.quantization
        scale = [float(s) for s in (q.scale if q is not None and q.scale is not None else [])]
        zp = [int(z) for z in (q.zeroPoint if q is not None and q.zeroPoint is not None else [])]
        name = t.name.decode() if isinstance(t.name, bytes) else str(t.name)
        shape = tuple(int(d) for d in (t.shape if t.shape is not None else []))
        tensors.append(TensorInfo(i, name, shape, type_names.get(t.type, str(t.type)), has_data, scale, zp))
    ops = []
    codes = model.operatorCodes or []
    for i, op in enumerate(graph.operators or []):
        if op.opcodeIndex >= len(codes):
            raise UserError(f"{source} is corrupt: operator {i} has opcode index {op.opcodeIndex}", hint)
        code = codes[op.opcodeIndex]
        builtin = max(code.builtinCode, code.deprecatedBuiltinCode)
        custom = op_names.get(builtin) == "CUSTOM"
        name = (code.customCode.decode() if isinstance(code.customCode, bytes) else str(code.customCode)) if custom else op_names.get(builtin, f"BUILTIN_{builtin}")
        ins = [int(x) for x in (op.inputs if op.inputs is not None else [])]
        outs = [int(x) for x in (op.outputs if op.outputs is not None else [])]
        if any(x >= len(tensors) for x in ins + outs):
            raise UserError(f"{source} is corrupt: operator {i} refers to a missing tensor", hint)
        ops.append(OpInfo(i, name, int(code.version), ins, outs, custom))
    inputs = [int(x) for x in (graph.inputs if graph.inputs is not None else [])]
    outputs = [int(x) for x in (graph.outputs if graph.outputs is not None else [])]
    return TfliteModel(ops, tensors, inputs, outputs, len(model.subgraphs), len(data))
