"""Issue 18 pieces that need no PyTorch: channels-first data moved for a channels-last model,
and the one-line error naming the extra when an optional package is missing."""

from __future__ import annotations

import numpy as np
import pytest

from mcubench.core.errors import UserError
from mcubench.models.data import Dataset
from mcubench.models.torch_onnx import require


def test_channels_last_moves_axis_one_to_the_end():
    x = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)  # N, C, H, W
    data = Dataset(x, np.array([0, 1]), x[:1], np.array([1]), name="nchw")
    moved = data.channels_last()
    assert moved.x_train.shape == (2, 4, 5, 3) and moved.x_test.shape == (1, 4, 5, 3)
    assert moved.x_train[1, 2, 3, 0] == x[1, 0, 2, 3] and moved.x_train[0, 1, 4, 2] == x[0, 2, 1, 4]
    assert data.x_train.shape == (2, 3, 4, 5)  # the source dataset is not touched


def test_missing_optional_package_names_the_extra():
    with pytest.raises(UserError) as err:
        require("mcubench_no_such_package", "model m.pt2")
    assert "mcubench_no_such_package" in err.value.message
    assert "torch extra" in err.value.hint and "\n" not in err.value.message
