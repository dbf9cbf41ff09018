"""Everything knowable about a ``.tflite`` variant on the host, before touching a board.

:func:`analyze` gives ops with versions and MACs, parameters, size and gzip size, I/O
quantization, the TFLM deployability verdict (per op, with the reason and the recipe that
fixes it), the exact TFLM arena, the task metric under LiteRT and under TFLM, and where the
two interpreters disagree.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np

from mcubench.models import evaluate, tflm_host
from mcubench.models.data import Dataset
from mcubench.models.tflite_file import TfliteModel, parse_tflite

# How many test samples go through the interpreters (TFLM runs one sample per invoke).
DEFAULT_EVAL_SAMPLES = 500


@dataclass
class Problem:
    op_index: int
    op_name: str
    reason: str
    fix_recipe: str


@dataclass
class Analysis:
    source: str
    sha256: str
    size_bytes: int
    gzip_bytes: int
    params: int
    total_macs: int
    ops: list[dict]  # {index, name, version, macs}
    op_set: list[str]  # "CONV_2D v3", sorted unique
    inputs: list[dict]  # {name, dtype, shape, scale, zero_point}
    outputs: list[dict]
    deployable_tflm: bool
    problems: list[Problem] = field(default_factory=list)
    arena: dict | None = None  # ArenaInfo.to_dict()
    metric: dict | None = None  # {name, value, per_output, samples, lite, micro}
    lite_vs_micro: dict | None = None
    tflm_log: str = ""
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def gzip_size(data: bytes) -> int:
    return len(gzip.compress(bytes(data), compresslevel=9, mtime=0))


def static_problems(model: TfliteModel) -> list[Problem]:
    """Problems visible in the flatbuffer itself: float16 weights, hybrid ops, custom ops."""
    problems = []
    for op in model.ops:
        ins = [model.tensor(i) for i in op.inputs if i >= 0]
        outs = [model.tensor(i) for i in op.outputs if i >= 0]
        if op.custom:
            problems.append(Problem(op.index, op.name, "custom op: not in TFLM's op resolver", "float32 or int8 (rebuild the model without the custom op)"))
            continue
        f16 = [t for t in ins if t.dtype == "FLOAT16"]
        if f16:
            problems.append(Problem(
                op.index, op.name,
                f"float16 weight tensor '{f16[0].name}': TFLM has no float16 kernels (DEQUANTIZE takes int8/int16/uint8 only)",
                "int8",
            ))
            continue
        weights_int = [t for t in ins if t.is_constant and t.dtype in ("INT8", "UINT8") and len(t.shape) >= 2]
        activations_float = [t for t in ins if not t.is_constant and t.dtype == "FLOAT32"]
        if weights_int and activations_float and any(t.dtype == "FLOAT32" for t in outs):
            problems.append(Problem(
                op.index, op.name,
                f"hybrid (dynamic-range) op: float32 input with int8 weights '{weights_int[0].name}' is not supported by TFLM",
                "int8",
            ))
    return problems


def _tflm_problem(model: TfliteModel, log: str) -> Problem:
    """Turn TFLM's 'Node X (number N) failed to prepare' into a per-op problem."""
    import re

    lines = [ln.strip() for ln in log.splitlines() if ln.strip()]
    m = re.search(r"Node (\S+) \(number (\d+)\) failed to prepare", log)
    missing = re.search(r"Didn't find op for builtin opcode '([^']+)'", log)
    reason = "; ".join(ln for ln in lines if not ln.startswith(("Traceback", "RuntimeError")))[:400] or "TFLM failed to allocate"
    if m:
        index = int(m.group(2))
        return Problem(index, m.group(1), f"TFLM: {reason}", "int8")
    if missing:
        name = missing.group(1)
        index = next((op.index for op in model.ops if op.name == name), -1)
        return Problem(index, name, f"TFLM has no kernel for {name}: {reason}", "float32 or int8 (replace the op in the model)")
    return Problem(-1, "?", f"TFLM: {reason}", "int8")


def _tensor_dict(t) -> dict:
    return {"name": t.name, "dtype": t.dtype, "shape": list(t.shape), "scale": t.scale[0] if t.scale else None,
            "zero_point": t.zero_point[0] if t.zero_point else None}


def analyze(
    tflite_bytes: bytes,
    dataset: Dataset | None = None,
    *,
    source: str = "model",
    eval_samples: int = DEFAULT_EVAL_SAMPLES,
    run_micro: bool = True,
    reference: Callable[[np.ndarray], np.ndarray | None] | None = None,
) -> Analysis:
    """Analyze one ``.tflite`` model; with a dataset, also score it under LiteRT and TFLM, and
    with ``reference`` (the source model's own prediction on the dataset's layout) score that too.

    Raises UserError for a corrupt/truncated model or a dataset that does not fit it.
    Never raises because TFLM refuses the model: that is ``deployable_tflm=False`` with problems.
    """
    data = bytes(tflite_bytes)
    model = parse_tflite(data, source)
    evaluate.lite_interpreter(data, source)  # the full verifier: catches truncation the parser misses
    ops = [{"index": op.index, "name": op.name, "version": op.version, "macs": model.macs(op)} for op in model.ops]
    analysis = Analysis(
        source=source, sha256=hashlib.sha256(data).hexdigest(), size_bytes=len(data), gzip_bytes=gzip_size(data),
        params=model.params, total_macs=sum(o["macs"] for o in ops), ops=ops,
        op_set=sorted({f"{o['name']} v{o['version']}" for o in ops}),
        inputs=[_tensor_dict(model.tensor(i)) for i in model.inputs],
        outputs=[_tensor_dict(model.tensor(i)) for i in model.outputs],
        deployable_tflm=False,
    )
    if model.subgraphs > 1:
        analysis.notes.append(f"{model.subgraphs} subgraphs: only the first is listed")
    analysis.problems = static_problems(model)
    try:
        arena = tflm_host.exact_arena(data, source)
        analysis.arena = arena.to_dict()
        analysis.deployable_tflm = not analysis.problems
    except tflm_host.TflmError as err:
        analysis.tflm_log = err.log
        if not analysis.problems:
            analysis.problems.append(_tflm_problem(model, err.log))
    if dataset is None or not len(dataset.x_test):
        return analysis
    source_x = dataset.x_test[:eval_samples]  # the source model's own layout (for `reference`)
    dataset = dataset.for_model(model, what=source)
    x = dataset.x_test[:eval_samples]
    raw_lite, lite_out = evaluate.lite_predict(data, x, source)
    metric = None
    if dataset.has_labels:
        lite_metric = evaluate.score(dataset.task, dataset.y_test[: len(x)], lite_out)
        metric = lite_metric.to_dict() | {"lite": lite_metric.value, "micro": None, "source": None}
        # The source model (torch, onnxruntime) on the same samples: the conversion's own error.
        source_out = reference(source_x) if reference is not None else None
        if source_out is not None:
            metric["source"] = evaluate.score(dataset.task, dataset.y_test[: len(x)], source_out).value
    else:
        analysis.notes.append(f"dataset {dataset.name} has no real labels: no metric")
    if run_micro and analysis.deployable_tflm:
        (in_dtype, in_scale, in_zp), (_, out_scale, out_zp) = evaluate.io_quantization(data)
        raw_micro = tflm_host.invoke(data, evaluate.quantize_input(x, in_dtype, in_scale, in_zp), source=source)
        micro_out = evaluate.dequantize_output(raw_micro, out_scale, out_zp)
        diff = np.abs(raw_micro.astype(np.float64) - raw_lite.astype(np.float64))
        summary = {
            "samples": len(x),
            "raw_max_abs_diff": float(diff.max()) if diff.size else 0.0,
            "dequantized_max_abs_diff": float(np.abs(micro_out - lite_out).max()) if diff.size else 0.0,
            "samples_differing": int(np.sum(diff.reshape(len(x), -1).max(axis=1) > 0)) if diff.size else 0,
        }
        if dataset.task == "classification":
            summary["argmax_disagreements"] = int(np.sum(micro_out.reshape(len(x), -1).argmax(1) != lite_out.reshape(len(x), -1).argmax(1)))
        analysis.lite_vs_micro = summary
        if metric is not None:
            metric["micro"] = evaluate.score(dataset.task, dataset.y_test[: len(x)], micro_out).value
    analysis.metric = metric
    return analysis
