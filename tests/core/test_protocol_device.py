"""The device's protocol code (C) and the host's (Python) agree: compiled for the host."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from mcubench.link.protocol import Decoder, encode_record

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def harness(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("proto") / "proto_harness"
    subprocess.run(
        ["gcc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-I", str(ROOT / "firmware/core"),
         str(ROOT / "firmware/core/mcb_protocol.c"), str(Path(__file__).parent / "c/proto_harness.c"), "-o", str(out)],
        check=True,
    )
    return out


def test_device_records_decode_on_the_host(harness):
    out = subprocess.run([harness, "emit"], capture_output=True, check=True).stdout
    decoder = Decoder()
    records = decoder.feed(out)
    assert decoder.stats.bad_checksum == 0 and decoder.stats.malformed == 0
    vals = records[0]
    assert vals.type == "vals"
    assert vals.int("umax") == 2**64 - 1
    assert vals.int("imin") == -(2**63)
    assert vals.int("neg") == -42 and vals.int("zero") == 0
    assert vals.get("text") == "a b*c=d%e"
    assert vals.get("hex") == "007F80FF"
    # The record that would not fit became an overflow error, not a truncated record.
    assert records[1].type == "err" and records[1].get("code") == "overflow"
    assert all(len(line) <= 512 for line in out.splitlines(keepends=True))
    assert records[2].type == "done"


def test_host_commands_parse_on_the_device(harness):
    commands = (
        encode_record("cmd", {"name": "bench", "runs": 7, "text": "x y"})
        + b"noise before " + encode_record("cmd", {"name": "input", "hex": "0A0b"})
        + encode_record("cmd", {"name": "bench", "runs": "99999999999"})  # out of u32 range
        + encode_record("cmd", {"name": "input", "hex": "00" * 9})  # longer than the buffer
    )
    corrupt = bytearray(encode_record("cmd", {"name": "exit"}))
    corrupt[12] ^= 0x20  # a flipped bit: the device must ignore the command
    out = subprocess.run([harness, "parse"], input=commands + bytes(corrupt) + b"@MCB1 cmd " + b"z" * 600 + b"\n",
                         capture_output=True, check=True).stdout
    records = Decoder().feed(out)
    assert [r.get("name") for r in records] == ["bench", "input", "bench", "input"]
    assert records[0].int("runs") == 7 and records[0].int("runs_ok") == 0 and records[0].get("text") == "x y"
    assert records[1].int("hex_len") == 2
    assert records[2].int("runs_ok") == -1
    assert records[3].int("hex_len") == -1
