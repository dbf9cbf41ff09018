"""The block-sparse AOT kernel (firmware/kernels/mcb_sparse.c): chosen from estimated cycles,
bit-exact against the TFLM interpreter on models with random zero blocks (host build, portable
path, short and long requantization). The DSP path runs under QEMU in
tests/models/test_prune_structures.py (a block-pruned kws_dscnn)."""

from __future__ import annotations

import aot_modelgen as modelgen
import numpy as np
import pytest
from conftest import build_host, random_inputs, tflm_outputs
from mcubench.runtimes.aot import compile_model, sparse
from mcubench.runtimes.aot.lower import conv_weight_layout


@pytest.fixture(scope="module")
def sparse_models():
    pytest.importorskip("tensorflow")
    return modelgen.models(modelgen.SPARSE)


@pytest.mark.parametrize(("name", "exact_rq"), [(name, False) for name in sorted(modelgen.SPARSE)]
                         + [("sparse_dscnn", True), ("sparse_3x3_same_border", True)])
def test_sparse_kernel_bit_exact_and_chosen(name, exact_rq, sparse_models, tmp_path):
    model = sparse_models[name]
    project = compile_model(model, tmp_path, dsp=False, keep_inputs=False)
    source = (tmp_path / "model.c").read_text()
    assert "mcbk_sparse_conv(" in source, "the sparse kernel was not chosen for a block-sparse layer"
    host = build_host(project, tmp_path, ("-DMCBK_EXACT_RQ=1",) if exact_rq else ())
    rng = np.random.default_rng(sum(map(ord, name)))
    for _ in range(4):
        xs = random_inputs(project, rng)
        for got, want in zip(host.run(xs), tflm_outputs(model, xs)):
            assert np.array_equal(got.ravel(), want.ravel()), f"{name}: AOT sparse output differs from TFLM"


def test_dense_weights_keep_the_dense_kernel():
    w = np.random.default_rng(0).integers(-127, 128, (16, 1, 64)).astype(np.int8)
    layout, row_pad = conv_weight_layout(w)
    geom = {"k_h": 1, "k_w": 1, "dil_h": 1, "dil_w": 1, "in_h": 4, "in_w": 4, "in_c": 64, "out_h": 4, "out_w": 4,
            "out_c": 16, "stride_h": 1, "stride_w": 1, "pad_top": 0, "pad_left": 0}
    assert sparse.choose(layout, geom, row_pad) is None
    w[:, :, 16:] = 0  # 3 of 4 blocks zero in every group
    layout, row_pad = conv_weight_layout(w)
    enc = sparse.choose(layout, geom, row_pad)
    assert enc is not None and enc.kept == 4 * 4 and enc.sparse_cycles < enc.dense_cycles
    assert enc.offsets.tolist() == [0, 4, 8, 12] * 4
    # horizontal dilation makes a kernel row non-contiguous: dense
    assert sparse.choose(layout, dict(geom, dil_w=2), row_pad) is None
    # a 2-row kernel: offsets of row 1 step by the input row in place, by row_pad when gathered
    w2 = np.zeros((4, 2, 8), np.int8)
    w2[:, 1, 4:] = 1
    layout, row_pad = conv_weight_layout(w2)
    enc = sparse.choose(layout, dict(geom, k_h=2, k_w=2, in_c=4, out_c=4), row_pad)
    assert enc.offsets.tolist() == [4 * 4 + 4] and enc.border_offsets.tolist() == [row_pad + 4]


def test_dense_price_follows_the_kernel_paths():
    """Pointwise pixels all take the two-pixel kernel (an odd last one as a pair with itself);
    a 3x3 'same' convolution pairs interior pixels only; a 1x1 output is one pixel."""
    pw = {"k_h": 1, "k_w": 1, "dil_h": 1, "dil_w": 1, "in_h": 5, "in_w": 5, "out_h": 5, "out_w": 5,
          "stride_h": 1, "stride_w": 1, "pad_top": 0, "pad_left": 0}
    assert sparse.dense_pixel_mix(pw) == (26, 0, 25)
    same = dict(pw, k_h=3, k_w=3, pad_top=1, pad_left=1)
    assert sparse.dense_pixel_mix(same) == (3 * 2, 25 - 6, 25)  # rows 1-3: pixels 1,2 paired, 3 alone
    assert sparse.dense_pixel_mix(dict(pw, in_h=1, in_w=1, out_h=1, out_w=1)) == (0, 1, 1)
    # no zero block: 64 input channels stay dense on the two-pixel path and as FULLY_CONNECTED,
    # a convolution's one-pixel path (borders) is dearer than the sparse kernel
    dense_pw, sparse_pw = sparse.estimated_cycles(4, 16, 64, 1, (2, 0, 2), True)
    dense_fc, sparse_fc = sparse.estimated_cycles(4, 16, 64, 1, (0, 1, 1), True)
    dense_border, sparse_border = sparse.estimated_cycles(4, 16, 64, 1, (0, 2, 2), True)
    assert dense_pw < sparse_pw and dense_fc < sparse_fc and sparse_border < dense_border
