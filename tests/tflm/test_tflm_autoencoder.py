"""The reference FC autoencoder on TFLM under QEMU (needs TFLM's sources: MCUBENCH_TFLM_DIR).

Its dense weights are quantized per output channel, so every layer runs mcubench's per-channel
FULLY_CONNECTED (firmware/runtimes/tflm/mcb_fc_per_channel.cc), 1,672 output channels in all.
That kernel once took 12 bytes of persistent arena per channel (today's TFLM, which the host
figure comes from, takes 8) while holding its temp tensors: the arena planned from the host
figure ran short in the last layer's Prepare, the persistent arrays overwrote the live temp
tensors, and AllocateTensors hard-faulted in GreedyMemoryPlanner::CalculateOffsetsIfNeeded
instead of failing. One build (the kernel choice does not change this model's kernel)."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.tflm]


def test_autoencoder_allocates_in_its_planned_arena_and_equals_host(tflm_dir):
    from mcubench.bench.pipeline import run_bench
    from mcubench.bench.request import BenchRequest
    from mcubench.models.bench_input import test_input
    from mcubench.models.tflm_host import invoke
    from mcubench.recipes.reference_models import model_bytes
    from mcubench.runtimes.tflm import kernel_overrides, model_facts, tflm_workload

    model = model_bytes("ref_autoencoder")
    assert [o.op for o in kernel_overrides(model_facts(model))] == ["FULLY_CONNECTED"]
    array, raw = test_input(model)
    workload = tflm_workload(model, "ref_autoencoder", input_bytes=raw, cmsis_nn="on", tflm_dir=tflm_dir)
    outcome = run_bench(BenchRequest(workload=workload, runtime="tflm", board="mps2-an386",
                                     reference_output=lambda: np.ascontiguousarray(invoke(model, array)).tobytes()))
    result = outcome.result
    assert result["outputs_match"] is True, result["correctness"]
    assert result["correctness"]["max_abs_diff"] == 0
    memory = outcome.measurements.memory
    assert memory["arena_size"] == outcome.project.sources.facts["arena"]["bytes"]
    assert 0 < memory["arena_used"] <= memory["arena_size"]
