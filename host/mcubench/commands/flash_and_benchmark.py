"""`mcubench flash-and-benchmark MODEL`: `bench --board nano33ble --runtime tflm` in one word.

A Keras model is quantized to int8 first (with --data or the model's example data); the model
is refused before anything is built when it cannot fit the board (analysis figures); then
render → build → upload → collect, and the result JSON + table as `bench` prints them.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mcubench.commands import bench
from mcubench.commands.options import add_run_options, add_runtime_options
from mcubench.core.errors import UserError
from mcubench.core.fileio import write_bytes_atomic
from mcubench.models.data import load_dataset
from mcubench.models.load import load_model
from mcubench.recipes import get_recipe


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("flash-and-benchmark", help="flash a model's TFLM firmware to a Nano 33 BLE and measure it (bench --board nano33ble)")
    p.add_argument("model", type=Path, help=".tflite, or a Keras model (.keras/.h5) quantized to int8 first")
    p.add_argument("--data", help="calibration data for a Keras model (.npz/.npy or module:function)")
    add_run_options(p)
    p.set_defaults(board="nano33ble")
    add_runtime_options(p)
    p.add_argument("--json", action="store_true", help="print the result record as JSON on stdout")
    p.add_argument("--out", type=Path, help="write the result JSON here (default results/runs/<id>.json)")
    p.add_argument("--transcript", type=Path, help="save the raw serial log here")
    p.set_defaults(func=run)
    return p


def model_to_tflite(path: Path, data: str | None) -> Path:
    """A .tflite as is; a Keras model quantized to full int8 next to itself."""
    if path.suffix.lower() == ".tflite":
        return path
    if path.suffix.lower() not in (".keras", ".h5") and not path.is_dir():
        raise UserError(f"{path}: not a .tflite or Keras model", "give a .tflite, .keras, .h5 or SavedModel directory")

    if not data:
        raise UserError(f"quantizing {path} to int8 needs calibration data", "pass --data data.npz (x_train) or use mcubench quantize")
    variant = get_recipe("int8").apply(load_model(str(path)), load_dataset(data), {})
    out = path.with_name(path.stem + "_int8.tflite")
    write_bytes_atomic(out, variant.tflite_bytes)
    print(f"quantized {path} to {out}")
    return out


def run(args: argparse.Namespace) -> int:
    # The same job as `bench MODEL --board nano33ble --runtime tflm`: bench refuses a model
    # that cannot fit before building, then flashes, collects and reports.
    args.model = str(model_to_tflite(args.model, args.data))
    args.runtime = "tflm"
    args.workload, args.param, args.csv = "dot_int8", [], False
    return bench.run(args)
