"""Targets run an image and hand back what came over the serial link.

A board is data; a target is behaviour: ``qemu`` and ``renode`` run images in an emulator,
``hardware`` flashes a real board, ``labgrid`` one on a shared place. A target owns its
specifics and declares them, so callers ask instead of comparing names:

* ``capabilities`` — what it can do besides running the benchmark (``Capability``);
* ``options_type`` — its own typed options (``RunOptions.target``), from which the commands
  derive their flags;
* ``session(image, options)`` — its run lifecycle: a context manager that yields an open
  link to the running image and always stops the emulator or releases the board.

``Target.run`` checks (board, capabilities), then holds the benchmark conversation in a
session and reads the log. ``validate`` holds its own conversation in the same session.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Callable, ClassVar

from mcubench.core.boards import Board
from mcubench.core.errors import UserError
from mcubench.core.types import Image, RunOptions, TargetOptions
from mcubench.link.protocol import Record
from mcubench.link.runlog import RunLog
from mcubench.link.transport import SerialLink


@dataclass(frozen=True)
class ToolStatus:
    """One prerequisite for `mcubench doctor`."""

    name: str
    found: bool
    detail: str  # version or path when found, what is missing otherwise
    remedy: str = ""
    required: bool = True


class Capability(str, Enum):
    """What a target can do besides running the benchmark."""

    INSTRUCTION_PLUGIN = "instruction-plugin"  # loads an instrumentation plugin (RunOptions.plugin)
    INPUT_UPLOAD = "input-upload"  # a session may upload inputs and invoke the model (validate)
    RESET = "reset"  # resets the board when it flashes it (1200-bps touch, bootloader)
    RECONNECT = "reconnect"  # follows the board's serial port through USB re-enumeration


@dataclass
class Session:
    """An open conversation with a running image."""

    link: SerialLink
    port: str  # where the link is (a device or a URL)
    is_alive: Callable[[], bool] | None = None  # False once the far end is gone (an emulator exited)
    facts: dict[str, Any] = field(default_factory=dict)  # what the run log keeps (command, place...)


class Target(ABC):
    name: ClassVar[str]
    capabilities: frozenset[Capability] = frozenset()
    options_type: type[TargetOptions] = TargetOptions

    def supports(self, board: Board) -> str | None:
        """None when this target can run the board, else the reason it cannot."""
        if self.name not in board.targets:
            known = ", ".join(board.targets) or "none"
            return f"board `{board.id}` cannot run on target `{self.name}` (it runs on: {known})"
        return None

    def check(self, board: Board, options: RunOptions | None = None) -> None:
        """Raises UserError when this target cannot run the board with these options."""
        reason = self.supports(board)
        if reason:
            raise UserError(reason, "pick another --target or --board (mcubench boards lists them)")
        if options is not None and options.plugin is not None:
            self.require(Capability.INSTRUCTION_PLUGIN, "load an instrumentation plugin (--estimate)")

    def require(self, capability: Capability, what: str) -> None:
        if capability not in self.capabilities:
            able = ", ".join(sorted(self.capabilities)) or "none"
            raise UserError(f"target `{self.name}` cannot {what} (its capabilities: {able})",
                            "pick a target that can (mcubench doctor lists the targets)")

    def session(self, image: Image, options: RunOptions) -> AbstractContextManager[Session]:
        """The run lifecycle: starts or flashes, yields an open link, always stops or releases."""
        self.check(image.board, options)
        return self.do_session(image, options)

    def run(self, image: Image, options: RunOptions) -> RunLog:
        with self.session(image, options) as session:
            self.converse(session, options)
        return self.run_log(session, image)

    def converse(self, session: Session, options: RunOptions) -> None:
        """The benchmark conversation (docs/protocol.md)."""
        benchmark_session(session.link, options, is_alive=session.is_alive)

    def run_log(self, session: Session, image: Image) -> RunLog:
        return RunLog.from_link(session.link, target=self.name, emulator=None, port=session.port,
                                latency=self.latency(session, image), extra=session.facts)

    @abstractmethod
    def do_session(self, image: Image, options: RunOptions) -> AbstractContextManager[Session]: ...

    @abstractmethod
    def latency(self, session: Session, image: Image) -> tuple[str, str, float]:
        """How the image's ticks read on this target: (unit, source, units per tick)."""

    @abstractmethod
    def status(self) -> list[ToolStatus]:
        """What this target needs, found or missing, for `mcubench doctor`."""


def hello_timing(records: list[Record]) -> tuple[str, int, int | None]:
    """(tick unit, tick Hz, core clock Hz) from the image's `hello` record."""
    hello = next((r for r in records if r.type == "hello"), None)
    if hello is None:
        return "", 0, None
    return hello.get("tick_unit", ""), hello.int("tick_hz"), hello.int("clock_hz")


def board_latency(records: list[Record], image: Image, where: str) -> tuple[str, str, float]:
    """How a real board's ticks read, from the image's `hello` (the board data's clock when the
    image reports none): (unit, source, units per tick) — docs/units.md."""
    tick_unit, tick_hz, clock_hz = hello_timing(records)
    clock_hz = clock_hz or image.board.clock_hz
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
