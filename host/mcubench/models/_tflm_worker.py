"""Runs the real TFLM interpreter in a separate process (used by :mod:`mcubench.models.tflm_host`).

Why a process: the ``tflite-micro`` wheel crashes the whole process (SIGSEGV) when the arena
is too small, so every risky allocation runs in a forked child and only its exit status
crosses back. TensorFlow is never imported here, which keeps forking safe and cheap.

Usage: ``python -m mcubench.models._tflm_worker REQUEST.json RESULT.json``.
"""

from __future__ import annotations

import json
import os
import re
import sys

import numpy as np

# Large enough for any model we can benchmark on a microcontroller.
BIG_ARENA = 64 * 1024 * 1024


def _runtime():
    from tflite_micro.python.tflite_micro import runtime

    return runtime


def _fill_inputs(interp) -> None:
    details = interp.get_input_details(0)
    interp.set_input(np.zeros(details["shape"], dtype=details["dtype"]), 0)


def _allocates(data: bytes, arena_size: int) -> bool:
    """Does the model allocate and run once with this arena? Tried in a forked child."""
    pid = os.fork()
    if pid == 0:  # child: silence TFLM's complaints, report by exit status only
        try:
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, 2)
            os.dup2(null, 1)
            interp = _runtime().Interpreter.from_bytes(data, arena_size=arena_size)
            _fill_inputs(interp)
            interp.invoke()
            os._exit(0)
        except BaseException:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    return os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


def _check(data: bytes) -> dict:
    """Allocate with a big arena in a child, capturing TFLM's error text if it fails."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        code = 1
        try:
            os.dup2(write_fd, 2)
            os.dup2(write_fd, 1)
            interp = _runtime().Interpreter.from_bytes(data, arena_size=BIG_ARENA)
            _fill_inputs(interp)
            interp.invoke()
            interp.print_allocations()
            code = 0
        except BaseException as err:  # report the Python-side error too
            os.write(write_fd, f"\n{type(err).__name__}: {err}\n".encode())
        finally:
            os._exit(code)
    os.close(write_fd)
    chunks = []
    while True:
        chunk = os.read(read_fd, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(read_fd)
    _, status = os.waitpid(pid, 0)
    text = b"".join(chunks).decode("utf-8", "replace")
    ok = os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    if os.WIFSIGNALED(status):
        text += f"\nTFLM crashed with signal {os.WTERMSIG(status)}"
    return {"ok": ok, "log": text}


def parse_allocations(text: str) -> dict:
    """Parse RecordingMicroAllocator's report into totals and a per-category breakdown."""
    result: dict = {"categories": {}}
    for key in ("total", "head", "tail"):
        m = re.search(rf"Arena allocation {key} (\d+) bytes", text)
        if m:
            result[key] = int(m.group(1))
    for m in re.finditer(r"'([^']+)' used (\d+) bytes with alignment overhead \(requested (\d+) bytes for (\d+)", text):
        result["categories"][m.group(1)] = {"used": int(m.group(2)), "requested": int(m.group(3)), "count": int(m.group(4))}
    return result


def arena(data: bytes) -> dict:
    checked = _check(data)
    if not checked["ok"]:
        return {"ok": False, "log": checked["log"]}
    recorded = parse_allocations(checked["log"])
    lo, hi = 0, BIG_ARENA  # lo never allocates, hi always does
    guess = recorded.get("total")
    probes = 0
    if guess:
        # Start near the recorded figure, widen by doubling: ~15 probes instead of ~26.
        candidate = guess + 256
        while candidate < BIG_ARENA:
            probes += 1
            if _allocates(data, candidate):
                hi = candidate
                break
            lo = candidate
            candidate *= 2
        below = max(guess // 2, 1)
        if lo == 0 and below < hi:
            probes += 1
            if not _allocates(data, below):
                lo = below
    while hi - lo > 1:
        mid = (lo + hi) // 2
        probes += 1
        if _allocates(data, mid):
            hi = mid
        else:
            lo = mid
    return {"ok": True, "exact": hi, "recorded": recorded, "probes": probes, "log": checked["log"]}


def invoke(data: bytes, inputs: np.ndarray, arena_size: int) -> dict:
    """Run every sample of ``inputs`` through TFLM (one at a time, batch of one)."""
    checked = _check(data)
    if not checked["ok"]:
        return {"ok": False, "log": checked["log"]}
    runtime = _runtime()
    interp = runtime.Interpreter.from_bytes(data, arena_size=arena_size)
    details = interp.get_input_details(0)
    shape = tuple(int(d) for d in details["shape"])
    outputs = []
    for sample in inputs:
        interp.set_input(np.asarray(sample, dtype=details["dtype"]).reshape(shape), 0)
        interp.invoke()
        outputs.append(np.array(interp.get_output(0)))
    return {"ok": True, "outputs": np.stack(outputs) if outputs else np.zeros((0,))}


def main(argv: list[str]) -> int:
    request = json.loads(open(argv[0]).read())
    data = open(request["model"], "rb").read()
    if request["op"] == "arena":
        result = arena(data)
    elif request["op"] == "invoke":
        inputs = np.load(request["inputs"], allow_pickle=False)
        result = invoke(data, inputs, int(request.get("arena_size") or BIG_ARENA))
        if result["ok"]:
            np.save(request["outputs"], result.pop("outputs"))
    elif request["op"] == "probe":
        result = {"ok": _allocates(data, int(request["arena_size"]))}
    else:
        raise SystemExit(f"unknown op {request['op']}")
    with open(argv[1], "w") as f:
        json.dump(result, f)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    sys.exit(main(sys.argv[1:]))
