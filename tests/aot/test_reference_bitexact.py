"""Every reference model, compiled ahead of time and run on the emulated Cortex-M4, gives the host
TFLM interpreter's output bytes on 30 random inputs: one build per model, the inputs uploaded
with `mcubench validate` (`input` + `invoke` commands), so the cost is QEMU time, not builds.

Random int8 inputs over the whole range reach the kernels' extremes (saturation, the fused
activation bounds, the short requantization's bounded-input proof) that the benchmark's single
fixed input may miss."""

from __future__ import annotations


import numpy as np
import pytest
from helpers import require_tool, validate_random_int8_inputs

pytestmark = pytest.mark.slow

SAMPLES = 30
REFERENCES = ("ref_dscnn", "ref_mobilenet", "ref_resnet8", "ref_autoencoder")


@pytest.fixture(scope="module", autouse=True)
def _tools():
    require_tool("qemu-system-arm")
    require_tool("arm-none-eabi-gcc")


@pytest.mark.parametrize("name", REFERENCES)
def test_reference_model_is_bit_exact_on_random_inputs_under_qemu(name, tmp_path):
    pytest.importorskip("tensorflow")
    from mcubench.models.evaluate import io_quantization
    from mcubench.recipes.reference_models import model_path

    path = model_path(name)
    (dtype, scale, zero_point), _ = io_quantization(path.read_bytes())
    assert np.dtype(dtype) == np.int8
    shape = {"ref_dscnn": (49, 10, 1), "ref_mobilenet": (96, 96, 3), "ref_resnet8": (32, 32, 3),
             "ref_autoencoder": (640,)}[name]
    validate_random_int8_inputs(path, shape, scale, zero_point, tmp_path, samples=SAMPLES, seed=17)
