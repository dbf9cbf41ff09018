"""The result record's JSON Schema (schema.json, draft 2020-12) and the checks around it.

``validate(record)`` raises ``UserError`` whose message names every bad field, e.g.
``latency.unit: 'furlongs' is not one of [...]``. Besides the schema it checks what a schema
cannot say: the units agree with their source, per-op units match the latency unit, the
summary statistics agree with the runs, and figures only appear where they mean something
(``instructions`` only under an emulator counting instructions, ``latency_ms`` only from real
cycles).
"""

from __future__ import annotations

import functools
import json
import math
import statistics
from importlib import resources
from typing import Any

import jsonschema

from mcubench.bench.result import SCHEMA_ID
from mcubench.core.errors import UserError
from mcubench.runtimes import RUNTIMES
from mcubench.targets import target_names
from mcubench.targets.emulators import EMULATORS

# Which latency units each timing source can produce (a source never changes meaning).
UNITS_OF_SOURCE: dict[str, tuple[str, ...]] = {
    "qemu-icount": ("instructions",),
    "dwt": ("cycles",),
    "systick": ("cycles", "us"),
    "timer": ("cycles", "us"),
    "renode-virtual-time": ("virtual_cycles", "virtual_us"),
}


@functools.lru_cache(maxsize=1)
def load_schema() -> dict[str, Any]:
    """schema.json with the schema id and the runtime, target and emulator enums filled in from
    their one definition each (the registries), so a new runtime or target needs no edit here."""
    text = resources.files(__package__).joinpath("schema.json").read_text(encoding="utf-8")
    schema = json.loads(text)
    schema["properties"]["schema"] = {"const": SCHEMA_ID}
    ident = schema["$defs"]["identity"]["properties"]
    ident["runtime"] = {"enum": list(RUNTIMES)}
    ident["target"] = {"enum": target_names()}
    ident["emulator"] = {"enum": [*EMULATORS, None]}
    return schema


@functools.lru_cache(maxsize=1)
def _validator() -> jsonschema.Draft202012Validator:
    schema = load_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def field_path(path: Any) -> str:
    """``['latency', 'runs', 2]`` -> ``latency.runs[2]``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(record)"


def _describe(error: jsonschema.ValidationError) -> list[str]:
    where = field_path(error.absolute_path)
    if error.validator == "required":
        # Name the missing field itself rather than its parent.
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        full = f"{where}.{missing}" if error.absolute_path else missing
        return [f"{full}: missing (required)"]
    if error.validator == "additionalProperties" and error.validator_value is False:
        return [f"{where}: {error.message}"]
    if error.validator == "not":
        # The schema's only "not" forbids fields that need a companion (estimated_* need estimate).
        forbidden = [k for alt in error.validator_value.get("anyOf", []) for k in alt.get("required", [])]
        present = [k for k in forbidden if isinstance(error.instance, dict) and k in error.instance]
        if present:
            return [f"{'.'.join([where, k]) if error.absolute_path else k}: not allowed here (only with an estimate)" for k in present]
        return [f"{where}: has a forbidden shape"]
    if error.validator == "oneOf" and error.context:
        # "null or an object": report the object's problems, which are the useful ones.
        best = [sub for sub in error.context if sub.validator != "type" or sub.schema_path[0] != 0]
        described = [line for sub in (best or error.context) for line in _describe(sub)]
        if described:
            return described
    return [f"{where}: {error.message}"]


def schema_errors(record: Any) -> list[str]:
    errors = sorted(_validator().iter_errors(record), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    seen: list[str] = []
    for error in errors:
        for line in _describe(error):
            if line not in seen:
                seen.append(line)
    return seen


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def consistency_errors(record: dict[str, Any]) -> list[str]:
    """What the schema cannot express; only meaningful for a record that passes the schema."""
    errors: list[str] = []
    ident, lat = record["identity"], record["latency"]
    unit, source = lat["unit"], lat["source"]
    if unit not in UNITS_OF_SOURCE[source]:
        errors.append(f"latency.unit: {unit!r} cannot come from source {source!r} (expected {' or '.join(UNITS_OF_SOURCE[source])})")
    runs = lat["runs"]
    for name, expected in (("min", min(runs)), ("max", max(runs)), ("median", statistics.median(runs)), ("mean", statistics.fmean(runs))):
        if not _close(lat[name], expected):
            errors.append(f"latency.{name}: {lat[name]!r} does not match the runs ({expected!r})")
    for i, op in enumerate(record["ops"]):
        if op["unit"] != unit:
            errors.append(f"ops[{i}].unit: {op['unit']!r} differs from latency.unit {unit!r}")
    emulated = ident["target"] in EMULATORS
    if emulated and ident["emulator"] != ident["target"]:
        errors.append(f"identity.emulator: {ident['emulator']!r} but the target is {ident['target']!r}")
    if not emulated and ident["emulator"] is not None:
        errors.append(f"identity.emulator: must be null on target {ident['target']!r}")
    if emulated and unit in ("cycles", "us"):
        errors.append(f"latency.unit: {unit!r} is not measured under an emulator (use instructions or virtual time)")
    if unit == "instructions":
        if record["instructions"] is None or not _close(record["instructions"], round(lat["median"])):
            errors.append(f"instructions: {record['instructions']!r} should be the median run ({round(lat['median'])})")
    elif record["instructions"] is not None:
        errors.append(f"instructions: must be null when latency.unit is {unit!r}")
    if unit == "cycles":
        if record["cycles"] is None or not _close(record["cycles"], round(lat["median"])):
            errors.append(f"cycles: {record['cycles']!r} should be the median run ({round(lat['median'])})")
    elif record["cycles"] is not None:
        errors.append(f"cycles: must be null when latency.unit is {unit!r}")
    if record["latency_ms"] is not None and (unit != "cycles" or emulated):
        errors.append("latency_ms: only derived from real cycles on hardware; must be null here")
    if record["estimate"] is not None:
        est = record["estimate"]
        for key in ("estimated_cycles", "estimated_ms"):
            if key in record and not _close(record[key], est[key]):
                errors.append(f"{key}: {record[key]!r} differs from estimate.{key} {est[key]!r}")
    limits = record["memory"]["limits"]
    if record["memory"].get("arena_used_bytes") is not None and record["memory"].get("arena_allocated_bytes") is not None:
        if record["memory"]["arena_used_bytes"] > record["memory"]["arena_allocated_bytes"]:
            errors.append("memory.arena_used_bytes: larger than memory.arena_allocated_bytes")
    if limits["fits"] and record["memory"]["flash_bytes"] > limits["flash_bytes"]:
        errors.append(f"memory.limits.fits: true, but flash {record['memory']['flash_bytes']} B exceeds {limits['flash_bytes']} B")
    return errors


def validation_errors(record: Any) -> list[str]:
    """Every problem with ``record``, one line each naming the field; empty when valid."""
    errors = schema_errors(record)
    if errors:
        return errors
    return consistency_errors(record)


def validate(record: Any, where: str = "result") -> dict[str, Any]:
    """Return ``record`` if it is a valid result, else raise ``UserError`` naming the fields."""
    errors = validation_errors(record)
    if errors:
        shown = "; ".join(errors[:8]) + (f"; ... ({len(errors) - 8} more)" if len(errors) > 8 else "")
        raise UserError(
            f"{where} is not a valid {SCHEMA_ID} record: {shown}",
            "see docs/results-schema.md for the record format",
        )
    return record
