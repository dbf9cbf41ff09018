"""The real TFLM interpreter on the host: exact arena and invoke (no TensorFlow needed)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from mcubench.core.errors import UserError
from mcubench.models import tflm_host
from mcubench.models.tflite_file import parse_tflite


@pytest.fixture(scope="module")
def sine_bytes() -> bytes:
    from tflite_micro.python.tflite_micro import runtime

    return (Path(runtime.__file__).parent / "sine_float.tflite").read_bytes()


def test_exact_arena_is_smallest_and_repeatable(sine_bytes):
    info = tflm_host.exact_arena(sine_bytes)
    assert info.exact_bytes > 0
    assert tflm_host.allocates(sine_bytes, info.exact_bytes)
    assert not tflm_host.allocates(sine_bytes, info.exact_bytes - 1)
    assert tflm_host.exact_arena(sine_bytes).exact_bytes == info.exact_bytes
    assert info.head_bytes is not None and info.tail_bytes is not None
    assert info.budget_32bit_bytes >= info.exact_bytes + tflm_host.ARENA_MARGIN_MIN_BYTES
    assert info.budget_32bit_bytes % 16 == 0


def test_invoke_runs_a_batch(sine_bytes):
    x = np.array([[0.5], [1.5], [3.0]], dtype=np.float32)
    y = tflm_host.invoke(sine_bytes, x)
    assert y.shape == (3, 1)
    assert np.allclose(y[:, 0], np.sin(x[:, 0]), atol=0.25)
    single = tflm_host.invoke(sine_bytes, np.array([1.5], dtype=np.float32))
    assert single.shape == (1, 1) and math.isclose(float(single[0, 0]), float(y[1, 0]), rel_tol=1e-6)


@pytest.mark.parametrize("cut", [0.5, 0.9])
def test_truncated_tflite_is_a_user_error(sine_bytes, cut):
    with pytest.raises(UserError, match="broken.tflite"):
        parse_tflite(sine_bytes[: int(len(sine_bytes) * cut)], "broken.tflite")


def test_not_a_tflite_is_a_user_error():
    with pytest.raises(UserError, match="junk.tflite is not a TFLite flatbuffer"):
        tflm_host.exact_arena(b"hello world, not a model", source="junk.tflite")
