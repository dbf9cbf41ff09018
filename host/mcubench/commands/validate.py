"""`mcubench validate`: on-device accuracy and agreement with the host TFLM interpreter.

The host builds the model's TFLM firmware, then for each of K test samples uploads the
quantized input with `input` commands, runs it with `invoke` and reads the output back (the way
STM32Cube.AI's validate and MLPerf Tiny's accuracy mode work). It reports on-device accuracy
(classification) and how many outputs equal the host TFLM interpreter's bit for bit.

    mcubench validate --example digits --samples 20               # emulated board (QEMU)
    mcubench validate model.tflite --data d.npz --board nano33ble  # a real board
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from mcubench.bench.build import build
from mcubench.bench.collect import _assemble_output
from mcubench.bench.render import render_project
from mcubench.commands.options import add_runtime_options, add_target_options, runtime_options, target_options
from mcubench.core.boards import load_board
from mcubench.core.errors import UserError
from mcubench.core.fileio import write_json_atomic
from mcubench.core.types import Image, RunOptions, WorkloadSpec
from mcubench.link.runlog import RunLog
from mcubench.link.transport import SerialLink
from mcubench.models import tflm_host
from mcubench.models.bench_input import read_tflite
from mcubench.models.data import load_dataset
from mcubench.models.evaluate import io_quantization, quantize_input
from mcubench.models.tflite_file import parse_tflite
from mcubench.recipes.variants import example_variant
from mcubench.runtimes import default_model_runtime, get_runtime, model_runtimes
from mcubench.targets import get_target
from mcubench.targets.base import Capability

# Input bytes per `input` command: 2 hex digits per byte keeps a record well under 512 bytes.
INPUT_CHUNK = 192


@dataclass
class Validation:
    samples: int
    on_device_accuracy: float | None
    host_accuracy: float | None
    bit_exact: int
    top1_agreement: float | None
    max_abs_diff: int
    per_sample: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def upload_and_invoke(link: SerialLink, data: bytes, timeout: float = 30.0) -> bytes:
    """One sample: write the input tensor in chunks, invoke, read the output back."""

    for off in range(0, len(data), INPUT_CHUNK):
        link.command("input", off=off, hex=data[off : off + INPUT_CHUNK].hex().upper())
        link.collect(until=("done",), timeout=timeout)
    mark = len(link.records)
    link.command("invoke")
    link.collect(until=("done",), timeout=timeout)
    records = link.records[mark:]
    log = RunLog(records, "validate", None, link.name, "", "", 1.0, link.decoder.stats)
    out = _assemble_output(log)
    if out is None:
        raise UserError(f"{link.name}: `invoke` returned no output", "is this a model workload image?")
    return out


def validation_session(link: SerialLink, inputs: list[bytes], timeout: float, progress: Callable[[int], None] | None = None) -> list[bytes]:
    """Waits for the boot benchmark to finish, then runs every input through the device."""
    link.collect(until=("ready",), timeout=timeout)
    outputs = []
    for i, data in enumerate(inputs):
        outputs.append(upload_and_invoke(link, data))
        if progress:
            progress(i)
    return outputs


def score(device: list[np.ndarray], host: list[np.ndarray], labels: np.ndarray | None, classification: bool) -> Validation:
    exact = sum(1 for d, h in zip(device, host) if np.array_equal(d, h))
    diffs = [int(np.max(np.abs(d.astype(np.int64) - h.astype(np.int64)))) if d.size else 0 for d, h in zip(device, host)]
    dev_acc = host_acc = agree = None
    per = []
    for i, (d, h) in enumerate(zip(device, host)):
        row: dict[str, Any] = {"index": i, "bit_exact": bool(np.array_equal(d, h)), "max_abs_diff": diffs[i]}
        if classification:
            row["device_class"], row["host_class"] = int(np.argmax(d)), int(np.argmax(h))
            if labels is not None:
                row["label"] = int(labels[i])
        per.append(row)
    if classification:
        agree = float(np.mean([r["device_class"] == r["host_class"] for r in per])) if per else None
        if labels is not None and per:
            dev_acc = float(np.mean([r["device_class"] == r["label"] for r in per]))
            host_acc = float(np.mean([r["host_class"] == r["label"] for r in per]))
    return Validation(len(device), dev_acc, host_acc, exact, agree, max(diffs, default=0), per)


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("validate", help="upload K test inputs to the device, compare outputs with labels and the host TFLM interpreter")
    p.add_argument("model", nargs="?", type=Path, help="a .tflite model (or use --example)")
    p.add_argument("--example", help="a built-in example (digits, sine, kws_dscnn) quantized with --recipe")
    p.add_argument("--recipe", default="int8")
    p.add_argument("--runtime", choices=model_runtimes(), default=None,
                   help="runtime on the device (default: tflm with TFLM sources or on an Arduino board, else aot)")
    p.add_argument("--data", help="dataset with x_test/y_test (.npz or module:function); default: the example's")
    p.add_argument("--samples", "-k", type=int, default=20, help="test samples to run on the device (default 20)")
    p.add_argument("--board", default="mps2-an386", help="board (default mps2-an386, emulated)")
    p.add_argument("--target", default=None, help="target (default: the board's own)")
    p.add_argument("--port", help="hardware: serial port (default: find the board by USB ID)")
    p.add_argument("--timeout", type=float, default=120.0)
    p.add_argument("--out", type=Path, help="write the validation JSON here")
    p.add_argument("--json", action="store_true")
    add_runtime_options(p)
    add_target_options(p)
    p.set_defaults(func=run)
    return p


def _open_session(image: Image, target_name: str, options: RunOptions, inputs: list[bytes]) -> list[bytes]:
    """Runs the validation session on the chosen target, always stopping what it started."""
    target = get_target(target_name)
    target.require(Capability.INPUT_UPLOAD, "upload inputs to the device (validate)")
    with target.session(image, options) as session:
        return validation_session(session.link, inputs, options.timeout)


def run(args: argparse.Namespace) -> int:
    if (args.model is None) == (args.example is None):
        raise UserError("give a model file or --example", "e.g. mcubench validate --example digits")
    if args.samples < 1:
        raise UserError("--samples must be at least 1", "e.g. --samples 20")
    dataset = None
    if args.example:
        model_bytes, dataset = example_variant(args.example, args.recipe)
        name = f"{args.example}_{args.recipe}"
    else:
        model_bytes, name = read_tflite(args.model), args.model.stem
    if args.data:
        dataset = load_dataset(args.data)
    if dataset is None:
        raise UserError("validation needs test data", "pass --data data.npz with x_test (and y_test for accuracy)")
    # Channels-first data (PyTorch/ONNX) is moved for a .tflite made from such a model.
    dataset = dataset.for_model(parse_tflite(model_bytes, name), what=name)
    (in_dtype, in_scale, in_zp), _ = io_quantization(model_bytes)
    x = dataset.x_test[: args.samples]
    labels = dataset.y_test[: args.samples] if dataset.has_labels else None
    q = quantize_input(x, in_dtype, in_scale, in_zp) if np.issubdtype(np.dtype(in_dtype), np.integer) else x.astype(in_dtype)
    inputs = [np.ascontiguousarray(s).tobytes() for s in q]
    host = tflm_host.invoke(model_bytes, q)

    board = load_board(args.board)
    runtime = args.runtime or default_model_runtime(board)
    workload = WorkloadSpec(name, model_bytes=model_bytes, model_sha256=hashlib.sha256(model_bytes).hexdigest(),
                            input_bytes=inputs[0], options=runtime_options(runtime, args))
    workload.warmup, workload.runs = 0, 1  # the boot benchmark is not what we are here for
    target_name = args.target or board.default_target
    project = render_project(runtime, workload, board.for_target(target_name))
    image = build(project)
    options = RunOptions(timeout=args.timeout, port=args.port, target=target_options(target_name, args))
    raw = _open_session(image, target_name, options, inputs)
    out_dtype = host.dtype
    device = [np.frombuffer(b, dtype=out_dtype).reshape(host.shape[1:]) for b in raw]
    classification = dataset.task == "classification"
    result = score(device, list(host), None if labels is None else np.asarray(labels).reshape(-1), classification)
    kernels = get_runtime(runtime).kernels(workload)
    doc = {"model": name, "board": board.id, "target": target_name, "runtime": runtime, "kernels": kernels,
           **result.to_dict()}
    if args.out:
        write_json_atomic(args.out, doc)
    if args.json:
        json.dump(doc, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        acc = "n/a (no labels)" if result.on_device_accuracy is None else f"{result.on_device_accuracy * 100:.1f} %"
        host_acc = "" if result.host_accuracy is None else f" (host TFLM {result.host_accuracy * 100:.1f} %)"
        print(f"{name} on {board.id}/{target_name}: {result.samples} samples")
        print(f"  on-device accuracy: {acc}{host_acc}")
        print(f"  outputs equal to the host TFLM interpreter: {result.bit_exact}/{result.samples}"
              f" (max |diff| {result.max_abs_diff})")
        if result.top1_agreement is not None:
            print(f"  top-1 agreement with host: {result.top1_agreement * 100:.1f} %")
    return 0 if result.bit_exact == result.samples else 1
