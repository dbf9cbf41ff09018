"""The static memory plan: no two live tensors overlap; views and in-place ops share."""

from __future__ import annotations

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


def test_pixel_margin_of_a_convolution_that_writes_two_pixels_at_a_time():
    # 3x3, stride 1, pad 1 over 8x4x4: while output pixel (oy, ox) is written (and its right
    # neighbour, computed with it), the input from the window of (oy, ox) on may still be read
    geom = dict(in_h=8, in_w=4, in_c=4, out_h=8, out_w=4, out_c=4, k_h=3, stride_h=1, dil_h=1, pad_top=1,
                stride_w=1, pad_left=1)
    ow, c = 4, 4
    expected = max(min(oy * ow + ox + 2, 8 * ow) * c - (max(0, oy - 1) * ow + max(0, ox - 1)) * c
                   for oy in range(8) for ox in range(ow))
    assert stream_margin(geom) == expected
    assert stream_margin(geom) < 32  # finer than the two rows of the row-granular rule


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
