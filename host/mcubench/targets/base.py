"""Targets run an image and hand back what came over the serial link.

A board is data; a target is behaviour: ``qemu`` and ``renode`` run images in an emulator,
``hardware`` flashes a real board. ``Target.run`` checks that the target can take the
board, then calls ``do_run``. Emulator targets share ``EmulatorTarget``: start the
emulator, open its UART as a serial URL, collect, stop — always stopping the process.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from ..boards import Board
from ..errors import UserError
from ..protocol import DecoderStats, Record
from ..transport import SerialLink


@dataclass(frozen=True)
class Image:
    """A built firmware image and what it was built for."""

    elf: Path
    board: Board
    build_id: str
    project_dir: Path
    env: str


@dataclass
class RunOptions:
    timeout: float = 120.0  # seconds for the whole benchmark session
    warmup: int | None = None  # None: what the image was built with
    runs: int | None = None
    transcript: Path | None = None  # where to save the raw serial log
    estimate_board: str | None = None  # cycle estimate (QEMU plugin) for this board
    port: str | None = None  # hardware: serial port or URL; None finds the board by USB ID
    extra: dict[str, Any] = field(default_factory=dict)


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


@dataclass(frozen=True)
class ToolStatus:
    """One prerequisite for `mcubench doctor`."""

    name: str
    found: bool
    detail: str  # version or path when found, what is missing otherwise
    remedy: str = ""
    required: bool = True


class Target(ABC):
    name: ClassVar[str]

    def supports(self, board: Board) -> str | None:
        """None when this target can run the board, else the reason it cannot."""
        if self.name not in board.targets:
            known = ", ".join(board.targets) or "none"
            return f"board `{board.id}` cannot run on target `{self.name}` (it runs on: {known})"
        return None

    def run(self, image: Image, options: RunOptions) -> RunLog:
        reason = self.supports(image.board)
        if reason:
            raise UserError(reason, "pick another --target or --board (mcubench boards lists them)")
        return self.do_run(image, options)

    @abstractmethod
    def do_run(self, image: Image, options: RunOptions) -> RunLog: ...

    @abstractmethod
    def status(self) -> list[ToolStatus]:
        """What this target needs, found or missing, for `mcubench doctor`."""


def hello_timing(records: list[Record]) -> tuple[str, int, int | None]:
    """(tick unit, tick Hz, core clock Hz) from the image's `hello` record."""
    hello = next((r for r in records if r.type == "hello"), None)
    if hello is None:
        return "", 0, None
    return hello.get("tick_unit", ""), hello.int("tick_hz"), hello.int("clock_hz")


def board_latency(tick_unit: str, tick_hz: int, clock_hz: int, where: str) -> tuple[str, str, float]:
    """How a real board's ticks read: (unit, source, units per tick) — docs/units.md."""
    if tick_hz <= 0:
        raise UserError(f"{where}: the image reports no timer frequency", "is this an mcubench image?")
    if tick_unit in ("cycles", "systick"):
        # DWT CYCCNT, or SysTick at the processor clock: core cycles either way.
        return "cycles", "dwt" if tick_unit == "cycles" else "systick", clock_hz / tick_hz
    if tick_unit == "timer":
        return "us", "timer", 1e6 / tick_hz
    raise UserError(f"{where}: unknown tick unit `{tick_unit}` in the image's hello", "rebuild the image with this mcubench")


def close_link(link: SerialLink, options: RunOptions) -> None:
    """Ends a session: keeps the raw serial log when asked (also after a failure), closes the port."""
    try:
        if options.transcript:
            link.transcript.save(options.transcript)
    finally:
        link.close()


def benchmark_session(link: SerialLink, options: RunOptions, is_alive=None) -> None:
    """The conversation every target has with the benchmark core (docs/protocol.md).

    The image benchmarks on its own at boot; when the user asked for other warm-up/run counts
    the host waits for `ready` and sends a `bench` command instead.
    """
    link.collect(until=("hello",), timeout=options.timeout, is_alive=is_alive)
    link.collect(until=("done",), timeout=options.timeout, is_alive=is_alive)
    if options.warmup is not None or options.runs is not None:
        link.collect(until=("ready",), timeout=options.timeout, is_alive=is_alive)
        # Drop the boot-time figures: the requested ones replace them.
        boot = len(link.records)
        fields = {}
        if options.warmup is not None:
            fields["warmup"] = options.warmup
        if options.runs is not None:
            fields["runs"] = options.runs
        link.command("bench", **fields)
        link.collect(until=("done",), timeout=options.timeout, is_alive=is_alive)
        hello = [r for r in link.records[:boot] if r.type in ("hello", "build")]
        link.records[:] = hello + link.records[boot:]
