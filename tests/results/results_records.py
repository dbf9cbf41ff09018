"""Realistic result records built in code (no committed run artifacts).

``make_record(kind, **changes)`` gives a valid ``mcubench.result/1`` record shaped like what
`mcubench bench` writes: ``qemu-builtin`` (the built-in dot product under QEMU icount),
``qemu-tflm`` (a small CNN with per-op profile and host metrics), ``hardware`` (DWT cycles on
the Nano 33 BLE) and ``estimate`` (QEMU run with a host cycle estimate). ``changes`` are dotted
paths: ``{"latency.median": 5400}``.
"""

from __future__ import annotations

import copy
import hashlib
import statistics
import uuid
from typing import Any

_MODEL_SHA = hashlib.sha256(b"kws-micro int8 model bytes").hexdigest()


def _latency(unit: str, source: str, runs: list[float], resolution: float = 1, warmup: int = 1) -> dict[str, Any]:
    return {"unit": unit, "source": source, "resolution": resolution, "warmup": warmup, "runs": runs,
            "min": min(runs), "median": statistics.median(runs), "max": max(runs), "mean": statistics.fmean(runs)}


def _base(created: str) -> dict[str, Any]:
    return {
        "schema": "mcubench.result/1",
        "id": str(uuid.uuid4()),
        "created": created,
        "identity": {
            "tool_version": "0.1.0", "git_hash": "eb261ba1356a",
            "model": {"name": "dot_int8", "sha256": None, "path": None},
            "variant": None, "recipe": None, "runtime": "builtin", "board": "mps2-an386", "target": "qemu",
            "emulator": "qemu", "clock_hz": 25_000_000, "compiler": "gcc-12.2.1 20221205",
            "cflags": "-mcpu=cortex-m4 -mthumb -mfpu=fpv4-sp-d16 -mfloat-abi=hard -O2",
            "memory_of": None, "build_id": "ced9aeb9a68412e9",
            "workload": {"name": "dot_int8", "params": {"n": 1024}},
        },
        "latency": _latency("instructions", "qemu-icount", [5160] * 5, resolution=40),
        "instructions": 5160, "cycles": None, "latency_ms": None, "ops": [],
        "memory": {
            "flash_bytes": 10008, "static_ram_bytes": 5252, "stack_high_water_bytes": 284, "stack_size_bytes": 32768,
            "arena_used_bytes": None, "arena_allocated_bytes": None, "flash_split": None,
            "sections": {"text": 10000, "rodata": 0, "data": 8, "bss": 5244, "heap": 4100, "stack": 32768},
            "limits": {"board": "mps2-an386", "flash_bytes": 4194304, "ram_bytes": 4194304, "fits": True},
        },
        "outputs_match": None,
        "correctness": {"output_checksum": "D981995B", "output_hex": "1537ffff", "compared_with": None,
                        "max_abs_diff": None, "on_device_accuracy": None},
        "host": None, "estimate": None, "warnings": [],
    }


# A small keyword-spotting CNN's per-op instruction counts under QEMU (ratios as TFLM int8 shows them).
_KWS_OPS = [("CONV_2D", 412_000), ("DEPTHWISE_CONV_2D", 121_500), ("CONV_2D", 233_800), ("AVERAGE_POOL_2D", 9_100),
            ("RESHAPE", 210), ("FULLY_CONNECTED", 18_400), ("SOFTMAX", 2_950)]


def _tflm(created: str, recipe: str = "ptq_int8", scale: float = 1.0, accuracy: float = 0.912,
          size: int = 49_800, sparsity: float = 0.0, board: str = "mps2-an386", memory_of: str | None = "nano33ble") -> dict:
    r = _base(created)
    ident = r["identity"]
    ident.update({"model": {"name": "kws_micro", "sha256": _MODEL_SHA, "path": "models/kws_micro.keras"},
                  "variant": f"kws_micro-{recipe}", "recipe": recipe, "runtime": "tflm", "board": board,
                  "memory_of": memory_of, "workload": {"name": "model", "params": {"inputs": 1}}})
    ops = [{"index": i, "name": n, "value": round(v * scale), "unit": "instructions"} for i, (n, v) in enumerate(_KWS_OPS)]
    total = sum(op["value"] for op in ops) + 3_100  # interpreter overhead between ops
    r["ops"] = ops
    r["latency"] = _latency("instructions", "qemu-icount", [total, total, total], resolution=40, warmup=1)
    r["instructions"] = total
    r["memory"].update({"flash_bytes": 96_000 + size, "static_ram_bytes": 31_400, "stack_high_water_bytes": 1_850,
                        "arena_used_bytes": 21_760, "arena_allocated_bytes": 24_576,
                        "flash_split": {"model": size, "runtime": 71_200, "rest": 24_800}})
    r["memory"]["limits"] = {"board": "nano33ble", "flash_bytes": 983040, "ram_bytes": 262144, "fits": True}
    r["outputs_match"] = True
    r["correctness"] = {"output_checksum": "8A0F13C2", "compared_with": "tflm-host", "max_abs_diff": 0,
                        "on_device_accuracy": None}
    r["host"] = {"accuracy": accuracy, "size_bytes": size, "gzip_bytes": int(size * (0.9 - 0.6 * sparsity)),
                 "macs": 2_650_000, "params": 41_000, "sparsity": sparsity}
    return r


def _hardware(created: str) -> dict:
    r = _tflm(created)
    r["identity"].update({"board": "nano33ble", "target": "hardware", "emulator": None, "clock_hz": 64_000_000,
                          "memory_of": None})
    cycles = [1_215_400, 1_215_388, 1_215_420, 1_215_396, 1_215_402]
    r["latency"] = _latency("cycles", "dwt", cycles, resolution=1, warmup=2)
    r["instructions"] = None
    r["cycles"] = round(statistics.median(cycles))
    r["latency_ms"] = statistics.median(cycles) / 64_000_000 * 1000
    for op in r["ops"]:
        op["unit"] = "cycles"
        op["value"] = int(op["value"] * 1.45)
    return r


def _estimate(created: str) -> dict:
    r = _base(created)
    r["estimate"] = {"estimated_cycles": 7_420, "estimated_ms": 0.1159375, "model_version": "cortex-m4f/1",
                     "board": "nano33ble", "assumptions": {"flash_wait_states": 2, "cache": "off"}}
    r["estimated_cycles"], r["estimated_ms"] = 7_420, 0.1159375
    return r


KINDS = {"qemu-builtin": _base, "qemu-tflm": _tflm, "hardware": _hardware, "estimate": _estimate}


def set_path(record: dict, dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    node = record
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value


def del_path(record: dict, dotted: str) -> None:
    *parents, last = dotted.split(".")
    node = record
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    del node[last]


def make_record(kind: str = "qemu-builtin", created: str = "2026-11-22T08:11:30+00:00",
                changes: dict[str, Any] | None = None, **kwargs: Any) -> dict:
    record = copy.deepcopy(KINDS[kind](created, **kwargs))
    for dotted, value in (changes or {}).items():
        set_path(record, dotted, value)
    return record


def slower(record: dict, factor: float) -> dict:
    """The same record with every latency figure scaled (a doctored regression), new id."""
    r = copy.deepcopy(record)
    r["id"] = str(uuid.uuid4())
    lat = r["latency"]
    lat["runs"] = [round(v * factor) for v in lat["runs"]]
    lat.update(min=min(lat["runs"]), max=max(lat["runs"]), median=statistics.median(lat["runs"]),
               mean=statistics.fmean(lat["runs"]))
    if r["instructions"] is not None:
        r["instructions"] = round(lat["median"])
    if r["cycles"] is not None:
        r["cycles"] = round(lat["median"])
        r["latency_ms"] = lat["median"] / r["identity"]["clock_hz"] * 1000
    for op in r["ops"]:
        op["value"] = round(op["value"] * factor)
    return r
