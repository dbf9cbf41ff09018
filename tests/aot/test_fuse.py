"""Residual blocks run row by row (runtimes/aot/fuse.py, firmware/kernels/mcb_fused.c): the row
schedule against a simulation of the kernel's reads and writes, the generated C against TFLM,
and the arena it buys on the reference ResNet-8."""

from __future__ import annotations

import re

import aot_modelgen as modelgen
import numpy as np
import pytest
from conftest import build_host, random_inputs, tflm_outputs
from helpers import require_tool, validate_random_int8_inputs
from mcubench.runtimes.aot import compile_model
from mcubench.runtimes.aot.fuse import row_schedule
from mcubench.runtimes.aot.lower import Step
from mcubench.runtimes.aot.planner import plan_best_order, plan_memory
from test_planner import _no_overlap


def _conv(h: int, k: int, dil: int = 1) -> dict:
    """Row geometry of a SAME, stride-1 convolution over h rows."""
    return dict(in_h=h, out_h=h, k_h=k, stride_h=1, dil_h=dil, pad_top=(k - 1) * dil // 2)


def _taps(rows, first: int, window_rows: int, pad_top: int, geom: dict) -> tuple:
    """What one output row of a convolution reads: its kernel rows, "pad" outside the window."""
    taps = []
    for ky in range(geom["k_h"]):
        iy = -pad_top + ky * geom["dil_h"]
        taps.append(rows[first + iy] if 0 <= iy < window_rows else "pad")
    return tuple(taps)


def _reference(x: list, c1: dict, c2: dict) -> list:
    """out = ADD(x, conv2(conv1(x))) layer by layer, each row a record of what it read."""
    def layer(rows, g):
        return [_taps(rows, 0, g["in_h"], g["pad_top"] - r * g["stride_h"], g) for r in range(g["out_h"])]
    z = layer(layer(x, c1), c2)
    return [(x[r], z[r]) for r in range(len(x))]


def _run_schedule(x: list, c1: dict, c2: dict, in_place: bool) -> list:
    """mcbk_residual's memory traffic, step for step, on rows: output row r goes to x's row r
    when `in_place`, so a row read after it was overwritten changes the result."""
    sched = row_schedule(c1, c2)
    buf = list(x)
    out = buf if in_place else [None] * len(x)
    slab = [None] * sched.slab_rows
    first = nxt = 0
    for r, w in enumerate(sched.out_windows):
        lo, hi = w.first, w.first + w.rows
        if lo > first:
            if nxt > lo:
                slab[:nxt - lo] = slab[lo - first:nxt - first]
            else:
                nxt = lo
            first = lo
        while nxt < hi:
            v = sched.y_windows[nxt]
            slab[nxt - first] = _taps(buf, v.first, v.rows, v.pad_top, c1)   # IndexError: slab too small
            nxt += 1
        out[r] = (buf[r], _taps(slab, 0, w.rows, w.pad_top, c2))
    return out


@pytest.mark.parametrize(("c1", "c2", "in_place"), [
    (_conv(32, 3), _conv(32, 3), True),          # ResNet's identity block
    (_conv(9, 1), _conv(9, 5), True),
    (_conv(8, 3), _conv(8, 5), True),
    (_conv(7, 5), _conv(7, 3), False),           # y row r+2 reads x row r
    (_conv(10, 3, dil=2), _conv(10, 3), False),
    (_conv(6, 3), _conv(6, 1), False),           # y row r+1 reads x row r
    (_conv(6, 1), _conv(6, 1), True),
    (_conv(2, 3), _conv(2, 3), True),
])
def test_row_schedule_reads_no_row_after_it_is_overwritten(c1, c2, in_place):
    x = list(range(100, 100 + c1["in_h"]))
    want = _reference(x, c1, c2)
    assert _run_schedule(x, c1, c2, in_place=False) == want
    sched = row_schedule(c1, c2)
    assert sched.in_place == in_place
    # the schedule claims in-place exactly when the simulation with out over x is right
    assert (_run_schedule(x, c1, c2, in_place=True) == want) == sched.in_place
    assert sched.slab_rows == min((c2["k_h"] - 1) * c2["dil_h"] + 1, c2["in_h"])


def test_memory_order_runs_the_shortcut_before_the_second_convolution():
    # ResNet's downsampling block: x -> conv1 (3x3 s2) -> a -> conv2 -> b; x -> 1x1 s2 -> c;
    # ADD(c, b). In the model's order x, a and b are live together; with the shortcut (x's last
    # reader, writing over x) run before conv2, at most x and a are.
    s2 = dict(in_h=16, in_w=16, in_c=16, out_h=8, out_w=8, out_c=32, k_h=3, stride_h=2, dil_h=1, pad_top=0,
              stride_w=2, pad_left=0)
    steps = [Step(0, "CONV_2D", [0], [1], stream=s2),
             Step(1, "CONV_2D", [1], [2], stream=dict(s2, in_h=8, in_w=8, in_c=32, stride_h=1, stride_w=1, pad_top=1,
                                                      pad_left=1)),
             Step(2, "CONV_2D", [0], [3], stream=dict(s2, k_h=1)),
             Step(3, "ADD", [3, 2], [4], in_place=[3, 2])]
    sizes = {0: 4096, 1: 2048, 2: 2048, 3: 2048, 4: 2048}
    model_order = plan_memory(steps, sizes, {0}, {4}, keep_inputs=False)
    order, plan = plan_best_order(steps, sizes, {0}, {4}, keep_inputs=False)
    assert [s.op_index for s in order] == [0, 2, 1, 3]
    # the model's order: x, a and conv2's margin; this one: x, a and the shortcut's margin
    assert model_order.arena_bytes >= 4096 + 2048 + model_order.overlaps[(1, 2)]
    assert plan.arena_bytes <= 4096 + 2048 + plan.overlaps[(0, 3)] < model_order.arena_bytes
    _no_overlap(plan, order, sizes)
    # a graph with one order keeps it
    chain = steps[:2]
    assert plan_best_order(chain, {0: 4096, 1: 2048, 2: 2048}, {0}, {2}, keep_inputs=False)[0] == chain


def test_a_workspace_lives_during_its_step_only():
    steps = [Step(0, "CONV_2D", [0], [1]), Step(1, "FUSED", [1], [2], workspace=96, in_place=[1]),
             Step(2, "CONV_2D", [2], [3])]
    sizes = {0: 64, 1: 64, 2: 64, 3: 64}
    plan = plan_memory(steps, sizes, {0}, {3}, keep_inputs=False)
    ws = plan.workspace[1]
    assert plan.offsets[1] == plan.offsets[2]
    assert ws >= plan.offsets[1] + 64 or ws + 96 <= plan.offsets[1]
    assert plan.arena_bytes == 64 + 96  # it may reuse what the first and last tensors take


@pytest.fixture(scope="module")
def fused_models():
    import importlib.util

    if importlib.util.find_spec("tensorflow") is None:
        pytest.skip("TensorFlow is not installed (pip install -e .[ml])")
    return modelgen.models(modelgen.FUSED)


def _block_call(source: str) -> tuple[int, int]:
    """(input offset, output offset) of the fused block's call in model.c."""
    m = re.search(r"mcbk_residual\(&\w+, \(\(int8_t \*\)\(mcb_arena \+ (\d+)\)\), \(\(int8_t \*\)\(mcb_arena \+ (\d+)\)\)",
                  source)
    assert m, "the residual block was not fused"
    return int(m.group(1)), int(m.group(2))


@pytest.mark.parametrize("name", sorted(modelgen.FUSED))
@pytest.mark.parametrize("exact_rq", [False, True], ids=["short-rq", "exact-rq"])
def test_fused_block_is_bit_exact(name, exact_rq, fused_models, tmp_path):
    model = fused_models[name]
    project = compile_model(model, tmp_path, dsp=False, profile_ops=False, keep_inputs=False)
    source = (tmp_path / "model.c").read_text()
    x_at, out_at = _block_call(source)
    assert (x_at == out_at) == (name != "residual_5x5_first" and name != "residual_dilated")
    if name == "residual_sparse":
        assert "mcbk_sparse_conv_rows" in source
    host = build_host(project, tmp_path, ("-DMCBK_EXACT_RQ=1",) if exact_rq else ())
    rng = np.random.default_rng(sum(map(ord, name)))
    for _ in range(4):
        xs = random_inputs(project, rng)
        (got,), want = host.run(xs), tflm_outputs(model, xs)
        assert np.array_equal(got.ravel(), np.asarray(want[0]).ravel()), f"{name}: fused block differs from TFLM"


def test_reference_resnet8_arena_is_at_most_half_of_tflm(tmp_path):
    pytest.importorskip("tensorflow")
    from mcubench.models.tflm_host import exact_arena
    from mcubench.recipes.reference_models import model_path

    model = model_path("ref_resnet8").read_bytes()
    project = compile_model(model, tmp_path, dsp=True, profile_ops=False, keep_inputs=False)
    assert [o.opcode for o in project.ops].count("CONV_2D+CONV_2D+ADD") == 1  # the identity block
    assert project.arena_bytes <= 0.5 * exact_arena(model).exact_bytes
    # no model operator is run by two steps; the fused one runs its three
    sources = [k for o in project.ops for k in o.sources]
    assert len(sources) == len(set(sources))
    (fused,) = [o for o in project.ops if o.opcode == "CONV_2D+CONV_2D+ADD"]
    assert len(fused.sources) == 3 and fused.index == fused.sources[-1]
    # the block's slab and row buffer overlap no tensor live at the same time
    for w in (b for b in project.plan.buffers if b.tensors[0] < 0):
        for o in project.plan.buffers:
            if o is not w and not (o.last < w.first or w.last < o.first):
                assert o.offset + o.size <= w.offset or w.offset + w.size <= o.offset


@pytest.mark.slow
@pytest.mark.parametrize("name", ["residual_sparse", "residual_dilated"])
def test_fused_block_is_bit_exact_on_qemu(name, fused_models, tmp_path):
    # the DSP kernels on row windows (the block-sparse one; dilated rows with out beside x)
    from mcubench.models.evaluate import io_quantization

    require_tool("qemu-system-arm")
    require_tool("arm-none-eabi-gcc")
    model = fused_models[name]
    path = tmp_path / f"{name}.tflite"
    path.write_bytes(model)
    (_, scale, zero_point), _ = io_quantization(model)
    validate_random_int8_inputs(path, modelgen.FUSED[name]["inputs"][0], scale, zero_point, tmp_path, seed=7)


def test_per_operator_table_sets_a_fused_step_against_the_sum_of_its_tflm_operators():
    from mcubench.commands.aot_bench import AotBenchRow, TflmFigures, format_ops

    tflm = TflmFigures(instructions=1, estimated_cycles={}, model_version="m", flash_bytes=0, model_bytes=0,
                       runtime_bytes=0, outputs_match=True,
                       ops=[{"index": k, "name": "X", "estimated_cycles": 1000 * (k + 1)} for k in range(4)])
    row = AotBenchRow(model="m", kernels="dsp", macs=1, instructions=1, instr_per_mac=1.0, arena_bytes=1,
                      tflm_arena_bytes=1, arena_ratio=1.0, weight_bytes=0, aot_code_bytes=0, flash_bytes=0,
                      outputs_match=True, tflm=tflm,
                      ops=[{"index": 0, "name": "CONV_2D", "macs": 10, "sources": [0], "instructions": 5,
                            "estimated_cycles": 7},
                           {"index": 1, "name": "CONV_2D+CONV_2D+ADD", "macs": 10, "sources": [1, 2, 3],
                            "instructions": 5, "estimated_cycles": 7}])
    lines = format_ops(row).splitlines()
    assert lines[2].split()[-2] == "1,000"
    assert lines[3].split()[-2] == "9,000"  # 2,000 + 3,000 + 4,000
