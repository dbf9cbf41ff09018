"""Host side of the mcubench protocol, version 1 (specified in docs/protocol.md).

``Decoder`` turns a byte stream into ``Record`` objects incrementally: feed it whatever a read
returned, in any split, and it yields the records completed so far. Noise (lines that are not
records, text before a record, records with a bad checksum) is kept for the session log and
counted, never interpreted. The device side is firmware/core/mcb_protocol.c.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from mcubench.core.errors import UserError

PROTOCOL_VERSION = 1
MARKER = b"@MCB"
RECORD_MAX = 512  # bytes per line, newline included
PLAIN = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:/+,-")

_TYPE_RE = re.compile(r"^[a-z_]+$")
_KEY_RE = re.compile(r"^[a-z0-9_]+$")
_HEADER_RE = re.compile(rb"^@MCB(\d+) ")


def crc16_ccitt(data: bytes, crc: int = 0xFFFF) -> int:
    """CRC-16/CCITT-FALSE: polynomial 0x1021, initial 0xFFFF, no reflection, no final XOR."""
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc


def escape(value: str) -> str:
    out = []
    for byte in value.encode("utf-8"):
        out.append(chr(byte) if byte in PLAIN else f"%{byte:02X}")
    return "".join(out)


def unescape(value: str) -> str:
    return re.sub(r"%([0-9A-Fa-f]{2})", lambda m: chr(int(m.group(1), 16)), value).encode("latin-1").decode(
        "utf-8", errors="replace"
    )


@dataclass(frozen=True)
class Record:
    """One decoded record: its type and fields (values unescaped, as strings)."""

    type: str
    fields: dict[str, str]
    raw: str = ""

    def get(self, key: str, default: str | None = None) -> str | None:
        return self.fields.get(key, default)

    def int(self, key: str) -> int:
        """The field as an integer; a missing or non-numeric field is a protocol error."""
        value = self.fields.get(key)
        try:
            return int(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise ProtocolError(f"record `{self.type}` has no integer field `{key}`: {self.raw!r}") from None

    def __str__(self) -> str:
        body = " ".join(f"{k}={v}" for k, v in self.fields.items())
        return f"{self.type} {body}".strip()


class ProtocolError(UserError):
    """The device said something the host cannot accept (wrong version, inconsistent records)."""


def encode_record(rtype: str, fields: dict[str, object] | None = None, version: int = PROTOCOL_VERSION) -> bytes:
    """One framed record line, e.g. a host command ``encode_record("cmd", {"name": "exit"})``."""
    if not _TYPE_RE.match(rtype):
        raise ValueError(f"bad record type {rtype!r}")
    parts = [f"@MCB{version} {rtype}"]
    for key, value in (fields or {}).items():
        if not _KEY_RE.match(key):
            raise ValueError(f"bad field key {key!r}")
        parts.append(f"{key}={escape(str(value))}")
    body = " ".join(parts) + " "
    line = f"{body}*{crc16_ccitt(body.encode('ascii')):04X}\n".encode("ascii")
    if len(line) > RECORD_MAX:
        raise ValueError(f"record of {len(line)} bytes is longer than {RECORD_MAX}")
    return line


@dataclass
class DecoderStats:
    records: int = 0
    noise_lines: int = 0
    bad_checksum: int = 0
    malformed: int = 0
    overlong: int = 0
    warnings: list[str] = field(default_factory=list)


class Decoder:
    """Incremental decoder: ``feed(bytes)`` returns the records completed by those bytes."""

    def __init__(self, keep_noise: int = 200):
        self._buf = bytearray()
        self._discarding = False
        self.stats = DecoderStats()
        self.noise: list[str] = []  # the last lines that were not records
        self._keep_noise = keep_noise
        self.last_line: str | None = None  # last complete line seen, record or not

    def feed(self, data: bytes) -> list[Record]:
        records: list[Record] = []
        for byte in data:
            if byte == 0x0A:  # newline ends a line
                if self._discarding:
                    self._discarding = False
                else:
                    record = self._decode_line(bytes(self._buf))
                    if record is not None:
                        records.append(record)
                self._buf.clear()
                continue
            if self._discarding:
                continue
            self._buf.append(byte)
            if len(self._buf) >= RECORD_MAX * 4:
                # A line far past any record's length (a runaway printf): drop it.
                self.stats.overlong += 1
                self._note_noise(self._buf[:80].decode("latin-1") + "…")
                self._buf.clear()
                self._discarding = True
        return records

    @property
    def pending(self) -> bytes:
        """Bytes of the current, unfinished line."""
        return bytes(self._buf)

    def _note_noise(self, text: str) -> None:
        self.stats.noise_lines += 1
        self.noise.append(text)
        if len(self.noise) > self._keep_noise:
            del self.noise[0]

    def _decode_line(self, line: bytes) -> Record | None:
        line = line.rstrip(b"\r")
        text = line.decode("latin-1")
        self.last_line = text
        at = line.rfind(MARKER)
        if at < 0:
            if text.strip():
                self._note_noise(text)
            return None
        if at > 0:
            self._note_noise(text[:at])
        candidate = line[at:]
        if len(candidate) + 1 > RECORD_MAX:
            self.stats.overlong += 1
            self.stats.warnings.append(f"record longer than {RECORD_MAX} bytes dropped: {text[:80]!r}")
            return None
        return self._decode_record(candidate)

    def _decode_record(self, candidate: bytes) -> Record | None:
        text = candidate.decode("latin-1")
        header = _HEADER_RE.match(candidate)
        star = candidate.rfind(b" *")
        if not header or star < 0 or len(candidate) - star != 6:
            self.stats.malformed += 1
            self.stats.warnings.append(f"malformed record skipped: {text!r}")
            return None
        try:
            want = int(candidate[star + 2 :], 16)
        except ValueError:
            self.stats.malformed += 1
            self.stats.warnings.append(f"malformed checksum skipped: {text!r}")
            return None
        if crc16_ccitt(candidate[: star + 1]) != want:
            self.stats.bad_checksum += 1
            self.stats.warnings.append(f"record with bad checksum skipped: {text!r}")
            return None
        if any(b < 0x20 or b > 0x7E for b in candidate):
            # a record is printable ASCII (docs/protocol.md); a stray byte under a matching CRC
            # is broken syntax, not text to unescape
            self.stats.malformed += 1
            self.stats.warnings.append(f"record with non-ASCII bytes skipped: {text!r}")
            return None
        version = int(header.group(1))
        if version != PROTOCOL_VERSION:
            raise ProtocolError(
                f"the device speaks mcubench protocol {version}, this host speaks {PROTOCOL_VERSION}: {text!r}",
                "rebuild the firmware with this mcubench version (or upgrade mcubench)",
            )
        words = candidate[header.end() : star].decode("ascii").split(" ")
        rtype, pairs = words[0], words[1:]
        fields: dict[str, str] = {}
        if not _TYPE_RE.match(rtype):
            self.stats.malformed += 1
            self.stats.warnings.append(f"record with bad type skipped: {text!r}")
            return None
        for pair in pairs:
            key, eq, value = pair.partition("=")
            if not eq or not _KEY_RE.match(key):
                self.stats.malformed += 1
                self.stats.warnings.append(f"record with bad field {pair!r} skipped: {text!r}")
                return None
            fields[key] = unescape(value)
        self.stats.records += 1
        return Record(rtype, fields, text)
