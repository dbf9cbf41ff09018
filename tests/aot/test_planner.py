"""The static memory plan: no two live tensors overlap; views and in-place ops share."""

from __future__ import annotations

import pytest

from mcubench.runtimes.aot import compile_model
from mcubench.runtimes.aot.lower import Step
from mcubench.runtimes.aot.planner import plan_memory


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
