"""Reading result records and naming their figures.

A *figure* is one comparable number of a record, with its unit and kind (so compare and
report never mix instructions with cycles, or fractions with bytes). ``FIGURES`` is the one
list of them; compare's ``--fail-if`` names come from it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from mcubench.core.errors import UserError
from mcubench.results.schema import validate

Record = dict[str, Any]


@dataclass(frozen=True)
class Figure:
    name: str
    kind: str  # "latency" (unit from the record), "bytes", "fraction", "count", "ms", "number"
    description: str
    get: Callable[[Record], float | None]
    lower_is_better: bool = True
    unit_name: str = ""  # for counts and plain numbers: what is counted

    def unit(self, record: Record) -> str:
        if self.kind == "latency":
            return record["latency"]["unit"]
        return {"bytes": "B", "fraction": "%", "ms": "ms"}.get(self.kind, self.unit_name)


def _host(key: str) -> Callable[[Record], float | None]:
    return lambda r: (r.get("host") or {}).get(key)


def _ram(r: Record) -> int:
    mem = r["memory"]
    return mem["static_ram_bytes"] + (mem.get("stack_high_water_bytes") or 0)


# Name -> figure; the order is the order of tables.
FIGURES: dict[str, Figure] = {f.name: f for f in [
    Figure("latency", "latency", "median latency per run, in the record's unit", lambda r: r["latency"]["median"]),
    Figure("latency_min", "latency", "fastest run", lambda r: r["latency"]["min"]),
    Figure("latency_max", "latency", "slowest run", lambda r: r["latency"]["max"]),
    Figure("instructions", "count", "emulated instructions per run (QEMU icount)", lambda r: r.get("instructions"), unit_name="instructions"),
    Figure("cycles", "count", "measured cycles per run", lambda r: r.get("cycles"), unit_name="cycles"),
    Figure("latency_ms", "ms", "milliseconds from real cycles at the board clock", lambda r: r.get("latency_ms")),
    Figure("estimated_cycles", "count", "host cycle estimate (not measured)", lambda r: r.get("estimated_cycles"),
           unit_name="cycles (estimate)"),
    Figure("estimated_ms", "ms", "host estimate in ms (not measured)", lambda r: r.get("estimated_ms")),
    Figure("flash", "bytes", "flash (text + rodata + data)", lambda r: r["memory"]["flash_bytes"]),
    Figure("static_ram", "bytes", "static RAM (data + bss)", lambda r: r["memory"]["static_ram_bytes"]),
    Figure("stack", "bytes", "stack high-water", lambda r: r["memory"].get("stack_high_water_bytes")),
    Figure("ram", "bytes", "RAM in use: static RAM + stack high-water", _ram),
    Figure("arena", "bytes", "tensor arena used", lambda r: r["memory"].get("arena_used_bytes")),
    Figure("accuracy", "fraction", "host accuracy of the model variant", _host("accuracy"), lower_is_better=False),
    Figure("device_accuracy", "fraction", "accuracy measured on the device",
           lambda r: (r.get("correctness") or {}).get("on_device_accuracy"), lower_is_better=False),
    Figure("mae", "number", "host mean absolute error", _host("mae")),
    Figure("max_abs_diff", "number", "largest output difference from the host interpreter",
           lambda r: (r.get("correctness") or {}).get("max_abs_diff")),
    Figure("size", "bytes", "model file size", _host("size_bytes")),
    Figure("gzip", "bytes", "gzipped model size", _host("gzip_bytes")),
    Figure("macs", "count", "multiply-accumulates per inference", _host("macs"), unit_name="MACs"),
    Figure("params", "count", "parameters", _host("params"), unit_name="parameters"),
    Figure("sparsity", "fraction", "fraction of zero weights", _host("sparsity"), lower_is_better=False),
]}


def figure_value(record: Record, name: str) -> float | None:
    return FIGURES[name].get(record)


def load_result(path: Path | str) -> Record:
    """A result JSON file, validated."""
    path = Path(path)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path}: no such result file", "give a result JSON (results/runs/<id>.json), a history id or a git revision") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise UserError(f"{path}: not a readable JSON result ({exc})", "give a result file written by `mcubench bench`") from None
    return validate(record, where=str(path))


def label(record: Record) -> str:
    """A short name for the variant a record measured: model, recipe/variant, runtime, board."""
    ident = record["identity"]
    parts = [ident["model"]["name"]]
    flavour = ident.get("variant") or ident.get("recipe")
    if flavour:
        parts.append(flavour)
    parts += [ident["runtime"], ident["board"] + (f"@{ident['memory_of']}" if ident.get("memory_of") else "")]
    return "/".join(parts)


def summary_row(record: Record) -> dict[str, Any]:
    """The flat row history lists and CSV exports use."""
    ident, lat, mem = record["identity"], record["latency"], record["memory"]
    host = record.get("host") or {}
    return {
        "id": record["id"],
        "created": record["created"],
        "model": ident["model"]["name"],
        "variant": ident.get("variant"),
        "recipe": ident.get("recipe"),
        "runtime": ident["runtime"],
        "board": ident["board"],
        "target": ident["target"],
        "memory_of": ident.get("memory_of"),
        "git_hash": ident.get("git_hash"),
        "latency_median": lat["median"],
        "latency_unit": lat["unit"],
        "latency_source": lat["source"],
        "runs": len(lat["runs"]),
        "latency_ms": record.get("latency_ms"),
        "estimated_ms": record.get("estimated_ms"),
        "flash_bytes": mem["flash_bytes"],
        "static_ram_bytes": mem["static_ram_bytes"],
        "stack_high_water_bytes": mem.get("stack_high_water_bytes"),
        "arena_used_bytes": mem.get("arena_used_bytes"),
        "fits": (mem.get("limits") or {}).get("fits"),
        "outputs_match": record.get("outputs_match"),
        "accuracy": host.get("accuracy"),
        "size_bytes": host.get("size_bytes"),
    }


SUMMARY_COLUMNS = [
    "id", "created", "model", "variant", "recipe", "runtime", "board", "target", "memory_of", "git_hash",
    "latency_median", "latency_unit", "latency_source", "runs", "latency_ms", "estimated_ms", "flash_bytes",
    "static_ram_bytes", "stack_high_water_bytes", "arena_used_bytes", "fits", "outputs_match", "accuracy", "size_bytes",
]
