"""The rendered TFLM firmware built for the emulated board and run under QEMU (needs TFLM's
sources: MCUBENCH_TFLM_DIR). One build per kernel choice per session, reused by every test."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.tflm]

KERNELS = ("on", "off")


@pytest.fixture(scope="session")
def outcomes(tflm_dir, example_variants):
    """digits int8 benchmarked on QEMU with CMSIS-NN and with reference kernels."""
    from mcubench.bench.pipeline import run_bench
    from mcubench.bench.request import BenchRequest
    from mcubench.models.bench_input import test_input
    from mcubench.models.tflm_host import invoke
    from mcubench.runtimes.tflm import tflm_workload

    model = example_variants[("digits", "int8")][0]
    array, raw = test_input(model)
    results = {}
    for kernels in KERNELS:
        workload = tflm_workload(model, f"digits_int8_cmsis_{kernels}", input_bytes=raw, cmsis_nn=kernels, tflm_dir=tflm_dir)
        request = BenchRequest(workload=workload, runtime="tflm", board="mps2-an386",
                               reference_output=lambda: np.ascontiguousarray(invoke(model, array)).tobytes())
        results[kernels] = run_bench(request)
    return results


@pytest.mark.parametrize("kernels", KERNELS)
def test_outputs_equal_host_tflm_bit_for_bit(outcomes, kernels):
    outcome = outcomes[kernels]
    result = outcome.result
    assert result["outputs_match"] is True, result["correctness"]
    assert result["correctness"]["max_abs_diff"] == 0
    assert outcome.measurements.params["kernels"] == ("cmsis_nn" if kernels == "on" else "reference")


@pytest.mark.parametrize("kernels", KERNELS)
def test_per_op_profile_and_arena(outcomes, kernels):
    from mcubench.runtimes.tflm import model_facts

    outcome = outcomes[kernels]
    m = outcome.measurements
    facts = model_facts(outcome.project.workload.model_bytes)
    assert [op["name"] for op in m.ops] == list(facts.op_names)
    assert all(op["value"] > 0 for op in m.ops)
    # the ops account for most of a run (the rest: input copy and interpreter bookkeeping)
    assert 0.7 * m.latency.median < sum(op["value"] for op in m.ops) <= m.latency.median
    arena = outcome.project.sources.facts["arena"]
    assert m.memory["arena_size"] == arena["bytes"]
    assert 0 < m.memory["arena_used"] <= m.memory["arena_size"]
    assert m.hello["runtime"] == "tflm" and m.hello["workload"] == "tflm:digits_int8_cmsis_" + kernels


def test_cmsis_nn_is_faster_than_reference(outcomes):
    assert outcomes["on"].measurements.latency.median < outcomes["off"].measurements.latency.median
    assert outcomes["on"].measurements.output == outcomes["off"].measurements.output


def test_on_device_validation_session(outcomes, example_variants):
    """Upload dataset samples with `input`, run them with `invoke`: outputs equal the host's."""
    from mcubench.commands.validate import _open_session, score
    from mcubench.core.types import RunOptions
    from mcubench.models.evaluate import io_quantization, quantize_input
    from mcubench.models.tflm_host import invoke

    model, dataset, _ = example_variants[("digits", "int8")]
    (dtype, scale, zp), _ = io_quantization(model)
    q = quantize_input(dataset.x_test[:4], dtype, scale, zp)
    host = invoke(model, q)
    raw = _open_session(outcomes["on"].image, "qemu", RunOptions(timeout=60), [s.tobytes() for s in q])
    device = [np.frombuffer(b, dtype=host.dtype).reshape(host.shape[1:]) for b in raw]
    v = score(device, list(host), np.asarray(dataset.y_test[:4]), True)
    assert v.bit_exact == 4 and v.top1_agreement == 1.0
    assert v.on_device_accuracy == v.host_accuracy


def test_main_job_measures_tflm_beside_aot(tflm_dir):
    """`bench` with no arguments and TFLM's sources configured: the same model on TFLM, side by side."""
    from helpers import mcubench

    shown = mcubench("bench", env={"MCUBENCH_TFLM_DIR": str(tflm_dir), "COLUMNS": "120"}, check=True, timeout=1800).stdout
    table = shown[shown.index("kws_dscnn: aot beside tflm"):]
    rows = {line.split("│")[1].strip(): [c.strip() for c in line.split("│")[2:5]] for line in table.splitlines() if line.startswith("│")}
    aot, tflm, ratio = rows["instructions per run (emulated)"]
    assert int(aot.replace(",", "")) > 0 and int(tflm.replace(",", "")) > 0
    assert float(ratio) == pytest.approx(int(aot.replace(",", "")) / int(tflm.replace(",", "")), abs=0.006)
    assert rows["outputs match host TFLM"][:2] == ["yes", "yes"]
    assert "estimated cycles per run (nano33ble)" in rows
