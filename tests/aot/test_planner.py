"""The static memory plan: no two live tensors overlap; views and in-place ops share."""

from __future__ import annotations

import numpy as np
import pytest

from mcubench.runtimes.aot import compile_model
from mcubench.runtimes.aot.lower import Step
from mcubench.runtimes.aot.planner import plan_memory, stream_margin


def _no_overlap(plan, steps, sizes):
    """No two tensors live at the same time share bytes, except a streaming op's input and
    output placed with the output at least the op's margin below the input."""
    live = {}
    n = len(steps)
    for t in sizes:
        ks = [k for k, s in enumerate(steps) if t in s.inputs + s.outputs]
        live[t] = (min(ks), max(ks))
    shared = {t for b in plan.buffers if len(b.tensors) > 1 for t in b.tensors}
    ts = list(sizes)
    for i, a in enumerate(ts):
        for b in ts[i + 1:]:
            if a in shared and b in shared and plan.offsets[a] == plan.offsets[b]:
                continue
            if live[a][1] < live[b][0] or live[b][1] < live[a][0]:
                continue
            # a streaming op's input and output may overlap, by at most its margin
            streamed = [(x, y) for x, y in ((a, b), (b, a)) if (x, y) in (plan.overlaps or {})]
            if streamed:
                (inp, out), = streamed
                assert plan.offsets[inp] - plan.offsets[out] >= plan.overlaps[(inp, out)] or \
                    plan.offsets[out] + sizes[out] <= plan.offsets[inp] or plan.offsets[inp] + sizes[inp] <= plan.offsets[out]
            else:
                ra = (plan.offsets[a], plan.offsets[a] + sizes[a])
                rb = (plan.offsets[b], plan.offsets[b] + sizes[b])
                assert ra[1] <= rb[0] or rb[1] <= ra[0], f"tensors {a} and {b} overlap while both live"
    assert plan.arena_bytes >= max(sizes.values())
    return n


def test_chain_reuses_memory():
    # t0 -> t1 -> t2 -> t3: two buffers ping-pong
    steps = [Step(k, "CONV_2D", [k], [k + 1]) for k in range(3)]
    sizes = {0: 100, 1: 100, 2: 100, 3: 100}
    plan = plan_memory(steps, sizes, {0}, {3}, keep_inputs=False)
    _no_overlap(plan, steps, sizes)
    assert plan.arena_bytes == 200


def test_in_place_and_alias_share_a_buffer():
    steps = [Step(0, "CONV_2D", [0], [1]), Step(1, "LOGISTIC", [1], [2], in_place=[1]),
             Step(2, "RESHAPE", [2], [3], alias=True), Step(3, "CONV_2D", [3], [4])]
    sizes = {0: 64, 1: 64, 2: 64, 3: 64, 4: 64}
    plan = plan_memory(steps, sizes, {0}, {4}, keep_inputs=True)
    assert plan.offsets[1] == plan.offsets[2] == plan.offsets[3]
    assert plan.arena_bytes == 64 * 3  # input kept, one working buffer, output


@pytest.mark.parametrize("name", ["tiny_dscnn", "tiny_cnn"])
def test_generated_plans_are_sound_and_smaller_than_tflm(name, all_models, tmp_path):
    from mcubench.models.tflm_host import exact_arena
    from mcubench.runtimes.aot.codegen import lower_graph
    from mcubench.runtimes.aot.graph import read_graph

    project = compile_model(all_models[name], tmp_path, dsp=False, profile_ops=False, keep_inputs=False)
    g = read_graph(all_models[name])
    steps = lower_graph(g)
    sizes = {t: g.tensors[t].nbytes for t in project.plan.offsets}
    _no_overlap(project.plan, steps, sizes)
    tflm = exact_arena(all_models[name]).exact_bytes
    assert project.arena_bytes <= 0.7 * tflm, (project.arena_bytes, tflm)


def test_streaming_ops_write_over_their_input():
    # a 3x3 stride-1 convolution over 8 rows of 4x4 bytes: the output may start two input rows
    # (one row of look-ahead, one row being written) below the input it consumes
    geom = dict(in_h=8, in_w=4, in_c=4, out_h=8, out_w=4, out_c=4, k_h=3, stride_h=1, dil_h=1, pad_top=1)
    steps = [Step(0, "CONV_2D", [0], [1], stream=geom)]
    plan = plan_memory(steps, {0: 128, 1: 128}, {0}, {1}, keep_inputs=False)
    assert plan.overlaps[(0, 1)] == 32
    assert plan.offsets[0] - plan.offsets[1] == 32
    assert plan.arena_bytes == 128 + 32
    _no_overlap(plan, steps, {0: 128, 1: 128})
    # kept inputs (repeated runs without re-copying) are never written over
    plan = plan_memory(steps, {0: 128, 1: 128}, {0}, {1}, keep_inputs=True)
    assert not plan.overlaps and plan.arena_bytes == 256
    sizes = {0: 128, 1: 128, 2: 128}
    # an input that is still needed later is never written over
    steps = [Step(0, "CONV_2D", [0], [1], stream=geom), Step(1, "ADD", [0, 1], [2])]
    plan = plan_memory(steps, sizes, {0}, {2}, keep_inputs=False)
    assert not plan.overlaps
    _no_overlap(plan, steps, sizes)


def _run_in_place(geom: dict, margin: int, seed: int = 0) -> bool:
    """Runs a convolution's memory traffic the way the kernels do — output pixels in raster
    order, two at a time, both windows read before both pixels are written — with the output
    `margin` bytes below the input in one buffer. True when every output equals the one
    computed from an untouched input."""
    ih, iw, ic, oh, ow, oc = (geom[k] for k in ("in_h", "in_w", "in_c", "out_h", "out_w", "out_c"))
    kh, kw = geom["k_h"], geom.get("k_w", geom["k_h"])
    x = np.random.default_rng(seed).integers(0, 256, ih * iw * ic)
    buffer = np.zeros(max(oh * ow * oc, margin + x.size), dtype=np.int64)
    buffer[margin:margin + x.size] = x

    def pixel(source: np.ndarray, base: int, p: int) -> np.ndarray:
        oy, ox = divmod(p, ow)
        acc = 0
        for ky in range(kh):
            for kx in range(kw):
                iy, ix = oy * geom["stride_h"] - geom["pad_top"] + ky, ox * geom["stride_w"] - geom["pad_left"] + kx
                if 0 <= iy < ih and 0 <= ix < iw:
                    at = base + (iy * iw + ix) * ic
                    acc = acc * 31 + int(source[at:at + ic] @ np.arange(1, ic + 1))
        return (acc + np.arange(oc)) % 251

    expected = np.concatenate([pixel(x, 0, p) for p in range(oh * ow)])
    for p in range(0, oh * ow, 2):
        pair = [q for q in (p, p + 1) if q < oh * ow]
        values = [pixel(buffer, margin, q) for q in pair]
        for q, v in zip(pair, values):
            buffer[q * oc:(q + 1) * oc] = v
    return bool(np.array_equal(buffer[:oh * ow * oc], expected))


def test_pixel_margin_of_a_convolution_that_writes_two_pixels_at_a_time():
    # 3x3, stride 1, pad 1 over 8x4x4. While pixels (oy, ox) and (oy, ox + 1) are written,
    # the input from row oy - 1, column ox - 1 on is still read. Worst case oy >= 1, ox >= 1:
    # written (4 oy + ox + 2) pixels, still needed from pixel 4 (oy - 1) + ox - 1, so
    # 7 pixels of 4 channels = 28 bytes.
    geom = dict(in_h=8, in_w=4, in_c=4, out_h=8, out_w=4, out_c=4, k_h=3, stride_h=1, dil_h=1, pad_top=1,
                stride_w=1, pad_left=1)
    assert stream_margin(geom) == 28
    assert stream_margin(geom) < 32  # finer than the two rows of the row-granular rule


@pytest.mark.parametrize("geom", [
    dict(in_h=8, in_w=4, in_c=4, out_h=8, out_w=4, out_c=4, k_h=3, stride_h=1, dil_h=1, pad_top=1, stride_w=1, pad_left=1),
    dict(in_h=9, in_w=7, in_c=3, out_h=5, out_w=4, out_c=6, k_h=3, stride_h=2, dil_h=1, pad_top=1, stride_w=2, pad_left=1),
    dict(in_h=5, in_w=5, in_c=8, out_h=5, out_w=5, out_c=8, k_h=1, stride_h=1, dil_h=1, pad_top=0, stride_w=1, pad_left=0),
    dict(in_h=6, in_w=6, in_c=4, out_h=6, out_w=6, out_c=2, k_h=3, stride_h=1, dil_h=1, pad_top=1, stride_w=1, pad_left=1),
], ids=["3x3-s1", "3x3-s2-more-channels-out", "pointwise", "3x3-fewer-channels-out"])
def test_stream_margin_is_safe_and_at_most_two_input_pixels_loose(geom):
    """The rule against a simulation of the kernels' reads and writes: at the margin (and
    beyond) the outputs are right. The least overlap that survives is found by trying every
    smaller one; the rule may be loose by at most the two input pixels the pair's windows
    start apart (it does not count that a pair reads both windows before it writes)."""
    margin = stream_margin(geom)
    assert _run_in_place(geom, margin) and _run_in_place(geom, margin + 7)
    least = min(m for m in range(margin + 1) if all(_run_in_place(geom, k, seed) for k in range(m, margin + 1) for seed in (0, 1)))
    assert margin - least <= 2 * geom["stride_w"] * geom["in_c"]
    if least > 0:
        assert not _run_in_place(geom, least - 1) or not _run_in_place(geom, least - 1, seed=1)


def test_a_streaming_chain_takes_one_tensor_plus_its_margins():
    # DS-CNN's blocks: equal tensors, each op streaming the previous one's output (1x1 convs)
    geom = dict(in_h=5, in_w=5, in_c=8, out_h=5, out_w=5, out_c=8, k_h=1, stride_h=1, dil_h=1, pad_top=0,
                stride_w=1, pad_left=0)
    steps = [Step(k, "CONV_2D", [k], [k + 1], stream=geom) for k in range(4)]
    sizes = {k: 200 for k in range(5)}
    plan = plan_memory(steps, sizes, {0}, {4}, keep_inputs=False)
    _no_overlap(plan, steps, sizes)
    assert stream_margin(geom) == 16  # two pixels of 8 channels
    assert plan.arena_bytes == 200 + 4 * 16  # not two tensors ping-ponging (400)


def test_reference_dscnn_arena_is_at_most_half_of_tflm(tmp_path):
    pytest.importorskip("tensorflow")
    from mcubench.models.tflm_host import exact_arena
    from mcubench.recipes.reference_models import model_path

    model = model_path("ref_dscnn").read_bytes()
    project = compile_model(model, tmp_path, dsp=True, profile_ops=False, keep_inputs=False)
    assert project.arena_bytes <= 0.5 * exact_arena(model).exact_bytes


def test_kernel_scratch_lives_during_its_step_only():
    # Three convolutions; the middle one needs 200 bytes of kernel scratch. Its scratch may not
    # overlap the tensors it reads and writes, but may reuse the memory of tensors dead or not
    # yet made at its step; a step that declares none gets none.
    steps = [Step(0, "CONV_2D", [0], [1]), Step(1, "CONV_2D", [1], [2], scratch_bytes=200),
             Step(2, "CONV_2D", [2], [3])]
    sizes = {0: 128, 1: 64, 2: 64, 3: 128}
    plan = plan_memory(steps, sizes, {0}, {3}, keep_inputs=False)
    assert set(plan.scratch) == {1}
    at = plan.scratch[1]
    for t in (1, 2):
        assert at >= plan.offsets[t] + sizes[t] or at + 200 <= plan.offsets[t]
    # the input and output of the first and last steps are dead or unmade at step 1
    assert plan.arena_bytes <= 64 + 64 + 200
