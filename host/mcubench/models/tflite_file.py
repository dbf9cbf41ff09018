"""The one reader of ``.tflite`` flatbuffers: structure checks, ops, tensors, constants, MACs.

Uses the schema bindings shipped in the ``tflite-micro`` wheel (no TensorFlow import). Every
consumer (analysis, the AOT compiler, the TFLM runtime, bench, validate) reads models through
here, so every one of them gets :func:`validate_tflite`'s checks before it compiles, converts
or builds anything: a damaged file is a one-line :class:`UserError`, never a traceback, an
empty graph or a crashed interpreter.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from mcubench.core.errors import UserError

# TFLite addresses tensors with 32-bit sizes; a larger one is a damaged shape.
MAX_TENSOR_BYTES = 2**31

HINT = "re-export the model with the TFLite converter (the file may be damaged, truncated or not a .tflite)"


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

# Bytes per element of the fixed-size tensor types; STRING, RESOURCE and VARIANT buffers have
# no fixed size and the sub-byte types are packed, so their buffers are not size-checked.
DTYPE_BYTES = {
    "FLOAT32": 4, "FLOAT16": 2, "INT32": 4, "UINT8": 1, "INT64": 8, "BOOL": 1, "INT16": 2, "COMPLEX64": 8,
    "INT8": 1, "FLOAT64": 8, "COMPLEX128": 16, "UINT64": 8, "UINT32": 4, "UINT16": 2, "BFLOAT16": 2,
    "FLOAT8_E4M3FN": 1, "FLOAT8_E5M2": 1,
}


def _text(raw: Any) -> str:
    """Names are bytes in the flatbuffer; a damaged name must not raise, so bad UTF-8 is replaced."""
    if raw is None:
        return ""
    return raw.decode("utf-8", errors="replace") if isinstance(raw, (bytes, bytearray)) else str(raw)


@dataclass
class TensorInfo:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str  # schema name: FLOAT32, INT8, FLOAT16, ...
    is_constant: bool
    scale: list[float] = field(default_factory=list)
    zero_point: list[int] = field(default_factory=list)
    quantized_dimension: int = 0
    data: bytes | None = field(default=None, repr=False)  # a constant's raw little-endian contents

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
    options: Any = field(default=None, repr=False, compare=False)  # the schema's *OptionsT object (or None)


@dataclass
class OpCode:
    name: str  # builtin name, or the custom code when custom
    version: int
    custom: bool


@dataclass
class TfliteModel:
    ops: list[OpInfo]  # subgraph 0, in execution order
    tensors: list[TensorInfo]  # subgraph 0
    inputs: list[int]
    outputs: list[int]
    subgraphs: int
    size_bytes: int
    op_codes: list[OpCode] = field(default_factory=list)  # every operator code of the model
    description: str = ""
    metadata: dict[str, bytes] = field(default_factory=dict)  # the model's named metadata buffers

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


def _buffer_bytes(buf: Any, data: bytes) -> bytes | None:
    """A buffer's contents: inline, or (models over 2 GB) at an offset into the file."""
    if buf is None:
        return None
    if buf.data is not None and len(buf.data):
        return np.asarray(buf.data, dtype=np.uint8).tobytes()
    if getattr(buf, "offset", 0) > 1 and getattr(buf, "size", 0):
        return data[buf.offset: buf.offset + buf.size]
    return None


def _unpack(data: bytes, source: str) -> Any:
    """The schema's object tree of the flatbuffer, or UserError when it cannot be decoded."""
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise UserError(f"{source} is not a TFLite flatbuffer (no 'TFL3' identifier)", HINT)
    schema = _schema()
    try:
        return schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(bytearray(data), 0))
    except Exception as err:  # the flatbuffers runtime raises struct/index/unicode errors on damage
        raise UserError(f"{source} is corrupt or truncated ({type(err).__name__}: {err})", HINT) from None


def _check_structure(model: Any, data: bytes, source: str) -> None:
    """Every index in range and every constant the size its shape says, in every subgraph."""
    def bad(what: str) -> UserError:
        return UserError(f"{source} is corrupt: {what}", HINT)

    if not model.subgraphs:
        raise bad("it has no subgraphs")
    if not model.subgraphs[0].operators:
        raise bad("its main subgraph has no operators")
    buffers = model.buffers or []
    codes = model.operatorCodes or []
    type_names = _enum_names("TensorType")
    for g, sg in enumerate(model.subgraphs):
        where = f"subgraph {g} " if g else ""
        tensors = sg.tensors or []
        n = len(tensors)
        for i, t in enumerate(tensors):
            if t.type not in type_names:
                raise bad(f"{where}tensor {i} has unknown type code {t.type}")
            shape = [int(d) for d in (t.shape if t.shape is not None else [])]
            if any(d < 0 for d in shape):
                raise bad(f"{where}tensor {i} has a negative dimension in shape {shape}")
            q = t.quantization
            if q is not None:
                # the rules of TFLite's own model builder (TFLM does not check them and reads
                # past the arrays): as many zero points as scales, one per channel of a valid axis
                scales = 0 if q.scale is None else len(q.scale)
                zps = 0 if q.zeroPoint is None else len(q.zeroPoint)
                if scales != zps and (scales or zps):
                    raise bad(f"{where}tensor {i} has {scales} quantization scales and {zps} zero points")
                qdim = int(q.quantizedDimension)
                if scales > 1 and not (0 <= qdim < len(shape) and shape[qdim] == scales):
                    raise bad(f"{where}tensor {i} has {scales} scales along axis {qdim} of shape {shape}")
            if not 0 <= t.buffer < max(len(buffers), 1):
                raise bad(f"{where}tensor {i} points at buffer {t.buffer} of {len(buffers)}")
            buf = buffers[t.buffer] if buffers else None
            if buf is not None and getattr(buf, "offset", 0) > 1 and buf.offset + buf.size > len(data):
                raise bad(f"buffer {t.buffer} lies past the end of the file")
            raw = _buffer_bytes(buf, data)
            size = DTYPE_BYTES.get(type_names[t.type])
            want = math.prod(shape) * (size or 1)
            if want >= MAX_TENSOR_BYTES:
                raise bad(f"{where}tensor {i} of shape {shape} would take {want:,} bytes (at most 2 GiB)")
            if raw and size is not None and t.sparsity is None:
                if len(raw) != want:
                    raise bad(f"{where}tensor {i} has {len(raw)} bytes of data, its shape {shape} of "
                              f"{type_names[t.type]} needs {want}")
        for k, op in enumerate(sg.operators or []):
            if not 0 <= op.opcodeIndex < len(codes):
                raise bad(f"{where}operator {k} has opcode index {op.opcodeIndex} of {len(codes)}")
            ins = [int(x) for x in (op.inputs if op.inputs is not None else [])]
            outs = [int(x) for x in (op.outputs if op.outputs is not None else [])]
            if any(not -1 <= x < n for x in ins) or any(not 0 <= x < n for x in outs):
                raise bad(f"{where}operator {k} refers to a tensor outside 0..{n - 1} "
                          f"(inputs {ins}, outputs {outs})")
        for role, ids in (("input", sg.inputs), ("output", sg.outputs)):
            ids = [int(x) for x in (ids if ids is not None else [])]
            if g == 0 and not ids:
                raise bad(f"the main subgraph has no {role}s")
            if any(not 0 <= x < n for x in ids):
                raise bad(f"{where}{role} tensors {ids} are outside 0..{n - 1}")


def _read(data: bytes, source: str) -> Any:
    data = bytes(data)
    model = _unpack(data, source)
    _check_structure(model, data, source)
    return model


def validate_tflite(data: bytes, source: str = "model") -> None:
    """Refuse (UserError, one line + hint) a .tflite that is not structurally sound.

    Checks: the flatbuffer decodes; at least one subgraph, and operators and inputs/outputs
    in the main one; every tensor, buffer and opcode index in range (-1 allowed for optional
    operator inputs); known tensor types; non-negative shapes; a constant's buffer holds
    exactly product(shape) x element size bytes. Names are decoded with replacement.
    """
    _read(data, source)


def parse_tflite(data: bytes, source: str = "model") -> TfliteModel:
    """Check (as :func:`validate_tflite`) and read a model: subgraph 0's ops and tensors."""
    data = bytes(data)
    model = _read(data, source)
    op_names, type_names = _enum_names("BuiltinOperator"), _enum_names("TensorType")
    graph = model.subgraphs[0]
    buffers = model.buffers or []
    tensors = []
    for i, t in enumerate(graph.tensors or []):
        raw = _buffer_bytes(buffers[t.buffer], data) if buffers else None
        q = t.quantization
        scale = [float(s) for s in (q.scale if q is not None and q.scale is not None else [])]
        zp = [int(z) for z in (q.zeroPoint if q is not None and q.zeroPoint is not None else [])]
        qdim = int(q.quantizedDimension) if q is not None else 0
        shape = tuple(int(d) for d in (t.shape if t.shape is not None else []))
        tensors.append(TensorInfo(i, _text(t.name), shape, type_names[t.type], raw is not None, scale, zp, qdim, raw))
    codes = []
    for code in model.operatorCodes or []:
        builtin = max(int(code.builtinCode), int(code.deprecatedBuiltinCode))
        custom = op_names.get(builtin) == "CUSTOM"
        name = _text(code.customCode) if custom else op_names.get(builtin, f"BUILTIN_{builtin}")
        codes.append(OpCode(name, int(code.version or 1), custom))
    ops = []
    for i, op in enumerate(graph.operators or []):
        code = codes[op.opcodeIndex]
        ins = [int(x) for x in (op.inputs if op.inputs is not None else [])]
        outs = [int(x) for x in (op.outputs if op.outputs is not None else [])]
        ops.append(OpInfo(i, code.name, code.version, ins, outs, code.custom, op.builtinOptions))
    inputs = [int(x) for x in graph.inputs]
    outputs = [int(x) for x in graph.outputs]
    metadata = {}
    for entry in model.metadata or []:
        if 0 <= entry.buffer < len(buffers):
            metadata[_text(entry.name)] = _buffer_bytes(buffers[entry.buffer], data) or b""
    return TfliteModel(ops, tensors, inputs, outputs, len(model.subgraphs), len(data), codes,
                       _text(model.description), metadata)


def with_metadata(data: bytes, name: str, value: bytes) -> bytes:
    """``data`` with the named metadata buffer ``name`` set to ``value`` (the flatbuffer is
    rebuilt; operators, tensors and weights are unchanged)."""
    import flatbuffers

    schema = _schema()
    model = _read(data, "model")
    model.metadata = [m for m in (model.metadata or []) if _text(m.name) != name]
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(value, dtype=np.uint8)
    model.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name = name
    entry.buffer = len(model.buffers) - 1
    model.metadata.append(entry)
    builder = flatbuffers.Builder(len(data) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())
