"""Lowering: each TFLite operator becomes one kernel call with compile-time parameters.

Every check the AOT runtime makes lives here, so `check_supported` and `compile_model` can
never disagree: lowering an op either yields a `Step` or raises `Unsupported(reason)`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mcubench.runtimes.aot import quant, sparse
from mcubench.runtimes.aot.graph import Graph, Operator, Tensor

# Highest operator version whose semantics the kernels implement (types are checked too).
MAX_VERSIONS = {
    "CONV_2D": 8, "DEPTHWISE_CONV_2D": 7, "FULLY_CONNECTED": 13, "AVERAGE_POOL_2D": 3,
    "MAX_POOL_2D": 3, "ADD": 5, "MUL": 7, "RESHAPE": 2, "SQUEEZE": 2, "EXPAND_DIMS": 2,
    "SOFTMAX": 3, "MEAN": 3, "PAD": 4, "PADV2": 4, "CONCATENATION": 4, "QUANTIZE": 3,
    "DEQUANTIZE": 6, "LOGISTIC": 3, "TRANSPOSE": 6,
}
ALIAS_OPS = {"RESHAPE", "SQUEEZE", "EXPAND_DIMS"}


class Unsupported(Exception):
    """Raised while lowering: the reason an operator cannot be compiled ahead of time."""


@dataclass
class Step:
    op_index: int
    opcode: str
    inputs: list[int]             # activation/const tensor ids the kernel reads
    outputs: list[int]
    macs: int = 0
    params_c: str = ""            # static const definitions (parameter structs, weights)
    call_c: str = ""              # the call; {T<id>} placeholders become tensor pointers
    alias: bool = False           # output is a view of input 0 (no kernel call)
    in_place: list[int] = field(default_factory=list)  # input ids the output may overwrite
    weight_bytes: int = 0
    scratch_bytes: int = 0        # working memory the call gets as {S} (in the arena, after the plan)
    stream: dict | None = None    # conv/pool geometry: lets the planner overlap output and input
    overread: int = 0             # bytes the kernel may read (and ignore) past its input's end
    source_ops: list[int] = field(default_factory=list)  # the model's operators this step runs (empty: op_index)
    workspace: int = 0            # planned working memory live during this step only, as {W}
    row_call: str = ""            # adapter running the convolution on a window of input rows (mcb_fused.h)


def _c_array(ctype: str, name: str, values, align: int = 4) -> str:
    vals = np.asarray(values).ravel().tolist()
    body = ",".join(str(int(v)) for v in vals) if vals else "0"
    return f"static const {ctype} {name}[{max(len(vals), 1)}] __attribute__((aligned({align}))) = {{{body}}};\n"


def _ext4(shape) -> list[int]:
    shape = list(shape)
    if len(shape) > 4:
        raise Unsupported(f"{len(shape)}-D tensors (at most 4-D are supported)")
    return [1] * (4 - len(shape)) + shape


def _fused(op: Operator) -> int:
    act = int(getattr(op.options, "fusedActivationFunction", 0) or 0)
    if act not in (0, 1, 2, 3):
        raise Unsupported(f"fused activation {act} (only NONE, RELU, RELU_N1_TO_1, RELU6)")
    return act


def _int8_act(t: Tensor, role: str) -> None:
    if t.dtype != "int8":
        raise Unsupported(f"{role} tensor '{t.name}' is {t.dtype} (the AOT kernels are int8)")
    if len(t.scales) != 1 or len(t.zero_points) != 1:
        raise Unsupported(f"{role} tensor '{t.name}' is not per-tensor quantized")


def _quantization_sane(t: Tensor) -> None:
    # The multipliers are derived from scale ratios: a zero, negative or NaN scale (a damaged
    # file) has no TFLM meaning to match.
    if t.dtype == "int8" and len(t.scales) and not (np.all(np.isfinite(t.scales)) and np.all(t.scales > 0)):
        raise Unsupported(f"tensor '{t.name}' has a scale that is not a positive number ({t.scales[:4].tolist()})")
    if t.dtype == "int8" and len(t.zero_points) and not np.all((t.zero_points >= -128) & (t.zero_points <= 127)):
        raise Unsupported(f"tensor '{t.name}' has an int8 zero point outside -128..127")


def _padding(pad_kind: int, in_size: int, k: int, stride: int, dil: int, out_size: int) -> int:
    if pad_kind not in (0, 1) or min(k, stride, dil) < 1:
        raise Unsupported(f"window {k}, stride {stride}, dilation {dil}, padding {pad_kind} are not a valid geometry")
    eff = (k - 1) * dil + 1
    if pad_kind == 0:  # SAME
        expect = (in_size + stride - 1) // stride
    else:
        expect = (in_size + stride - eff) // stride
    if expect != out_size:
        raise Unsupported(f"output size {out_size} does not follow from the padding (expected {expect})")
    pad = max(((out_size - 1) * stride + eff - in_size) // 2, 0)
    if max(pad, stride, dil) > 32767:
        # TFLM keeps padding, strides and dilations in int16 and silently truncates them
        raise Unsupported(f"padding {pad}, stride {stride} or dilation {dil} exceeds TFLM's 16-bit range")
    return pad


def _round4(n: int) -> int:
    return (n + 3) // 4 * 4


def conv_weight_layout(w: np.ndarray) -> tuple[np.ndarray, int]:
    """[oc][k_h][k_w*c] -> the conv kernel's layout (see mcbk_conv_t) and row_pad: groups of 4
    output channels (zero channels pad the last group), kernel row by kernel row, each row's
    bytes padded with zeros to a multiple of 4 and the 4 channels interleaved 4 bytes at a time."""
    oc, kh, row = w.shape
    row_pad = _round4(row)
    ocp = _round4(oc)
    padded = np.zeros((ocp, kh, row_pad), np.int8)
    padded[:oc, :, :row] = w
    out = padded.reshape(ocp // 4, 4, kh, row_pad // 4, 4).transpose(0, 2, 3, 1, 4)
    return np.ascontiguousarray(out).ravel(), row_pad


def _wrap32(v) -> np.ndarray:
    return (np.asarray(v, np.int64) & 0xFFFFFFFF).astype(np.uint32).view(np.int32)


def _rq_array(name: str, mult, shift, n: int, out_zp: int) -> str:
    rows = []
    for k in range(n):
        m, s = (int(mult[k]), int(shift[k])) if k < len(mult) else (0, 1)
        ls, rs = max(s, 0), max(-s, 0)
        rnd = ((1 << rs) >> 1) + (out_zp << rs) if 1 <= rs <= 22 else 0
        rows.append(f"{{{m}, {ls}, {rs}, {rnd}}}")
    return f"static const mcbk_rq_t {name}[{max(n, 1)}] = {{{', '.join(rows) or '{0, 0, 0, 0}'}}};\n"


def _fast_rq(bias: np.ndarray, abs_wsum: np.ndarray, shift) -> int:
    """1 when the kernels' short requantization is exact for every channel: |acc| < 2^30 for any
    int8 input (|bias| + 255 * sum|w| bounds it: each input minus its zero point lies in
    [-255, 255]), no left shift, and a right shift of 1..22 (the output zero point then fits in
    the rounding constant without overflow)."""
    bound = np.abs(bias.astype(np.int64)) + 255 * abs_wsum.astype(np.int64)
    rs = -np.asarray(shift, np.int64)
    return int(bool(np.all(bound < (1 << 30)) and np.all((rs >= 1) & (rs <= 22))))


def _conv_struct(name: str, f: dict) -> str:
    order = ["batches", "in_h", "in_w", "in_c", "out_h", "out_w", "out_c", "k_h", "k_w", "stride_h",
             "stride_w", "dil_h", "dil_w", "pad_top", "pad_left", "row_pad", "in_zp", "out_offset",
             "act_min", "act_max", "fast_rq", "weights", "bias", "rq"]
    return f"static const mcbk_conv_t {name} = {{{', '.join(str(f[k]) for k in order)}}};\n"


def _bias_values(g: Graph, op: Operator, idx: int, oc: int) -> np.ndarray:
    if len(op.inputs) <= idx or op.inputs[idx] < 0:
        return np.zeros(oc, np.int64)
    b = g.tensors[op.inputs[idx]]
    if b.dtype != "int32" or not b.is_const:
        raise Unsupported(f"bias tensor '{b.name}' is {b.dtype}{'' if b.is_const else ' and not constant'} (int32 constant expected)")
    return b.data.reshape(-1)[:oc].astype(np.int64)


def _gemm_step(op: Operator, p: str, x: Tensor, y: Tensor, w: np.ndarray, bias: np.ndarray, mult, shift,
               geom: dict, amin: int, amax: int, macs: int, weight_bytes: int) -> Step:
    """A CONV_2D or FULLY_CONNECTED step: w is [oc][k_h][k_w*c] int8."""
    oc = w.shape[0]
    layout, row_pad = conv_weight_layout(w)
    ocp = _round4(oc)
    wsum = w.reshape(oc, -1).astype(np.int64).sum(axis=1)
    folded = np.zeros(ocp, np.int64)
    folded[:oc] = bias + (-x.zero_point) * wsum
    fast = _fast_rq(bias, np.abs(w.reshape(oc, -1).astype(np.int64)).sum(axis=1), shift)
    bias_rq = _c_array("int32_t", f"{p}_bias", _wrap32(folded)) + _rq_array(f"{p}_rq", mult, shift, ocp, y.zero_point)
    border = (geom["pad_top"] or geom["pad_left"] or geom["dil_w"] != 1 or
              (geom["out_h"] - 1) * geom["stride_h"] + (geom["k_h"] - 1) * geom["dil_h"] >= geom["in_h"] + geom["pad_top"] or
              (geom["out_w"] - 1) * geom["stride_w"] + (geom["k_w"] - 1) * geom["dil_w"] >= geom["in_w"] + geom["pad_left"])
    scratch = geom["k_h"] * row_pad if border else 0
    blocks = sparse.choose(layout, geom, row_pad, bool(fast))
    if blocks is not None:  # estimated cheaper than dense: see sparse.py
        return _sparse_step(op, p, x, y, blocks, bias_rq, geom, amin, amax, fast, macs, weight_bytes, row_pad, scratch,
                            row_pad - w.shape[2])
    if row_pad == 4 and geom["k_h"] > 1:
        # kernel rows of one word: the DSP kernel gathers two windows into one row each
        scratch = max(scratch, 2 * geom["k_h"] * 4)
    if fast and not _one_pixel(geom):
        # the DSP kernel's pixel pairs: both windows sign-extended (16 bytes per 4 window bytes),
        # then a border window gathered after them
        scratch = max(scratch, (4 + int(border)) * geom["k_h"] * row_pad)
    defs = _c_array("int8_t", f"{p}_w", layout) + bias_rq
    f = dict(geom, row_pad=row_pad, in_zp=x.zero_point, out_offset=y.zero_point, act_min=amin, act_max=amax,
             fast_rq=fast, weights=f"{p}_w", bias=f"{p}_bias", rq=f"{p}_rq")
    defs += _conv_struct(p, f)
    call = f"mcbk_conv2d(&{p}, {{T{x.index}}}, {{T{y.index}}}, {{S}});"
    return Step(op.index, op.opcode, [x.index], [y.index], macs, defs, call, weight_bytes=weight_bytes,
                scratch_bytes=scratch, stream=_stream(geom), overread=row_pad - w.shape[2],
                row_call="mcbk_conv2d_rows" if geom["batches"] == 1 else "")


def _one_pixel(geom: dict) -> bool:
    """A 1x1 convolution of a 1x1 image (FULLY_CONNECTED's shape): the DSP kernel needs no scratch."""
    return (geom["in_h"], geom["in_w"], geom["k_h"], geom["k_w"], geom["pad_top"], geom["pad_left"]) == (1, 1, 1, 1, 0, 0)


def _sparse_step(op: Operator, p: str, x: Tensor, y: Tensor, blocks: sparse.SparseBlocks, bias_rq: str, geom: dict,
                 amin: int, amax: int, fast: int, macs: int, weight_bytes: int, row_pad: int, scratch: int,
                 overread: int) -> Step:
    """The block-sparse kernel's step; ``bias_rq`` holds the folded bias and requantization."""
    defs = (f"/* {op.opcode} sparse: {blocks.kept} of {len(blocks.nnz) * blocks.blocks} weight blocks kept; estimated "
            f"{blocks.sparse_cycles} vs {blocks.dense_cycles} dense cycles per pixel */\n") + bias_rq
    defs += _c_array("uint16_t", f"{p}_nnz", blocks.nnz) + _c_array("uint16_t", f"{p}_off", blocks.offsets)
    defs += _c_array("uint16_t", f"{p}_offb", blocks.border_offsets) + _c_array("int8_t", f"{p}_w", blocks.weights)
    fields = sparse.struct_fields(dict(geom, row_pad=row_pad), x.zero_point, y.zero_point, amin, amax, fast, p)
    defs += f"static const mcbk_sparse_t {p} = {{{', '.join(map(str, fields))}}};\n"
    call = f"mcbk_sparse_conv(&{p}, {{T{x.index}}}, {{T{y.index}}}, {{S}});"
    return Step(op.index, op.opcode, [x.index], [y.index], macs, defs, call, weight_bytes=weight_bytes,
                scratch_bytes=scratch, stream=_stream(geom), overread=overread,
                row_call="mcbk_sparse_conv_rows" if geom["batches"] == 1 else "")


def _stream(geom: dict) -> dict | None:
    """Row geometry of an op that reads its input and writes its output in raster order."""
    if geom["batches"] != 1:
        return None
    return {k: geom[k] for k in ("in_h", "in_w", "in_c", "out_h", "out_w", "out_c", "k_h", "stride_h",
                                 "dil_h", "pad_top", "stride_w", "pad_left")}


def lower_conv(g: Graph, op: Operator, p: str, depthwise: bool) -> Step:
    x, w, y = g.tensors[op.inputs[0]], g.tensors[op.inputs[1]], g.tensors[op.outputs[0]]
    _int8_act(x, "input")
    _int8_act(y, "output")
    if w.dtype != "int8" or not w.is_const:
        raise Unsupported(f"filter '{w.name}' is {w.dtype}{'' if w.is_const else ' and not constant'} (constant int8 expected)")
    if np.any(w.zero_points != 0):
        raise Unsupported("filter zero points must be 0 (symmetric int8 weights)")
    if len(x.shape) != 4 or len(y.shape) != 4 or len(w.shape) != 4:
        raise Unsupported("expects 4-D input, filter and output")
    o = op.options
    n, h, wd, c = x.shape
    _, oh, ow, oc = y.shape
    kh, kw = w.shape[1], w.shape[2]
    sh, sw = int(o.strideH), int(o.strideW)
    dh, dw = int(o.dilationHFactor or 1), int(o.dilationWFactor or 1)
    pt = _padding(int(o.padding), h, kh, sh, dh, oh)
    pl = _padding(int(o.padding), wd, kw, sw, dw, ow)
    act = _fused(op)
    amin, amax = quant.activation_range(act, y.scale, y.zero_point)
    if depthwise:
        if w.shape[0] != 1 or w.shape[3] != oc or oc % c:
            raise Unsupported(f"filter shape {w.shape} does not fit input channels {c} and output channels {oc}")
    else:
        if w.shape[0] != oc:
            raise Unsupported(f"filter shape {w.shape} does not fit output channels {oc}")
        if w.shape[3] != c:
            raise Unsupported(f"grouped convolution (filter has {w.shape[3]} input channels, input {c})")
    nscale = len(w.scales)
    if nscale not in (1, oc):
        raise Unsupported(f"{nscale} filter scales for {oc} output channels")
    mult, shift = quant.per_channel_multipliers(x.scale, w.scales, y.scale, oc)
    bias = _bias_values(g, op, 2, oc)
    geom = dict(batches=n, in_h=h, in_w=wd, in_c=c, out_h=oh, out_w=ow, out_c=oc, k_h=kh, k_w=kw,
                stride_h=sh, stride_w=sw, dil_h=dh, dil_w=dw, pad_top=pt, pad_left=pl)
    if not depthwise:
        return _gemm_step(op, p, x, y, w.data.reshape(oc, kh, kw * c), bias, mult, shift, geom, amin, amax,
                          n * oh * ow * oc * kh * kw * c, w.size)
    dm = oc // c
    if dm * c != oc or int(op.options.depthMultiplier) != dm:
        # TFLM loops over the option's multiplier; the kernels over the channels
        raise Unsupported(f"depth multiplier {op.options.depthMultiplier} does not match {c} input and {oc} output channels")
    wt = w.data.reshape(kh * kw, oc)                     # [taps][oc]
    rest_c0 = (c // 4) * 4 if dm == 1 else 0
    groups = rest_c0 // 4
    # int16 weights of 4-channel groups in the SIMD order (c0, c2), (c1, c3) per tap
    wext = wt[:, :rest_c0].reshape(kh * kw, groups, 4)[:, :, [0, 2, 1, 3]].transpose(1, 0, 2)
    defs = _c_array("int16_t", f"{p}_wext", wext.astype(np.int16))
    defs += _c_array("int8_t", f"{p}_wrest", wt[:, rest_c0:])
    defs += _c_array("int32_t", f"{p}_bias", _wrap32(bias))
    defs += _rq_array(f"{p}_rq", mult, shift, oc, y.zero_point)
    fast = _fast_rq(bias, np.abs(wt.astype(np.int64)).sum(axis=0), shift)
    folded = "NULL"
    if (kh, kw) == (3, 3) and (dh, dw) == (1, 1) and groups:
        # the input offset folded into the bias of the 4-channel groups (see mcbk_dwconv_t)
        wsum = wt[:, :rest_c0].astype(np.int64).sum(axis=0)
        defs += _c_array("int32_t", f"{p}_biasf", _wrap32(bias[:rest_c0] + (-x.zero_point) * wsum))
        folded = f"{p}_biasf"
    fields = [n, h, wd, c, oh, ow, oc, dm, kh, kw, sh, sw, dh, dw, pt, pl, -x.zero_point,
              y.zero_point, amin, amax, fast, rest_c0, f"{p}_wext", f"{p}_wrest", f"{p}_bias", f"{p}_rq", folded]
    defs += f"static const mcbk_dwconv_t {p} = {{{', '.join(map(str, fields))}}};\n"
    call = f"mcbk_dwconv2d(&{p}, {{T{x.index}}}, {{T{y.index}}}, {{S}});"
    scratch = _dw_scratch(geom, rest_c0)
    return Step(op.index, op.opcode, [x.index], [y.index], n * oh * ow * oc * kh * kw, defs, call,
                weight_bytes=w.size, stream=_stream(geom) if dm == 1 else None, scratch_bytes=scratch)


def _dw_scratch(geom: dict, rest_c0: int) -> int:
    """Kernel scratch of mcbk_dwconv2d (the same conditions as its dw_uses_band): undilated 3x3
    kernels read their 4-channel groups from a band of three padded input rows; dilated 3x3
    ones gather each window that leaves the input (9 * in_c bytes)."""
    g = geom
    if (g["k_h"], g["k_w"]) != (3, 3) or not rest_c0:
        return 0
    if (g["dil_h"], g["dil_w"]) != (1, 1):
        return 9 * g["in_c"]
    return 3 * ((g["out_w"] - 1) * g["stride_w"] + 3) * g["in_c"]


def lower_fc(g: Graph, op: Operator, p: str) -> Step:
    x, w, y = g.tensors[op.inputs[0]], g.tensors[op.inputs[1]], g.tensors[op.outputs[0]]
    _int8_act(x, "input")
    _int8_act(y, "output")
    if w.dtype != "int8" or not w.is_const or len(w.shape) != 2:
        raise Unsupported(f"weights '{w.name}' must be a constant 2-D int8 tensor (got {w.dtype} {w.shape})")
    if np.any(w.zero_points != 0):
        raise Unsupported("weight zero points must be 0")
    if int(getattr(op.options, "weightsFormat", 0) or 0) != 0:
        raise Unsupported("shuffled weights format")
    oc, ic = w.shape
    if x.size % ic:
        raise Unsupported(f"input size {x.size} is not a multiple of {ic} input features")
    batches = x.size // ic
    amin, amax = quant.activation_range(_fused(op), y.scale, y.zero_point)
    if len(w.scales) > 1:
        if len(w.scales) != oc:
            raise Unsupported(f"{len(w.scales)} weight scales for {oc} outputs")
        mult, shift = quant.per_channel_multipliers(x.scale, w.scales, y.scale, oc)
    else:
        m, s = quant.fc_per_tensor_multiplier(x.scale, float(w.scales[0]), y.scale)
        mult, shift = [m] * oc, [s] * oc
    bias = _bias_values(g, op, 2, oc)
    geom = dict(batches=batches, in_h=1, in_w=1, in_c=ic, out_h=1, out_w=1, out_c=oc, k_h=1, k_w=1,
                stride_h=1, stride_w=1, dil_h=1, dil_w=1, pad_top=0, pad_left=0)
    step = _gemm_step(op, p, x, y, w.data.reshape(oc, 1, ic), bias, mult, shift, geom, amin, amax,
                      batches * oc * ic, w.size)
    step.stream = None  # every output reads the whole input row
    step.row_call = ""
    return step


def lower_pool(g: Graph, op: Operator, p: str, is_max: bool) -> Step:
    x, y = g.tensors[op.inputs[0]], g.tensors[op.outputs[0]]
    _int8_act(x, "input")
    _int8_act(y, "output")
    if len(x.shape) != 4:
        raise Unsupported("expects a 4-D input")
    if x.scale != y.scale or x.zero_point != y.zero_point:
        raise Unsupported("input and output quantization differ (TFLM requires them equal)")
    o = op.options
    n, h, wd, c = x.shape
    oh, ow = y.shape[1], y.shape[2]
    fh, fw, sh, sw = int(o.filterHeight), int(o.filterWidth), int(o.strideH), int(o.strideW)
    pt = _padding(int(o.padding), h, fh, sh, 1, oh)
    pl = _padding(int(o.padding), wd, fw, sw, 1, ow)
    amin, amax = quant.activation_range(_fused(op), y.scale, y.zero_point)
    fields = [n, h, wd, c, oh, ow, fh, fw, sh, sw, pt, pl, amin, amax]
    defs = f"static const mcbk_pool_t {p} = {{{', '.join(map(str, fields))}}};\n"
    fn = "mcbk_max_pool" if is_max else "mcbk_avg_pool"
    stream = None if n != 1 else dict(in_h=h, in_w=wd, in_c=c, out_h=oh, out_w=ow, out_c=c, k_h=fh,
                                         stride_h=sh, dil_h=1, pad_top=pt, stride_w=sw, pad_left=pl)
    return Step(op.index, op.opcode, [x.index], [y.index], n * oh * ow * c * fh * fw, defs,
                f"{fn}(&{p}, {{T{x.index}}}, {{T{y.index}}});", stream=stream)


def _broadcast_strides(in_shape, out4) -> list[int]:
    s = _ext4(in_shape)
    strides = [1, 1, 1, 1]
    for d in (2, 1, 0):
        strides[d] = strides[d + 1] * s[d + 1]
    res = []
    for d in range(4):
        if s[d] == out4[d]:
            res.append(strides[d] if s[d] > 1 else 0)
        elif s[d] == 1:
            res.append(0)
        else:
            raise Unsupported(f"shape {tuple(in_shape)} does not broadcast to {tuple(out4)}")
    return res


def _add_input_table(offset: int, left_shift: int, mult: int, shift: int) -> np.ndarray:
    """The short ADD's rescaling of one input (add_fast in mcb_kernels.c) for every int8 byte,
    doubled for the output's SMMULR: 2 * (SMMULR((byte + offset) << (left_shift + 1), mult)
    shifted right by -shift, rounding halves away from zero). Exact in int64, and the doubled
    values stay below 2^30: |byte + offset| <= 255 keeps the shifted input below 2^30 and the
    high half below 2^29."""
    x = (np.arange(-128, 128, dtype=np.int64) + offset) << (left_shift + 1)
    high = (x * mult + (1 << 31)) >> 32
    e = -shift
    if e > 0:
        high = (high + (1 << (e - 1)) + (high >> 31)) >> e
    return (2 * high).astype(np.int32)


def lower_binary(g: Graph, op: Operator, p: str, is_add: bool) -> Step:
    a, b, y = g.tensors[op.inputs[0]], g.tensors[op.inputs[1]], g.tensors[op.outputs[0]]
    for t, role in ((a, "input 1"), (b, "input 2"), (y, "output")):
        _int8_act(t, role)
    out4 = _ext4(y.shape)
    flat = int(tuple(a.shape) == tuple(b.shape) == tuple(y.shape))
    s1 = _broadcast_strides(a.shape, out4)
    s2 = _broadcast_strides(b.shape, out4)
    amin, amax = quant.activation_range(_fused(op), y.scale, y.zero_point)
    if is_add:
        ls, (m1, sh1), (m2, sh2), (mo, sho) = quant.add_params(a.scale, b.scale, y.scale)
    else:
        ls, m1, sh1, m2, sh2 = 0, 0, 0, 0, 0
        mo, sho = quant.quantize_multiplier(quant.f32(a.scale) * quant.f32(b.scale) / quant.f32(y.scale))
    arr = lambda v: "{" + ", ".join(map(str, v)) + "}"
    # the short ADD (see mcbk_binary_t.fast): |input - zp| <= 255, so a left shift of at most 20
    # keeps every doubled rescaled input below 2^30; input right shifts 0..22, output 1..22
    fast = int(is_add and 0 <= ls <= 20 and all(0 <= -sh <= 22 for sh in (sh1, sh2)) and 1 <= -sho <= 22)
    defs, table, table_bytes = "", "0", 0
    if fast and flat:
        values = np.concatenate([_add_input_table(-a.zero_point, ls, m1, sh1), _add_input_table(-b.zero_point, ls, m2, sh2)])
        table, table_bytes = f"{p}_table", values.size * 4
        defs = _c_array("int32_t", table, values)
    fields = [flat, y.size, arr(out4), arr(s1), arr(s2), -a.zero_point, -b.zero_point, y.zero_point,
              ls, m1, sh1, m2, sh2, mo, sho, amin, amax, fast, table]
    defs += f"static const mcbk_binary_t {p} = {{{', '.join(map(str, fields))}}};\n"
    fn = "mcbk_add" if is_add else "mcbk_mul"
    in_place = [t.index for t in (a, b) if not t.is_const and tuple(t.shape) == tuple(y.shape)] if flat else []
    return Step(op.index, op.opcode, [a.index, b.index], [y.index], y.size, defs,
                f"{fn}(&{p}, {{T{a.index}}}, {{T{b.index}}}, {{T{y.index}}});", in_place=in_place,
                weight_bytes=table_bytes)


def _elementwise(x: Tensor, y: Tensor) -> None:
    # the kernels run over the input's elements; TFLM leaves any other output bytes unwritten
    if x.size != y.size:
        raise Unsupported(f"input shape {list(x.shape)} and output shape {list(y.shape)} differ in size")


def _int8_probability_io(x, y) -> None:
    """SOFTMAX and LOGISTIC: int8 in, int8 out on TFLite's fixed [0, 1) output scale."""
    _int8_act(x, "input")
    _int8_act(y, "output")
    _elementwise(x, y)
    if y.zero_point != -128 or np.float32(y.scale) != np.float32(1.0 / 256):
        raise Unsupported("int8 output must have zero point -128 and scale 1/256")


def lower_softmax(g: Graph, op: Operator, p: str) -> Step:
    x, y = g.tensors[op.inputs[0]], g.tensors[op.outputs[0]]
    _int8_probability_io(x, y)
    depth = x.shape[-1] if x.shape else 1
    beta = float(getattr(op.options, "beta", 1.0))
    m, ls, dmin = quant.softmax_params(beta, x.scale)
    fields = [x.size // depth, depth, m, ls, dmin]
    defs = f"static const mcbk_softmax_t {p} = {{{', '.join(map(str, fields))}}};\n"
    return Step(op.index, op.opcode, [x.index], [y.index], x.size, defs,
                f"mcbk_softmax(&{p}, {{T{x.index}}}, {{T{y.index}}});", in_place=[x.index])


def lower_logistic(g: Graph, op: Operator, p: str) -> Step:
    x, y = g.tensors[op.inputs[0]], g.tensors[op.outputs[0]]
    _int8_probability_io(x, y)
    m, ls, radius = quant.logistic_params(x.scale)
    fields = [x.size, x.zero_point, radius, m, ls]
    defs = f"static const mcbk_logistic_t {p} = {{{', '.join(map(str, fields))}}};\n"
    return Step(op.index, op.opcode, [x.index], [y.index], x.size, defs,
                f"mcbk_logistic(&{p}, {{T{x.index}}}, {{T{y.index}}});", in_place=[x.index])


def lower_mean(g: Graph, op: Operator, p: str) -> Step:
    x, ax, y = g.tensors[op.inputs[0]], g.tensors[op.inputs[1]], g.tensors[op.outputs[0]]
    _int8_act(x, "input")
    _int8_act(y, "output")
    if not ax.is_const:
        raise Unsupported("axis must be constant")
    dims = _ext4(x.shape)
    lead = 4 - len(x.shape)
    reduce = [0, 0, 0, 0]
    for a in np.asarray(ax.data).ravel().tolist():
        a = int(a) + (len(x.shape) if a < 0 else 0)
        reduce[a + lead] = 1
    count = int(np.prod([dims[d] for d in range(4) if reduce[d]]))
    m, s = quant.mean_params(x.scale, y.scale, count)
    arr = lambda v: "{" + ", ".join(map(str, v)) + "}"
    fields = [arr(dims), arr(reduce), count, x.zero_point, y.zero_point, m, s]
    defs = f"static const mcbk_mean_t {p} = {{{', '.join(map(str, fields))}}};\n"
    return Step(op.index, op.opcode, [x.index], [y.index], x.size, defs,
                f"mcbk_mean(&{p}, {{T{x.index}}}, {{T{y.index}}});")


def lower_pad(g: Graph, op: Operator, p: str) -> Step:
    x, pads, y = g.tensors[op.inputs[0]], g.tensors[op.inputs[1]], g.tensors[op.outputs[0]]
    _int8_act(x, "input")
    _int8_act(y, "output")
    if not pads.is_const:
        raise Unsupported("paddings must be constant")
    pr = np.asarray(pads.data).reshape(-1, 2).astype(int)
    if (pr < 0).any():
        raise Unsupported("negative paddings")
    value = y.zero_point
    if op.opcode == "PADV2" and len(op.inputs) > 2 and op.inputs[2] >= 0:
        v = g.tensors[op.inputs[2]]
        if not v.is_const or v.dtype != "int8":
            raise Unsupported("pad value must be a constant int8")
        value = int(np.asarray(v.data).ravel()[0])
    dims = _ext4(x.shape)
    lead = 4 - len(x.shape)
    before, after = [0] * 4, [0] * 4
    for i, (b, a) in enumerate(pr.tolist()):
        before[i + lead], after[i + lead] = b, a
    arr = lambda v: "{" + ", ".join(map(str, v)) + "}"
    defs = f"static const mcbk_pad_t {p} = {{{arr(dims)}, {arr(before)}, {arr(after)}, 1, {value}}};\n"
    return Step(op.index, op.opcode, [x.index], [y.index], 0, defs,
                f"mcbk_pad(&{p}, {{T{x.index}}}, {{T{y.index}}});")


def lower_concat(g: Graph, op: Operator, p: str) -> Step:
    y = g.tensors[op.outputs[0]]
    _int8_act(y, "output")
    if _fused(op) != 0:
        raise Unsupported("fused activation on concatenation")
    axis = int(op.options.axis)
    if axis < 0:
        axis += len(y.shape)
    ins = [g.tensors[i] for i in op.inputs]
    for t in ins:
        _int8_act(t, "input")
        if t.scale != y.scale or t.zero_point != y.zero_point:
            raise Unsupported("inputs quantized differently from the output (TFLM requires equal)")
    outer = int(np.prod(y.shape[:axis])) if axis else 1
    sizes = [int(np.prod(t.shape[axis:])) for t in ins]
    ptrs = ", ".join(f"{{T{t.index}}}" for t in ins)
    defs = _c_array("int32_t", f"{p}_bytes", sizes)
    call = (f"{{ const int8_t *const in_[] = {{{ptrs}}}; "
            f"mcbk_concat({outer}, {len(ins)}, in_, {p}_bytes, {{T{y.index}}}); }}")
    return Step(op.index, op.opcode, [t.index for t in ins], [y.index], 0, defs, call)


def lower_quantize(g: Graph, op: Operator, p: str) -> Step:
    x, y = g.tensors[op.inputs[0]], g.tensors[op.outputs[0]]
    _int8_act(y, "output")
    _elementwise(x, y)
    if x.dtype == "float32":
        call = (f"mcbk_quantize_f32({y.size}, (float){float(np.float32(y.scale))!r}, {y.zero_point}, "
                f"(const float *){{T{x.index}}}, {{T{y.index}}});")
        return Step(op.index, op.opcode, [x.index], [y.index], 0, "", call)
    _int8_act(x, "input")
    m, s = quant.quantize_multiplier(quant.f32(x.scale) / quant.f32(y.scale))
    call = f"mcbk_requantize({y.size}, {x.zero_point}, {y.zero_point}, {m}, {s}, {{T{x.index}}}, {{T{y.index}}});"
    return Step(op.index, op.opcode, [x.index], [y.index], 0, "", call, in_place=[x.index])


def lower_dequantize(g: Graph, op: Operator, p: str) -> Step:
    x, y = g.tensors[op.inputs[0]], g.tensors[op.outputs[0]]
    _int8_act(x, "input")
    _elementwise(x, y)
    if y.dtype != "float32":
        raise Unsupported(f"output is {y.dtype} (float32 expected)")
    call = (f"mcbk_dequantize({x.size}, {float(np.float32(x.scale))!r}, {x.zero_point}, {{T{x.index}}}, "
            f"(float *){{T{y.index}}});")
    return Step(op.index, op.opcode, [x.index], [y.index], 0, "", call)


def lower_alias(g: Graph, op: Operator, p: str) -> Step:
    x, y = g.tensors[op.inputs[0]], g.tensors[op.outputs[0]]
    if x.dtype != y.dtype or x.size != y.size:
        raise Unsupported("input and output differ in type or size")
    if x.dtype == "int8" and (x.scale != y.scale or x.zero_point != y.zero_point):
        raise Unsupported("input and output quantization differ")
    call = f"mcbk_copy({x.nbytes}, {{T{x.index}}}, {{T{y.index}}});"
    return Step(op.index, op.opcode, [x.index], [y.index], 0, "", call, alias=True)


def lower_transpose(g: Graph, op: Operator, p: str) -> Step:
    """A byte permutation, bit-exact by construction; the output never overlays the input
    (every output byte may come from anywhere in the input)."""
    x, perm, y = g.tensors[op.inputs[0]], g.tensors[op.inputs[1]], g.tensors[op.outputs[0]]
    _int8_act(x, "input")
    _int8_act(y, "output")
    if x.scale != y.scale or x.zero_point != y.zero_point:
        raise Unsupported("input and output quantization differ")
    if not perm.is_const:
        raise Unsupported("the permutation must be constant")
    order = [int(v) for v in np.asarray(perm.data).ravel()]
    rank = len(x.shape)
    if sorted(order) != list(range(rank)):
        raise Unsupported(f"permutation {order} does not match a {rank}-D input")
    in_dims = _ext4(x.shape)
    lead = 4 - rank
    full = list(range(lead)) + [lead + a for a in order]  # the permutation of the 4-D extension
    in_strides = [int(np.prod(in_dims[a + 1:])) for a in range(4)]
    out_dims = [in_dims[a] for a in full]
    if out_dims != _ext4(y.shape):
        raise Unsupported(f"output shape {list(y.shape)} is not the permuted input shape")
    arr = lambda v: "{" + ", ".join(map(str, v)) + "}"
    defs = f"static const mcbk_transpose_t {p} = {{{arr(out_dims)}, {arr([in_strides[a] for a in full])}}};\n"
    return Step(op.index, op.opcode, [x.index], [y.index], 0, defs,
                f"mcbk_transpose(&{p}, {{T{x.index}}}, {{T{y.index}}});")


LOWERINGS = {
    "CONV_2D": lambda g, op, p: lower_conv(g, op, p, depthwise=False),
    "DEPTHWISE_CONV_2D": lambda g, op, p: lower_conv(g, op, p, depthwise=True),
    "FULLY_CONNECTED": lower_fc,
    "AVERAGE_POOL_2D": lambda g, op, p: lower_pool(g, op, p, is_max=False),
    "MAX_POOL_2D": lambda g, op, p: lower_pool(g, op, p, is_max=True),
    "ADD": lambda g, op, p: lower_binary(g, op, p, is_add=True),
    "MUL": lambda g, op, p: lower_binary(g, op, p, is_add=False),
    "SOFTMAX": lower_softmax,
    "LOGISTIC": lower_logistic,
    "MEAN": lower_mean,
    "PAD": lower_pad,
    "PADV2": lower_pad,
    "CONCATENATION": lower_concat,
    "QUANTIZE": lower_quantize,
    "DEQUANTIZE": lower_dequantize,
    "RESHAPE": lower_alias,
    "SQUEEZE": lower_alias,
    "EXPAND_DIMS": lower_alias,
    "TRANSPOSE": lower_transpose,
}


def lower_op(g: Graph, op: Operator) -> Step:
    if op.opcode not in LOWERINGS:
        raise Unsupported("operator not implemented by the AOT kernels "
                          f"(supported: {', '.join(sorted(LOWERINGS))})")
    if op.version > MAX_VERSIONS[op.opcode]:
        raise Unsupported(f"version {op.version} is newer than the AOT compiler knows "
                          f"(up to {MAX_VERSIONS[op.opcode]})")
    for t in op.inputs + op.outputs:
        if t >= 0:
            _quantization_sane(g.tensors[t])
    try:
        return LOWERINGS[op.opcode](g, op, f"op{op.index}")
    except (IndexError, AttributeError, TypeError) as e:  # malformed operator in the flatbuffer
        raise Unsupported(f"malformed operator ({e})") from e
