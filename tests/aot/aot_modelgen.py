"""Single-op and small multi-op int8 models made with real TensorFlow, cached on disk.

A model is described by data (a dict), so its cache key is the spec plus the TensorFlow
version; TensorFlow is imported only when some model is missing from the cache.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
from pathlib import Path

GEN_VERSION = 2

CACHE_DIR = Path(os.environ.get("MCUBENCH_CACHE", Path.home() / ".cache" / "mcubench")) / "aot-test-models"


def _key(spec: dict) -> str:
    tfv = importlib.metadata.version("tensorflow")
    raw = json.dumps(spec, sort_keys=True) + f"|{tfv}|{GEN_VERSION}"
    return hashlib.sha256(raw.encode()).hexdigest()[:20]


def _layer(keras, ops, L: dict, x, inputs):
    kind = L["op"]
    a = {k: v for k, v in L.items() if k != "op"}
    if kind == "conv":
        return keras.layers.Conv2D(a["filters"], a["k"], strides=a.get("s", 1), padding=a.get("pad", "same"),
                                   dilation_rate=a.get("dil", 1), activation=a.get("act"))(x)
    if kind == "dw":
        return keras.layers.DepthwiseConv2D(a["k"], strides=a.get("s", 1), padding=a.get("pad", "same"),
                                            depth_multiplier=a.get("dm", 1), dilation_rate=a.get("dil", 1),
                                            activation=a.get("act"))(x)
    if kind == "dense":
        return keras.layers.Dense(a["units"], activation=a.get("act"))(x)
    if kind == "avgpool":
        return keras.layers.AveragePooling2D(a["k"], strides=a.get("s"), padding=a.get("pad", "valid"))(x)
    if kind == "maxpool":
        return keras.layers.MaxPooling2D(a["k"], strides=a.get("s"), padding=a.get("pad", "valid"))(x)
    if kind == "relu":
        return keras.layers.ReLU(max_value=a.get("max"))(x)
    if kind == "add":
        return keras.layers.Add()([x, inputs[a.get("other", 1)]])
    if kind == "add_skip":
        return keras.layers.Add()([a["_skip"], x] if a.get("skip_first") else [x, a["_skip"]])
    if kind == "mul":
        return keras.layers.Multiply()([x, inputs[a.get("other", 1)]])
    if kind == "softmax":
        return keras.layers.Softmax()(x)
    if kind == "sigmoid":
        return keras.layers.Activation("sigmoid")(x)
    if kind == "tanh":
        return keras.layers.Activation("tanh")(x)
    if kind == "gap":
        return keras.layers.GlobalAveragePooling2D(keepdims=a.get("keepdims", False))(x)
    if kind == "mean_last":
        return keras.layers.Lambda(lambda t: ops.mean(t, axis=-1))(x)
    if kind == "pad":
        return keras.layers.ZeroPadding2D(a["p"])(x)
    if kind == "concat":
        return keras.layers.Concatenate(axis=-1)([x, inputs[1]])
    if kind == "concat_skip":
        return keras.layers.Concatenate(axis=-1)([x, a["_skip"]])
    if kind == "flatten":
        return keras.layers.Flatten()(x)
    if kind == "reshape":
        return keras.layers.Reshape(tuple(a["shape"]))(x)
    if kind == "permute":
        return keras.layers.Permute(tuple(a["dims"]))(x)
    raise ValueError(kind)


def _build(spec: dict) -> bytes:
    import keras
    import numpy as np
    import tensorflow as tf
    from keras import ops

    rng = np.random.default_rng(spec.get("seed", 0))
    inputs = [keras.Input(tuple(s), batch_size=1) for s in spec["inputs"]]
    x = inputs[0]
    skip = None
    for L in spec["layers"]:
        if L["op"] == "save":
            skip = x
            continue
        if L["op"] in ("add_skip", "concat_skip"):
            L = dict(L, _skip=skip)
        x = _layer(keras, ops, L, x, inputs)
    model = keras.Model(inputs, x)
    for w in model.weights:
        fan = max(1, int(np.prod(w.shape[:-1])))
        w.assign(rng.normal(0.0, 1.5 / np.sqrt(fan), w.shape).astype(np.float32)
                 if len(w.shape) > 1 else rng.normal(0.0, 0.3, w.shape).astype(np.float32))
    if spec.get("block_sparsity"):
        _zero_blocks(model, spec["block_sparsity"], rng)
    lo, hi = spec.get("range", (-1.0, 3.0))

    def rep():
        r = np.random.default_rng(1)
        for _ in range(16):
            yield [r.uniform(lo, hi, (1, *s)).astype(np.float32) for s in spec["inputs"]]

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = rep
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    if not spec.get("float_io"):
        conv.inference_input_type = tf.int8
        conv.inference_output_type = tf.int8
    return conv.convert()


def _zero_blocks(model, fraction: float, rng) -> None:
    """Zeroes a random ``fraction`` of the 4 x 4 blocks of every Dense and Conv2D kernel viewed
    as [k_h*k_w*in_c, out_c] (4 input bytes of a kernel row x 4 output channels when
    k_w*in_c is a multiple of 4: the unit the AOT sparse kernel skips)."""
    import numpy as np

    for layer in model.layers:
        kernel = getattr(layer, "kernel", None)
        if kernel is None or type(layer).__name__ not in ("Dense", "Conv2D"):
            continue
        w = np.array(kernel.numpy())
        w2 = w.reshape(-1, w.shape[-1])
        rows, cols = -(-w2.shape[0] // 4), -(-w2.shape[1] // 4)
        for b in rng.permutation(rows * cols)[: round(fraction * rows * cols)]:
            r, c = divmod(int(b), cols)
            w2[4 * r:4 * r + 4, 4 * c:4 * c + 4] = 0.0
        kernel.assign(w2.reshape(w.shape))


def models(specs: dict[str, dict]) -> dict[str, bytes]:
    """name -> .tflite bytes, generating (and caching) what is missing."""
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    out = {}
    for name, spec in specs.items():
        path = CACHE_DIR / f"{name}-{_key(spec)}.tflite"
        if not path.exists():
            data = _build(spec)
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(data)
            tmp.replace(path)
        out[name] = path.read_bytes()
    return out


# Single-op models: shapes, strides, padding, dilation, activations, zero points vary.
SINGLE_OP = {
    "conv_s2_same_relu": {"inputs": [[9, 9, 6]], "layers": [{"op": "conv", "filters": 10, "k": 3, "s": 2, "act": "relu"}]},
    "conv_valid_rect": {"inputs": [[8, 7, 3]], "layers": [{"op": "conv", "filters": 8, "k": [3, 2], "pad": "valid"}], "range": [0, 5]},
    "conv_dil2_relu6": {"inputs": [[10, 10, 4]], "layers": [{"op": "conv", "filters": 5, "k": 3, "dil": 2, "act": "relu6"}]},
    "conv_cin1_kws": {"inputs": [[13, 10, 1]], "layers": [{"op": "conv", "filters": 7, "k": [4, 3], "s": [2, 1]}], "range": [-4, 1]},
    "conv_1x1": {"inputs": [[5, 5, 16]], "layers": [{"op": "conv", "filters": 12, "k": 1, "act": "relu"}]},
    "dw_3x3_relu": {"inputs": [[9, 9, 8]], "layers": [{"op": "dw", "k": 3, "act": "relu"}]},
    "dw_s2_valid_c6": {"inputs": [[10, 8, 6]], "layers": [{"op": "dw", "k": 3, "s": 2, "pad": "valid", "act": "relu6"}]},
    "dw_dm2": {"inputs": [[7, 7, 3]], "layers": [{"op": "dw", "k": 3, "dm": 2}], "range": [-3, 3]},
    "dw_dil2": {"inputs": [[12, 12, 4]], "layers": [{"op": "dw", "k": 3, "dil": 2}]},
    "fc_relu": {"inputs": [[20]], "layers": [{"op": "dense", "units": 10, "act": "relu"}]},
    "fc_rank3": {"inputs": [[3, 16]], "layers": [{"op": "dense", "units": 6}], "range": [-2, 2]},
    "fc_64_5": {"inputs": [[64]], "layers": [{"op": "dense", "units": 5}]},
    "avgpool_2x2": {"inputs": [[8, 8, 5]], "layers": [{"op": "avgpool", "k": 2}]},
    "avgpool_3_s2_same": {"inputs": [[9, 9, 3]], "layers": [{"op": "avgpool", "k": 3, "s": 2, "pad": "same"}], "range": [-3, 0]},
    "maxpool_2x2": {"inputs": [[8, 8, 5]], "layers": [{"op": "maxpool", "k": 2}]},
    "maxpool_3_s2_same": {"inputs": [[9, 7, 4]], "layers": [{"op": "maxpool", "k": 3, "s": 2, "pad": "same"}]},
    "add_relu": {"inputs": [[4, 4, 8], [4, 4, 8]], "layers": [{"op": "add"}, {"op": "relu"}]},
    "add_broadcast": {"inputs": [[4, 4, 8], [1, 1, 8]], "layers": [{"op": "add"}], "range": [-1, 6]},
    "mul": {"inputs": [[4, 5, 3], [4, 5, 3]], "layers": [{"op": "mul"}]},
    "mul_broadcast": {"inputs": [[3, 4, 6], [1, 4, 1]], "layers": [{"op": "mul"}], "range": [-2, 1]},
    "softmax_10": {"inputs": [[10]], "layers": [{"op": "softmax"}], "range": [-6, 6]},
    "softmax_rows": {"inputs": [[3, 7]], "layers": [{"op": "softmax"}], "range": [-1, 2]},
    "logistic": {"inputs": [[4, 4, 3]], "layers": [{"op": "sigmoid"}], "range": [-8, 5]},
    "mean_gap": {"inputs": [[5, 5, 8]], "layers": [{"op": "gap"}]},
    "mean_gap_keepdims": {"inputs": [[6, 3, 4]], "layers": [{"op": "gap", "keepdims": True}], "range": [-5, 1]},
    "mean_last_axis": {"inputs": [[4, 6, 5]], "layers": [{"op": "mean_last"}]},
    "pad": {"inputs": [[5, 5, 3]], "layers": [{"op": "pad", "p": [[1, 2], [0, 1]]}]},
    "concat": {"inputs": [[4, 4, 3], [4, 4, 5]], "layers": [{"op": "concat"}]},
    # TRANSPOSE: what converters of channels-first (PyTorch, ONNX) models put before a flatten.
    "transpose_hwc_to_chw": {"inputs": [[4, 5, 3]], "layers": [{"op": "permute", "dims": [3, 1, 2]}]},
    "transpose_2d": {"inputs": [[6, 7]], "layers": [{"op": "permute", "dims": [2, 1]}], "range": [-2, 3]},
    "float_io_conv": {"inputs": [[6, 6, 2]], "layers": [{"op": "conv", "filters": 4, "k": 3}], "float_io": True},
}

# Small multi-op models shaped like the examples.
MULTI_OP = {
    "tiny_dscnn": {"inputs": [[49, 10, 1]], "layers": [
        {"op": "conv", "filters": 16, "k": [10, 4], "s": 2, "act": "relu"},
        {"op": "dw", "k": 3, "act": "relu"}, {"op": "conv", "filters": 16, "k": 1, "act": "relu"},
        {"op": "dw", "k": 3, "act": "relu"}, {"op": "conv", "filters": 16, "k": 1, "act": "relu"},
        {"op": "gap"}, {"op": "dense", "units": 12}, {"op": "softmax"}], "range": [-3, 2]},
    "tiny_cnn": {"inputs": [[16, 16, 3]], "layers": [
        {"op": "conv", "filters": 8, "k": 3, "act": "relu"}, {"op": "maxpool", "k": 2},
        {"op": "save"}, {"op": "conv", "filters": 8, "k": 3, "act": "relu"},
        {"op": "conv", "filters": 8, "k": 3}, {"op": "add_skip"}, {"op": "relu"},
        {"op": "avgpool", "k": 2}, {"op": "flatten"}, {"op": "dense", "units": 10}, {"op": "softmax"}],
        "range": [0, 1]},
    # FULLY_CONNECTED tails: input rows of 1, 2, 3, 4 and 5 words (every remainder of the DSP
    # kernel's four-step loop), output channels leaving partial groups of 3, 3, 1, 0 and 2, and
    # two rows per layer (batches = 2)
    "fc_chain_tails": {"inputs": [[2, 4]], "layers": [
        {"op": "dense", "units": 7, "act": "relu"}, {"op": "dense", "units": 11, "act": "relu"},
        {"op": "dense", "units": 13, "act": "relu"}, {"op": "dense", "units": 20, "act": "relu"},
        {"op": "dense", "units": 6}], "seed": 3},
    # the depthwise 3x3 kernel's edges: 6, 12, 20 and 5 channels (partial groups), odd widths,
    # same and valid padding, strides 1 and 2
    "dw_chain_edges": {"inputs": [[9, 7, 6]], "layers": [
        {"op": "dw", "k": 3, "act": "relu"}, {"op": "conv", "filters": 12, "k": 1, "act": "relu"},
        {"op": "dw", "k": 3, "s": 2, "act": "relu"}, {"op": "conv", "filters": 20, "k": 1, "act": "relu"},
        {"op": "dw", "k": 3, "pad": "valid", "act": "relu6"}, {"op": "conv", "filters": 5, "k": 1},
        {"op": "dw", "k": 3, "s": 2}], "seed": 4},
    # pooling four channels a word (DSP): clipped same windows, strides 1 and 2, 6 channels
    # (a remainder of 2), then a global average pool (MEAN) over 12 channels
    "pool_chain_edges": {"inputs": [[11, 9, 6]], "layers": [
        {"op": "avgpool", "k": 3, "s": 1, "pad": "same"}, {"op": "maxpool", "k": 3, "s": 2, "pad": "same"},
        {"op": "conv", "filters": 12, "k": 1, "act": "relu"}, {"op": "avgpool", "k": 2},
        {"op": "maxpool", "k": 2, "s": 1}, {"op": "gap"}], "seed": 7},
    # padding only below and right (even sizes, stride 2), pixel pairs of both strides plus a
    # single pixel per row, and a valid stride-2 layer of one pair
    "dw_chain_even_s2": {"inputs": [[8, 10, 8]], "layers": [
        {"op": "dw", "k": 3, "s": 2, "act": "relu"}, {"op": "dw", "k": 3, "act": "relu6"},
        {"op": "dw", "k": 3, "s": 2, "pad": "valid"}], "seed": 5},
    # the DSP convolution kernel's edges (mcbk_conv_2px_rq): 3, 6, 10, 9 and 18 input channels
    # (windows of 9, 2, 24, 14 and 5 steps: loop entries 7, 6, 0, 2 and 3 of 8), partial groups
    # of 2, 2, 1, 2 and 0 channels, odd pixel counts, border windows (same padding, a 2x3
    # kernel), stride 2, relu, relu6 and no activation; enough groups per layer that the dense
    # kernel is chosen
    "conv_chain_edges": {"inputs": [[7, 9, 3]], "layers": [
        {"op": "conv", "filters": 6, "k": 3, "act": "relu"}, {"op": "conv", "filters": 10, "k": 1, "act": "relu6"},
        {"op": "conv", "filters": 9, "k": 3, "s": 2, "pad": "valid"},
        {"op": "conv", "filters": 18, "k": [2, 3], "act": "relu"},
        {"op": "conv", "filters": 12, "k": 1, "s": 2}], "seed": 7},
    # a depthwise layer whose channels leave a remainder past the last group of 4 (10 and 5),
    # its output streamed over its input a few bytes further than the planner's margin: the
    # remainder channels read the input the row's group stores may already have overwritten
    # unless they run first
    "dw_streamed_c10": {"inputs": [[12, 12, 3]], "layers": [
        {"op": "conv", "filters": 10, "k": 3, "act": "relu"}, {"op": "dw", "k": 3, "act": "relu"},
        {"op": "conv", "filters": 8, "k": 1}], "seed": 9},
    "dw_streamed_c5": {"inputs": [[8, 8, 3]], "layers": [
        {"op": "conv", "filters": 5, "k": 3, "act": "relu"}, {"op": "dw", "k": 3, "act": "relu"},
        {"op": "conv", "filters": 8, "k": 1}], "seed": 9},
    # fused activations narrower than int8: a ReLU convolution concatenated with the (partly
    # negative) input shares the concatenation's quantization, so its clamp's lower bound is
    # its zero point (-53 here), not -128
    "conv_clamped": {"inputs": [[6, 7, 5]], "layers": [
        {"op": "save"}, {"op": "conv", "filters": 12, "k": 3, "act": "relu"}, {"op": "concat_skip"},
        {"op": "conv", "filters": 12, "k": 1, "act": "relu6"}], "range": [-3, 2], "seed": 8},
}

# Block-sparse weights (4 input x 4 output blocks zeroed): the AOT sparse kernel's cases.
SPARSE = {
    "sparse_1x1_partial_group": {"inputs": [[5, 6, 24]], "layers": [{"op": "conv", "filters": 10, "k": 1, "act": "relu"}],
                                 "block_sparsity": 0.6, "seed": 3},
    "sparse_1x1_s2_cin6": {"inputs": [[7, 7, 6]], "layers": [{"op": "conv", "filters": 8, "k": 1, "s": 2, "pad": "valid"}],
                           "block_sparsity": 0.5, "seed": 4, "range": [-2, 1]},
    "sparse_fc": {"inputs": [[64]], "layers": [{"op": "dense", "units": 20, "act": "relu6"}], "block_sparsity": 0.75, "seed": 5},
    "sparse_fc_all_zero_rows": {"inputs": [[32]], "layers": [{"op": "dense", "units": 8}], "block_sparsity": 0.9, "seed": 6},
    "sparse_3x3_same_border": {"inputs": [[6, 7, 4]], "layers": [{"op": "conv", "filters": 12, "k": 3, "act": "relu"}],
                               "block_sparsity": 0.7, "seed": 8},
    "sparse_kws_first_conv": {"inputs": [[13, 10, 1]], "layers": [{"op": "conv", "filters": 16, "k": [10, 4], "s": 2}],
                              "block_sparsity": 0.75, "seed": 9, "range": [-3, 2]},
    "sparse_dscnn": {"inputs": [[25, 5, 16]], "layers": [
        {"op": "dw", "k": 3, "act": "relu"}, {"op": "conv", "filters": 32, "k": 1, "act": "relu"},
        {"op": "dw", "k": 3, "act": "relu"}, {"op": "conv", "filters": 32, "k": 1, "act": "relu"},
        {"op": "gap"}, {"op": "dense", "units": 12}, {"op": "softmax"}], "block_sparsity": 0.75, "seed": 7, "range": [-3, 2]},
}

# Residual blocks (conv -> conv -> ADD with the block input) the AOT runtime runs row by row:
# out written over the input (3x3 -> 3x3 with odd sizes and a partial channel group, 1x1 ->
# 5x5), not over it (a 5x5 first convolution reads rows above the one written: slab only),
# dilation, the shortcut as the ADD's first operand, and the block-sparse kernel
FUSED = {
    "residual_3x3_odd": {"inputs": [[9, 7, 6]], "layers": [
        {"op": "conv", "filters": 6, "k": 3}, {"op": "save"}, {"op": "conv", "filters": 10, "k": 3, "act": "relu"},
        {"op": "conv", "filters": 6, "k": 3}, {"op": "add_skip"}, {"op": "relu"}], "seed": 11},
    "residual_1x1_5x5": {"inputs": [[8, 6, 8]], "layers": [
        {"op": "save"}, {"op": "conv", "filters": 12, "k": 1, "act": "relu"},
        {"op": "conv", "filters": 8, "k": 5}, {"op": "add_skip"}], "seed": 12},
    "residual_5x5_first": {"inputs": [[7, 6, 4]], "layers": [
        {"op": "save"}, {"op": "conv", "filters": 8, "k": 5, "act": "relu"},
        {"op": "conv", "filters": 4, "k": 3}, {"op": "add_skip"}], "seed": 13},
    "residual_dilated": {"inputs": [[10, 8, 8]], "layers": [
        {"op": "save"}, {"op": "conv", "filters": 8, "k": 3, "dil": 2, "act": "relu"},
        {"op": "conv", "filters": 8, "k": 3}, {"op": "add_skip", "skip_first": True}], "seed": 14},
    "residual_sparse": {"inputs": [[8, 8, 16]], "layers": [
        {"op": "save"}, {"op": "conv", "filters": 16, "k": 3, "act": "relu"},
        {"op": "conv", "filters": 16, "k": 3}, {"op": "add_skip"}], "block_sparsity": 0.75, "seed": 15},
}

# Models the AOT runtime must refuse (op index and name in the message).
UNSUPPORTED = {
    "conv_then_tanh": {"inputs": [[6, 6, 2]], "layers": [{"op": "conv", "filters": 4, "k": 3}, {"op": "tanh"}]},
}
