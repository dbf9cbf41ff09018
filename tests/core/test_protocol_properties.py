"""Property tests of the host's protocol decoder against docs/protocol.md: whatever bytes
arrive, the outcome is records, noise lines or counted errors (the only exception being the
documented one: a well-formed record of another protocol version), and feeding the stream
whole or in any chunks gives the same result."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings, strategies as st

from mcubench.link.protocol import RECORD_MAX, Decoder, ProtocolError, Record, crc16_ccitt, encode_record

SETTINGS = settings(max_examples=300, deadline=None, database=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])

types = st.from_regex(r"[a-z_]{1,8}", fullmatch=True)
keys = st.from_regex(r"[a-z0-9_]{1,8}", fullmatch=True)
values = st.one_of(st.text(max_size=20), st.integers().map(str))
records = st.builds(lambda t, f: (t, f), types, st.dictionaries(keys, values, max_size=4)).filter(
    lambda r: len(encode_record(r[0], r[1])) <= RECORD_MAX)


def _framed(body: bytes) -> bytes:
    """A line with a correct CRC around any body: only the syntax can be wrong."""
    return body + b"*%04X\n" % crc16_ccitt(body)


# Pieces a serial stream is made of: good records, arbitrary bytes, records with arbitrary
# bytes inside a correct checksum, records with a byte changed, overlong lines.
pieces = st.one_of(
    records.map(lambda r: encode_record(*r)),
    st.binary(max_size=60),
    st.binary(max_size=40).map(lambda b: _framed(b"@MCB1 log msg=" + b + b" ")),
    st.binary(max_size=40).map(lambda b: _framed(b"@MCB1 " + b + b" ")),
    st.tuples(records, st.integers(0, 200), st.integers(0, 255)).map(
        lambda x: _flip(encode_record(*x[0]), x[1], x[2])),
    st.integers(RECORD_MAX - 20, RECORD_MAX * 4 + 40).map(lambda n: b"@MCB1 log msg=" + b"a" * n + b"\n"),
)


def _flip(line: bytes, at: int, value: int) -> bytes:
    b = bytearray(line)
    b[at % len(b)] = value
    return bytes(b)


def _decode(chunks: list[bytes]):
    """(records, stats, noise) or the ProtocolError the stream raised."""
    decoder = Decoder()
    got: list[Record] = []
    try:
        for chunk in chunks:
            got += decoder.feed(chunk)
    except ProtocolError as err:
        return ("error", str(err))
    return (got, decoder.stats, list(decoder.noise), decoder.pending)


def _split(stream: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(stream) + 1) for c in cuts})
    return [stream[a:b] for a, b in zip([0, *points], [*points, len(stream)])]


@SETTINGS
@given(st.lists(pieces, max_size=12), st.lists(st.integers(0, 10_000), max_size=20))
def test_any_bytes_give_only_documented_outcomes_in_any_chunks(parts, cuts):
    stream = b"".join(parts)
    whole = _decode([stream])
    assert _decode(_split(stream, cuts)) == whole
    assert _decode([bytes([b]) for b in stream]) == whole
    if whole[0] == "error":  # documented: a well-formed record of another version
        assert re.search(r"speaks mcubench protocol \d+, this host speaks 1", whole[1])
        return
    got, stats, _, _ = whole
    assert stats.records == len(got)
    for record in got:
        assert re.fullmatch(r"[a-z_]+", record.type)
        assert all(re.fullmatch(r"[a-z0-9_]+", k) for k in record.fields)
        assert len(record.raw) + 1 <= RECORD_MAX


@SETTINGS
@given(st.lists(st.tuples(records, st.binary(max_size=30).filter(lambda b: b"@MCB" not in b and b"\n" not in b)),
                max_size=8))
def test_records_between_noise_lines_decode_exactly(items):
    # each record on its own line, with a noise line (no marker) before it
    stream = b"".join(noise + b"\n" + encode_record(*rec) for rec, noise in items)
    got, stats, _, pending = _decode([stream])
    assert [(r.type, r.fields) for r in got] == [(t, {k: str(v) for k, v in f.items()}) for (t, f), _ in items]
    assert stats.bad_checksum == stats.malformed == stats.overlong == 0 and pending == b""


@SETTINGS
@given(st.integers(2, 99), st.binary(max_size=20))
def test_another_version_with_a_good_checksum_is_the_documented_error(version, junk):
    stream = junk.replace(b"\n", b"") + b"\n" + _framed(b"@MCB%d hello " % version)
    outcome = _decode([stream])
    assert outcome[0] == "error" and f"speaks mcubench protocol {version}," in outcome[1]
