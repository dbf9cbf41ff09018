"""The real TFLM interpreter (PyPI ``tflite-micro``) on the host: run a model, find its arena.

Both functions run TFLM in a child process (see :mod:`mcubench.models._tflm_worker`): the
wheel aborts the process on a too-small arena, and a crash must not take the caller down.

Arena figures are measured on this 64-bit host. On a 32-bit Cortex-M, TFLM's bookkeeping
structs are smaller (pointers are 4 bytes), but optimized kernels (CMSIS-NN) may request
scratch buffers the reference kernels do not, and alignment differs; so
:data:`ARENA_MARGIN_FRACTION` / :data:`ARENA_MARGIN_MIN_BYTES` are added to give the
32-bit budget the firmware should reserve.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from mcubench.core.errors import UserError
from mcubench.models.tflite_file import parse_tflite

ARENA_MARGIN_FRACTION = 0.10
ARENA_MARGIN_MIN_BYTES = 1024
ARENA_ALIGN = 16
WORKER_TIMEOUT_S = 600


class TflmError(UserError):
    """TFLM refused the model (unsupported op/type); ``log`` holds TFLM's own words."""

    def __init__(self, message: str, hint: str | None, log: str):
        super().__init__(message, hint)
        self.log = log


@dataclass
class ArenaInfo:
    """The tensor arena a model needs under TFLM.

    ``exact_bytes``: smallest ``arena_size`` that allocates and invokes (binary search, 64-bit host).
    ``head_bytes``/``tail_bytes``/``recorded_total_bytes``: RecordingMicroAllocator's breakdown
    (head = non-persistent activations, tail = persistent structs and buffers).
    ``budget_32bit_bytes``: what to reserve on a 32-bit target: exact + margin, 16-byte aligned.
    """

    exact_bytes: int
    head_bytes: int | None
    tail_bytes: int | None
    recorded_total_bytes: int | None
    categories: dict = field(default_factory=dict)
    margin_bytes: int = 0
    budget_32bit_bytes: int = 0
    probes: int = 0
    host: str = "64-bit host (tflite-micro Python wheel)"

    def to_dict(self) -> dict:
        return asdict(self)


def budget_32bit(exact_bytes: int) -> tuple[int, int]:
    margin = max(ARENA_MARGIN_MIN_BYTES, math.ceil(exact_bytes * ARENA_MARGIN_FRACTION))
    budget = exact_bytes + margin
    budget = (budget + ARENA_ALIGN - 1) // ARENA_ALIGN * ARENA_ALIGN
    return budget - exact_bytes, budget


def _run_worker(request: dict, files: dict[str, bytes | np.ndarray]) -> tuple[dict, Path]:
    tmp = Path(tempfile.mkdtemp(prefix="mcubench-tflm-"))
    for name, content in files.items():
        if isinstance(content, np.ndarray):
            np.save(tmp / name, content, allow_pickle=False)
        else:
            (tmp / name).write_bytes(content)
    request = {k: (str(tmp / v) if k in ("model", "inputs", "outputs") else v) for k, v in request.items()}
    (tmp / "request.json").write_text(json.dumps(request))
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, "-m", "mcubench.models._tflm_worker", str(tmp / "request.json"), str(tmp / "result.json")],
        capture_output=True, text=True, timeout=WORKER_TIMEOUT_S, env=env,
    )
    result_path = tmp / "result.json"
    if proc.returncode != 0 or not result_path.exists():
        raise RuntimeError(f"TFLM worker failed (exit {proc.returncode}): {proc.stderr[-2000:]}")
    return json.loads(result_path.read_text()), tmp


def _refusal(result: dict, source: str) -> TflmError:
    log = result.get("log", "")
    lines = [ln.strip() for ln in log.splitlines() if ln.strip() and "RecordingMicroAllocator" not in ln]
    reason = "; ".join(lines[:3]) or "allocation failed"
    return TflmError(
        f"TFLM cannot run {source}: {reason}",
        "run `mcubench analyze` on it for the op at fault and the recipe that fixes it",
        log,
    )


def exact_arena(tflite_bytes: bytes, source: str = "model") -> ArenaInfo:
    """Smallest arena (bytes) with which TFLM allocates and invokes the model, plus breakdown.

    Raises :class:`TflmError` (a UserError) if TFLM refuses the model at any arena size.
    Deterministic: the same bytes give the same figure on re-run.
    """
    parse_tflite(tflite_bytes, source)
    result, tmp = _run_worker({"op": "arena", "model": "model.tflite"}, {"model.tflite": tflite_bytes})
    _cleanup(tmp)
    if not result["ok"]:
        raise _refusal(result, source)
    rec = result.get("recorded", {})
    margin, budget = budget_32bit(result["exact"])
    return ArenaInfo(
        exact_bytes=int(result["exact"]), head_bytes=rec.get("head"), tail_bytes=rec.get("tail"),
        recorded_total_bytes=rec.get("total"), categories=rec.get("categories", {}),
        margin_bytes=margin, budget_32bit_bytes=budget, probes=int(result.get("probes", 0)),
    )


def invoke(tflite_bytes: bytes, inputs: np.ndarray, arena_size: int | None = None, source: str = "model") -> np.ndarray:
    """Run ``inputs`` through the real TFLM interpreter and return the raw outputs.

    ``inputs`` is one sample shaped like the model input (with or without its batch dim of 1)
    or a batch ``(N, ...)``; values must already be in the input tensor's dtype domain
    (quantize first for int8/int16 models — :func:`mcubench.models.evaluate.quantize_input`).
    Returns ``(N, *output_shape_without_batch)`` in the output tensor's dtype.
    Only single-input, single-output models are supported.
    """
    model = parse_tflite(tflite_bytes, source)
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise UserError(f"{source} has {len(model.inputs)} inputs and {len(model.outputs)} outputs", "host TFLM runs support one of each")
    in_shape = model.tensor(model.inputs[0]).shape
    arr = np.asarray(inputs)
    per_sample = int(np.prod(in_shape[1:])) if len(in_shape) > 1 else 1
    if arr.size % max(per_sample, 1) != 0:
        raise UserError(f"inputs of shape {arr.shape} do not fit {source}'s input {in_shape}", "reshape the inputs")
    batch = arr.reshape((-1, *in_shape[1:])) if len(in_shape) > 1 else arr.reshape((-1,))
    result, tmp = _run_worker(
        {"op": "invoke", "model": "model.tflite", "inputs": "inputs.npy", "outputs": "outputs.npy", "arena_size": arena_size},
        {"model.tflite": tflite_bytes, "inputs.npy": np.ascontiguousarray(batch)},
    )
    try:
        if not result["ok"]:
            raise _refusal(result, source)
        out = np.load(tmp / "outputs.npy", allow_pickle=False)
    finally:
        _cleanup(tmp)
    out_shape = model.tensor(model.outputs[0]).shape
    return out.reshape((len(batch), *out_shape[1:]))


def allocates(tflite_bytes: bytes, arena_size: int) -> bool:
    """Does TFLM allocate and invoke the model with exactly ``arena_size`` bytes of arena?"""
    result, tmp = _run_worker({"op": "probe", "model": "model.tflite", "arena_size": int(arena_size)}, {"model.tflite": tflite_bytes})
    _cleanup(tmp)
    return bool(result["ok"])


def check(tflite_bytes: bytes, source: str = "model") -> tuple[bool, str]:
    """(allocates?, TFLM's log) with a generous arena — the deployability verdict."""
    result, tmp = _run_worker({"op": "arena", "model": "model.tflite"}, {"model.tflite": tflite_bytes})
    _cleanup(tmp)
    return bool(result["ok"]), result.get("log", "")


def _cleanup(tmp: Path) -> None:
    for p in tmp.iterdir():
        p.unlink()
    tmp.rmdir()
