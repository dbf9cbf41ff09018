"""What the AOT compiler refuses, and how it says so."""

from __future__ import annotations

import pytest

from mcubench.core.errors import UserError
from mcubench.runtimes.aot import check_supported, compile_model


def test_unsupported_op_is_named_with_index_and_hint(all_models, tmp_path):
    model = all_models["conv_then_tanh"]
    with pytest.raises(UserError) as err:
        check_supported(model)
    msg = str(err.value)
    assert "operator #1 TANH" in msg and "not implemented" in msg
    assert "--runtime tflm" in err.value.hint
    with pytest.raises(UserError):
        compile_model(model, tmp_path / "x", dsp=False, profile_ops=False)
    assert not (tmp_path / "x" / "model.c").exists()


def test_supported_model_passes(all_models):
    check_supported(all_models["tiny_dscnn"])


@pytest.mark.parametrize("data", [b"", b"not a model at all", b"\x00\x00\x00\x00TFL3garbage"])
def test_not_a_model(data):
    with pytest.raises(UserError):
        check_supported(data)


def test_float_model_is_refused_with_reason():
    from pathlib import Path

    import tflite_micro

    sine = Path(tflite_micro.__file__).parent / "python" / "tflite_micro" / "sine_float.tflite"
    with pytest.raises(UserError) as err:
        check_supported(sine.read_bytes())
    assert "operator #0 FULLY_CONNECTED" in str(err.value) and "float32" in str(err.value)
