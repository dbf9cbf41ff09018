"""Issue 15: a structurally damaged .tflite is refused with one UserError line by every
consumer, before anything compiles, converts, builds or runs it (before the fix, a model
without operators compiled to an empty graph that bench measured, a short weight buffer ran
in TFLM reading past it, and a huge shape crashed the host TFLM interpreter)."""

from __future__ import annotations

import numpy as np
import pytest

import damage
from mcubench.cli import main
from mcubench.core.errors import UserError
from mcubench.models.tflite_file import parse_tflite, validate_tflite

BASE = "tiny_cnn"


def _consumers():
    from mcubench.models import analysis, tflm_host
    from mcubench.models.bench_input import test_input
    from mcubench.runtimes import tflm
    from mcubench.runtimes.aot import check_supported, compile_model

    return {
        "validate": lambda b, tmp: validate_tflite(b, "m.tflite"),
        "analyze": lambda b, tmp: analysis.analyze(b, None, source="m.tflite", run_micro=False),
        "aot_check": lambda b, tmp: check_supported(b),
        "aot_compile": lambda b, tmp: compile_model(b, tmp / "aot"),
        "tflm_render_facts": lambda b, tmp: tflm.model_facts(b, "m.tflite"),
        "tflm_host_invoke": lambda b, tmp: tflm_host.invoke(b, np.zeros((1, 16, 16, 3), np.int8)),
        "bench_test_input": lambda b, tmp: test_input(b),
    }


@pytest.mark.parametrize("fault", list(damage.FAULTS), ids=lambda f: f.__name__)
def test_every_consumer_refuses_a_damaged_model(fault, all_models, tmp_path):
    bad = damage.edit_model(all_models[BASE], fault)
    for name, consume in _consumers().items():
        with pytest.raises(UserError, match=damage.FAULTS[fault]) as err:
            consume(bad, tmp_path)
        assert "\n" not in err.value.message and err.value.hint, name


@pytest.mark.parametrize("command", [["bench", "{p}", "--runtime", "aot"], ["bench", "{p}", "--runtime", "tflm"],
                                     ["analyze", "--model", "{p}"], ["render", "--model", "{p}", "--runtime", "aot", "--out", "{p}.d"], ["validate", "{p}", "--runtime", "aot"]])
def test_cli_refuses_a_model_without_operators(command, all_models, tmp_path, capsys):
    path = tmp_path / "empty.tflite"
    path.write_bytes(damage.edit_model(all_models[BASE], damage.no_operators))
    assert main([c.format(p=path) for c in command]) == 2
    err = capsys.readouterr().err
    assert "main subgraph has no operators" in err and "hint:" in err and "Traceback" not in err


def test_repacking_alone_changes_nothing(all_models, tmp_path):
    # the damage helper itself must not be what the checks object to
    same = damage.edit_model(all_models[BASE], lambda m: None)
    repacked, original = parse_tflite(same), parse_tflite(all_models[BASE])
    assert repacked.ops == original.ops and repacked.tensors == original.tensors


def test_optional_inputs_may_be_minus_one(all_models):
    def drop_bias(m):
        for op in m.subgraphs[0].operators:
            if len(op.inputs) == 3:  # conv/FC: input, weights, bias
                op.inputs[2] = -1
                return
        raise AssertionError("no operator with a bias")

    model = parse_tflite(damage.edit_model(all_models[BASE], drop_bias))
    assert any(op.inputs[-1] == -1 for op in model.ops)


def test_non_utf8_tensor_names_are_decoded_with_replacement(all_models, tmp_path):
    from mcubench.models.analysis import analyze
    from mcubench.runtimes.aot import compile_model

    bad = damage.edit_model(all_models[BASE], damage.non_utf8_names)
    result = analyze(bad, None, source="m.tflite", run_micro=False)
    assert result.inputs[0]["name"].startswith("\ufffd\ufffd")
    project = compile_model(bad, tmp_path / "aot")
    assert project.inputs[0].name.startswith("\ufffd\ufffd") and project.ops


def test_padding_beyond_tflm_16_bit_range_is_refused(all_models, tmp_path):
    # Found by test_fuzz: a flipped bit made a 3-wide pooling window 131075 wide; TFLM keeps
    # the resulting padding (65537) in int16 and averages other windows than the AOT kernel.
    from mcubench.runtimes.aot import compile_model

    def widen(m):
        m.subgraphs[0].operators[0].builtinOptions.filterWidth = 131075

    with pytest.raises(UserError, match="exceeds TFLM's 16-bit range"):
        compile_model(damage.edit_model(all_models["avgpool_3_s2_same"], widen), tmp_path)


def test_depth_multiplier_option_must_match_the_channels(all_models, tmp_path):
    # Found by test_fuzz: a flipped bit set depthMultiplier 65 on an 8-to-8-channel depthwise
    # convolution; TFLM loops over the option, the AOT kernels over the channels.
    from mcubench.runtimes.aot import compile_model

    def multiply(m):
        m.subgraphs[0].operators[0].builtinOptions.depthMultiplier = 65

    with pytest.raises(UserError, match="depth multiplier 65 does not match 8 input and 8 output channels"):
        compile_model(damage.edit_model(all_models["dw_3x3_relu"], multiply), tmp_path)


def test_element_wise_output_must_have_the_input_size(all_models, tmp_path):
    # Found by test_fuzz: a flipped bit made LOGISTIC's output 4x1028x3 for a 4x4x3 input;
    # TFLM writes 48 bytes and leaves the rest of the output as the arena had it.
    from mcubench.runtimes.aot import compile_model

    def widen(m):
        sg = m.subgraphs[0]
        sg.tensors[sg.outputs[0]].shape[2] = 1028

    with pytest.raises(UserError, match=r"input shape \[1, 4, 4, 3\] and output shape \[1, 4, 1028, 3\] differ"):
        compile_model(damage.edit_model(all_models["logistic"], widen), tmp_path)
