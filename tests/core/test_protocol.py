"""Protocol v1 on the host: framing, noise, checksums, versions (docs/protocol.md)."""

from __future__ import annotations

import pytest

from mcubench.link.protocol import Decoder, ProtocolError, crc16_ccitt, encode_record, escape, unescape


def test_crc16_ccitt_false_check_value():
    # The catalogued check value of CRC-16/CCITT-FALSE for "123456789".
    assert crc16_ccitt(b"123456789") == 0x29B1


def test_round_trip_with_escaped_values():
    line = encode_record("log", {"msg": "hello world * = % ü", "n": 42})
    assert b" " not in line.split(b" *")[0].split(b"msg=")[1].split(b" ")[0]
    (record,) = Decoder().feed(line)
    assert record.type == "log"
    assert record.fields == {"msg": "hello world * = % ü", "n": "42"}
    assert unescape(escape("a b%")) == "a b%"


def test_records_split_at_every_byte():
    stream = encode_record("run", {"i": 0, "ticks": 129}) + encode_record("done", {"status": "ok"})
    decoder = Decoder()
    got = []
    for i in range(len(stream)):
        got += decoder.feed(stream[i : i + 1])
    assert [r.type for r in got] == ["run", "done"]
    assert got[0].int("ticks") == 129


def test_noise_before_inside_and_after_records():
    good = encode_record("run", {"i": 0, "ticks": 7})
    garbled = bytearray(encode_record("run", {"i": 1, "ticks": 8}))
    garbled[15:15] = b"printf!"  # a user's printf landed inside a record
    stream = b"boot banner\r\n" + b"partial line then " + good + bytes(garbled) + b"\x00\xff trailing noise\n"
    decoder = Decoder()
    records = decoder.feed(stream)
    assert [(r.type, r.get("i")) for r in records] == [("run", "0")]
    assert decoder.stats.bad_checksum == 1
    assert decoder.stats.noise_lines >= 3  # banner, the text before the record, the trailing noise
    assert any("bad checksum" in w for w in decoder.stats.warnings)


def test_record_after_text_on_the_same_line_is_decoded():
    line = b"sensor=12" + encode_record("run", {"i": 0, "ticks": 5})
    (record,) = Decoder().feed(line)
    assert record.int("ticks") == 5


def test_unknown_protocol_version_is_an_error():
    line = encode_record("hello", {"tool": "9.9"}, version=2)
    with pytest.raises(ProtocolError, match="protocol 2"):
        Decoder().feed(line)


def test_bad_version_with_bad_checksum_is_only_noise():
    line = bytearray(encode_record("hello", {}, version=2))
    line[-3] ^= 1
    decoder = Decoder()
    assert decoder.feed(bytes(line)) == []
    assert decoder.stats.bad_checksum == 1


def test_unknown_record_types_and_fields_pass_through():
    (record,) = Decoder().feed(encode_record("future_thing", {"new_field": "x"}))
    assert record.type == "future_thing"


def test_malformed_and_overlong_lines_are_counted():
    decoder = Decoder()
    assert decoder.feed(b"@MCB1 run i=0 ticks=1\n") == []  # no checksum
    assert decoder.stats.malformed == 1
    assert decoder.feed(b"@MCB1 " + b"x" * 3000 + b"\n") == []
    assert decoder.stats.overlong == 1
    # The decoder recovers: the next record is read.
    assert [r.type for r in decoder.feed(encode_record("done", {"status": "ok"}))] == ["done"]


def test_missing_integer_field_names_the_record():
    (record,) = Decoder().feed(encode_record("run", {"i": 0}))
    with pytest.raises(ProtocolError, match="ticks"):
        record.int("ticks")
