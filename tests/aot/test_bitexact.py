"""Bit-exactness of the generated C + kernels against the real TFLM interpreter.

Models are made by TensorFlow's converter (int8, per-channel weights); the generated C is
built for the host and fed random int8 inputs; every output byte must equal TFLM's."""

from __future__ import annotations

import aot_modelgen as modelgen
import numpy as np
import pytest
from conftest import build_host, random_inputs, tflm_outputs

from mcubench.runtimes.aot import compile_model

SEEDS = 6


def _check(name: str, all_models, tmp_path, dsp: bool = False, extra_flags: tuple[str, ...] = ()):
    model = all_models[name]
    # keep_inputs=False: later tensors may reuse the input's memory, the streaming ops write
    # over their inputs; the host writes the input before every run, as the firmware does
    project = compile_model(model, tmp_path / name, dsp=dsp, profile_ops=False, keep_inputs=False)
    host = build_host(project, tmp_path / name, extra_flags)
    rng = np.random.default_rng(sum(map(ord, name)))
    for seed in range(SEEDS):
        xs = random_inputs(project, rng)
        got = host.run(xs)
        want = tflm_outputs(model, xs)
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert g.shape == tuple(w.shape), f"{name}: output shape {g.shape}, TFLM's {tuple(w.shape)}"
            mism = np.flatnonzero(g.ravel() != w.ravel())
            assert mism.size == 0, (f"{name}: {mism.size}/{g.size} outputs differ on input {seed}, "
                                    f"first at {mism[0]}: aot={g.ravel()[mism[0]]} tflm={w.ravel()[mism[0]]}")
    return project


@pytest.mark.parametrize("name", sorted(modelgen.SINGLE_OP))
def test_single_op_bit_exact(name, all_models, tmp_path):
    _check(name, all_models, tmp_path)


@pytest.mark.parametrize("name", sorted(modelgen.MULTI_OP))
def test_multi_op_bit_exact(name, all_models, tmp_path):
    project = _check(name, all_models, tmp_path)
    assert project.total_macs > 0


@pytest.mark.parametrize("name", sorted(modelgen.MULTI_OP) + ["conv_s2_same_relu", "dw_3x3_relu", "fc_relu"])
def test_exact_requantization_path_bit_exact(name, all_models, tmp_path):
    # The kernels requantize with a short form when the compiler proves it exact (bounded
    # accumulators, right shifts of 1..22); -DMCBK_EXACT_RQ forces the long form everywhere,
    # which layers with large biases or left shifts take.
    _check(name, all_models, tmp_path, extra_flags=("-DMCBK_EXACT_RQ=1",))
