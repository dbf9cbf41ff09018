"""Issue 3 bad input and CLI contract: one-line UserErrors, no complete-looking partial output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mcubench.cli import main
from mcubench.core.errors import UserError
from mcubench.models.data import Dataset, from_arrays, load_dataset

MCUBENCH = [sys.executable, "-m", "mcubench.cli"]


def test_unknown_recipe_is_named(tmp_path, capsys):
    code = main(["quantize", "--example", "digits", "--recipes", "int8,int3", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and "unknown recipe 'int3'" in err and "choose from" in err
    assert not (tmp_path / "o").exists()


def test_registry_has_the_promised_recipes():
    from mcubench.recipes import RECIPES

    assert {"float32", "int8", "int16x8", "float16", "dynamic", "qat_int8", "prune_constant", "prune_polynomial", "distill"} <= set(RECIPES)


def test_unknown_recipe_parameter():
    from mcubench.recipes import get_recipe

    with pytest.raises(UserError, match="unknown parameter 'sparsityy'"):
        get_recipe("prune_constant").merged_params({"sparsityy": 0.5})


def test_corrupt_tflite_via_cli(tmp_path, capsys):
    bad = tmp_path / "broken.tflite"
    bad.write_bytes(b"\x00" * 4 + b"TFL3" + b"\xff" * 40)
    assert main(["analyze", "--model", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "broken.tflite" in err and "hint:" in err


def test_missing_dataset_file(tmp_path):
    with pytest.raises(UserError, match="nope.npz does not exist"):
        load_dataset(tmp_path / "nope.npz")


def test_npz_dataset_round_trip(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, x=np.zeros((10, 3), np.float32), y=np.arange(10))
    ds = load_dataset(path)
    assert len(ds.x_train) == 8 and len(ds.x_test) == 2 and ds.task == "classification"


@pytest.mark.slow
def test_dataset_shape_mismatch_is_named(digits):
    from mcubench.recipes import get_recipe

    wrong = Dataset(np.zeros((4, 5, 5, 1)), np.zeros(4, np.int64), np.zeros((2, 5, 5, 1)), np.zeros(2, np.int64), name="wrong.npz")
    with pytest.raises(UserError, match=r"wrong.npz: x_train samples have shape \(5, 5, 1\) but .* expects \(8, 8, 1\)"):
        get_recipe("int8").apply(digits.model, wrong, {})


@pytest.mark.slow
def test_empty_representative_set(digits):
    from mcubench.recipes import get_recipe

    empty = Dataset(np.zeros((0, 8, 8, 1)), np.zeros(0, np.int64), np.zeros((0, 8, 8, 1)), None, name="empty.npz")
    with pytest.raises(UserError, match="empty.npz: the representative set is empty"):
        get_recipe("int8").apply(digits.model, empty, {})
    with pytest.raises(UserError, match="needs a representative dataset"):
        get_recipe("int16x8").apply(digits.model, None, {})


@pytest.mark.slow
def test_failed_run_leaves_no_output_dir(digits, tmp_path, capsys):
    digits.model.save(tmp_path / "digits.keras")
    np.savez(tmp_path / "bad.npz", x_train=np.zeros((4, 3, 3)), y_train=np.zeros(4, np.int64), x_test=np.zeros((2, 3, 3)), y_test=np.zeros(2, np.int64))
    out = tmp_path / "out"
    code = main(["quantize", "--model", str(tmp_path / "digits.keras"), "--data", str(tmp_path / "bad.npz"), "--recipes", "int8", "--out", str(out)])
    assert code == 2 and "bad.npz" in capsys.readouterr().err
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.partial")]


@pytest.mark.slow
def test_quantize_cli_json_contract(digits, tmp_path):
    out = tmp_path / "q"
    proc = subprocess.run(
        [*MCUBENCH, "quantize", "--example", "digits", "--recipes", "int8,float16,dynamic", "--out", str(out), "--json"],
        capture_output=True, text=True, timeout=600, env=dict(os.environ),
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads(proc.stdout)  # stdout is only JSON
    recipes = [v["recipe"] for v in summary["variants"]]
    assert recipes == ["float32", "int8", "float16", "dynamic"]
    assert all(isinstance(v["accuracy"], float) for v in summary["variants"])
    assert json.loads((out / "summary.json").read_text()) == summary
    assert {p.name for p in out.glob("*.tflite")} == {"float32.tflite", "int8.tflite", "float16.tflite", "dynamic.tflite"}
    # a second run into the same directory is refused unless --force
    again = subprocess.run([*MCUBENCH, "quantize", "--example", "digits", "--recipes", "int8", "--out", str(out)], capture_output=True, text=True, timeout=600)
    assert again.returncode == 2 and "already exists" in again.stderr


def test_a_test_set_alone_is_a_dataset_and_calibration_says_what_is_missing():
    x = np.zeros((5, 8, 8, 1), np.float32)
    data = from_arrays({"x_test": x, "y_test": np.arange(5)}, "t.npz")
    assert len(data.x_test) == 5 and len(data.x_train) == 0 and data.task == "classification"
    with pytest.raises(UserError, match="x_train"):
        data.representative()
    with pytest.raises(UserError, match=r"it has: images, labels\); mcubench reads x_train"):
        from_arrays({"images": x, "labels": np.arange(5)}, "t.npz")


@pytest.mark.slow
def test_a_model_that_cannot_be_cloned_converts_with_a_warning():
    # A subclassed Keras model has no functional graph to clone with batch size 1; the
    # converter takes it as it is, and the user is told why Reshape may become dynamic.
    from mcubench.models import tf as tfmod
    from mcubench.recipes import get_recipe

    keras = tfmod.keras3()

    class Tiny(keras.Model):
        def __init__(self):
            super().__init__(name="tiny_subclassed")
            self.dense = keras.layers.Dense(3)

        def call(self, x):
            return self.dense(x)

    model = Tiny()
    model(np.zeros((1, 4), np.float32))
    with pytest.warns(UserWarning, match=r"could not clone model tiny_subclassed with batch size 1 \(\w+Error"):
        variant = get_recipe("float32").apply(model, None, {})
    assert variant.tflite_bytes[4:8] == b"TFL3"


@pytest.mark.slow
def test_a_savedmodel_keras_cannot_restore_loads_with_a_warning(tmp_path):
    # A TF1-style SavedModel has no Keras object graph: it is still converted, as a plain
    # SavedModel, and the user learns that the training recipes will not take it.
    import tensorflow as tf

    from mcubench.models.load import load_model

    path = tmp_path / "tf1"
    graph = tf.Graph()
    with graph.as_default(), tf.compat.v1.Session(graph=graph) as sess:
        x = tf.compat.v1.placeholder(tf.float32, [1, 4], name="x")
        y = tf.identity(x * 2.0, name="y")
        builder = tf.compat.v1.saved_model.Builder(str(path))
        builder.add_meta_graph_and_variables(sess, ["serve"], signature_def_map={
            "serving_default": tf.compat.v1.saved_model.predict_signature_def({"x": x}, {"y": y})})
        builder.save()
    with pytest.warns(UserWarning, match="loads as a plain SavedModel, not a Keras model"):
        source = load_model(path)
    assert source.kind == "saved_model" and source.keras_model is None


def test_analyze_takes_the_model_as_an_argument_and_says_which_runtimes_run_it(digits_variants, tmp_path, capsys):
    """Issue #16: analyze took the model only as --model and reported TFLM alone."""
    int8, float32 = tmp_path / "int8.tflite", tmp_path / "float32.tflite"
    int8.write_bytes(digits_variants["int8"][0].tflite_bytes)
    float32.write_bytes(digits_variants["float32"][0].tflite_bytes)
    assert main(["analyze", str(int8), "--no-micro", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["runtimes"] == {"aot": None, "tflm": None}
    assert main(["analyze", "--model", str(float32), "--no-micro", "--json"]) == 0
    support = json.loads(capsys.readouterr().out)["runtimes"]
    assert support["aot"] is not None and "AOT" in support["aot"]  # the AOT kernels are int8 only
    assert main(["analyze", str(int8), "--model", str(int8)]) == 2
    assert "analyze takes one model" in capsys.readouterr().err


@pytest.mark.parametrize("argv, needle", [
    (["quantize", "--model", "m.onnx", "--framework", "torch"], "--framework torch applies to --example"),
    (["prune", "--example", "digits", "--study", "--framework", "torch"], "the pruning study runs the Keras examples"),
    (["prune", "--example", "digits", "--study", "--begin-end=-1:3"], "END > BEGIN >= 0"),
    (["prune", "--example", "digits", "--study", "--estimate", "nope"], "no cycle-estimate assumptions for board `nope`"),
])
def test_contradictory_options_are_refused_in_one_line_before_any_work(argv, needle, tmp_path, capsys):
    """Options that would be silently ignored, or would fail in every job of a study, are refused first."""
    out = tmp_path / "out"
    assert main([*argv, "--out", str(out)]) == 2
    assert needle in capsys.readouterr().err
    assert not out.exists()
