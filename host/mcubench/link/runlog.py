"""What one run produced over the link: the records, where they came from, how to read ticks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mcubench.link.protocol import DecoderStats, Record
from mcubench.link.transport import SerialLink


@dataclass
class RunLog:
    """What one run produced: the records, where they came from, and how to read ticks."""

    records: list[Record]
    target: str
    emulator: str | None
    port: str
    latency_unit: str  # "instructions", "cycles", "virtual_cycles", "us"
    latency_source: str  # "qemu-icount", "dwt", "renode-virtual-time", "timer"
    units_per_tick: float  # how many latency units one tick is
    stats: DecoderStats
    transcript: bytes = b""
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_link(
        cls, link: SerialLink, *, target: str, emulator: str | None, port: str,
        latency: tuple[str, str, float], extra: dict[str, Any] | None = None,
    ) -> "RunLog":
        """The log of a finished session; ``latency`` is (unit, source, units per tick)."""
        unit, source, per_tick = latency
        return cls(
            records=list(link.records), target=target, emulator=emulator, port=port,
            latency_unit=unit, latency_source=source, units_per_tick=per_tick,
            stats=link.decoder.stats, transcript=bytes(link.transcript.received), extra=dict(extra or {}),
        )

    def of_type(self, rtype: str) -> list[Record]:
        return [r for r in self.records if r.type == rtype]

    def first(self, rtype: str) -> Record | None:
        found = self.of_type(rtype)
        return found[0] if found else None
