"""Issue 7: one versioned result schema; bad records are rejected with the field named."""

from __future__ import annotations

import json

import jsonschema
import pytest

from mcubench.core.errors import UserError
from mcubench.results import SCHEMA_ID, load_schema, validate, validation_errors


def test_schema_is_valid_draft_2020_12_and_versioned():
    schema = load_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["properties"]["schema"] == {"const": SCHEMA_ID}


@pytest.mark.parametrize("kind", ["qemu-builtin", "qemu-tflm", "hardware", "estimate"])
def test_realistic_records_validate(records, kind):
    record = records.make(kind)
    assert validation_errors(record) == []
    assert validate(record) is record
    # and survive a JSON round trip unchanged
    assert validation_errors(json.loads(json.dumps(record))) == []


@pytest.mark.parametrize("field", [
    "schema", "id", "created", "identity", "latency", "memory", "correctness", "ops",
    "identity.model.sha256", "identity.runtime", "identity.clock_hz", "identity.workload.params",
    "latency.unit", "latency.source", "latency.runs", "latency.median",
    "memory.flash_bytes", "memory.static_ram_bytes", "memory.stack_high_water_bytes", "memory.limits.fits",
    "correctness.output_checksum",
])
def test_missing_field_is_rejected_and_named(records, field):
    record = records.make("qemu-tflm")
    records.del_path(record, field)
    errors = validation_errors(record)
    assert f"{field}: missing (required)" in errors, errors


@pytest.mark.parametrize("field,value,expected", [
    ("latency.unit", "furlongs", "latency.unit: 'furlongs' is not one of"),
    ("ops.2.unit", "ms", "ops[2].unit: 'ms' is not one of"),
    ("latency.source", "stopwatch", "latency.source: 'stopwatch' is not one of"),
    ("identity.runtime", "onnx", "identity.runtime: 'onnx' is not one of"),
    ("memory.flash_bytes", 1.5, "memory.flash_bytes: 1.5 is not of type 'integer'"),
    ("memory.flash_bytes", -4, "memory.flash_bytes: -4 is less than the minimum of 0"),
    ("latency.runs", [], "latency.runs: [] should be non-empty"),
    ("host.accuracy", 91.2, "host.accuracy: 91.2 is greater than the maximum of 1"),
    ("created", "22/11/2026", "created: '22/11/2026' does not match"),
    ("identity.model.sha256", "xyz", "identity.model.sha256: 'xyz' does not match"),
    ("schema", "mcubench.result/2", "schema: 'mcubench.result/1' was expected"),
])
def test_wrong_value_is_rejected_and_named(records, field, value, expected):
    record = records.make("qemu-tflm")
    records.set_path(record, field, value)
    errors = validation_errors(record)
    assert any(e.startswith(expected) for e in errors), errors


def test_unknown_field_is_rejected(records):
    record = records.make()
    record["latency_MS"] = 3.0
    assert any("latency_MS" in e and "not allowed" in e for e in validation_errors(record))


@pytest.mark.parametrize("field,value,expected", [
    # A unit that its source cannot produce: QEMU icount counts instructions, not cycles.
    ("latency.unit", "cycles", "latency.unit: 'cycles' cannot come from source 'qemu-icount'"),
    ("latency.median", 5000, "latency.median: 5000 does not match the runs"),
    ("instructions", 4000, "instructions: 4000 should be the median run"),
    ("latency_ms", 0.2, "latency_ms: only derived from real cycles on hardware"),
    ("cycles", 5160, "cycles: must be null"),
    ("identity.emulator", None, "identity.emulator: None but the target is 'qemu'"),
])
def test_inconsistent_units_and_figures_are_rejected(records, field, value, expected):
    record = records.make("qemu-builtin")
    records.set_path(record, field, value)
    errors = validation_errors(record)
    assert any(e.startswith(expected) for e in errors), errors


def test_op_unit_must_match_latency_unit(records):
    record = records.make("qemu-tflm")
    record["ops"][3]["unit"] = "cycles"
    assert "ops[3].unit: 'cycles' differs from latency.unit 'instructions'" in validation_errors(record)


def test_hardware_record_needs_real_cycles(records):
    record = records.make("hardware")
    assert record["latency_ms"] == pytest.approx(18.99, abs=0.01)
    record["cycles"] = None
    assert any(e.startswith("cycles: None should be the median run") for e in validation_errors(record))


def test_estimate_figures_come_with_the_estimate(records):
    record = records.make("estimate")
    del record["estimated_ms"]
    assert "estimated_ms: missing (required)" in validation_errors(record)
    plain = records.make("qemu-builtin")
    plain["estimated_cycles"] = 100  # without an estimate object this is a stray figure
    assert validation_errors(plain) == ["estimated_cycles: not allowed here (only with an estimate)"]


def test_validate_raises_user_error_naming_fields(records):
    record = records.make()
    record["latency"]["unit"] = "furlongs"
    with pytest.raises(UserError) as info:
        validate(record, where="run.json")
    assert "run.json" in info.value.message
    assert "latency.unit: 'furlongs' is not one of" in info.value.message
    assert info.value.hint and "results-schema" in info.value.hint
