"""The emulator axis: QEMU and Renode behind one interface.

An ``Emulator`` starts an ELF for a board and exposes the board's UART as a serial URL on
loopback; ``EmulatorTarget`` runs the benchmark session over it. Figures are labelled with
what the emulator really measures (QEMU: instructions; Renode: virtual time), never as a
real board's cycles.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import time
from abc import ABC, abstractmethod
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Iterator

from mcubench.core.boards import Board
from mcubench.core.errors import UserError
from mcubench.core.types import Image, RunOptions, TargetOptions
from mcubench.link.runlog import RunLog
from mcubench.link.transport import LinkClosed, SerialLink
from mcubench.targets.base import Capability, Session, Target, ToolStatus, close_link, hello_timing


def die_with_parent() -> None:
    """preexec_fn for emulator processes: the kernel kills them if their parent dies.

    An emulator spins forever once its guest idles, so one orphaned by a killed worker or
    client would burn a core until reboot. Linux only; elsewhere a no-op.
    """
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def free_tcp_port() -> int:
    """A free TCP port on loopback (the emulator binds it right after)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class RunningEmulator:
    """A started emulator process whose UART is served at ``serial_url``."""

    name: str
    process: subprocess.Popen
    serial_url: str
    command: list[str]
    log_path: Path

    def is_alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, grace: float = 3.0) -> int | None:
        """Waits ``grace`` seconds for a clean exit, then kills; never leaves a process behind."""
        try:
            return self.process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self.process.kill()
            try:
                return self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:  # pragma: no cover - a process that ignores SIGKILL
                return None

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""


class Emulator(ABC):
    name: ClassVar[str]
    executable_name: ClassVar[str]
    latency_unit: ClassVar[str]
    latency_source: ClassVar[str]
    install_hint: ClassVar[str]
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.INPUT_UPLOAD})
    options_type: ClassVar[type[TargetOptions]] = TargetOptions

    def executable(self) -> str | None:
        return shutil.which(self.executable_name)

    def require(self) -> str:
        exe = self.executable()
        if not exe:
            raise UserError(f"{self.name}: `{self.executable_name}` is not on PATH", self.install_hint)
        return exe

    def supports(self, board: Board) -> str | None:
        if self.name not in board.targets:
            return f"{self.name} cannot emulate board `{board.id}`"
        return None

    @abstractmethod
    def start(self, image: Image, workdir: Path, options: RunOptions) -> RunningEmulator: ...

    @abstractmethod
    def units_per_tick(self, hello_tick_hz: int, tick_unit: str) -> float:
        """How many ``latency_unit`` one timer tick of the image is under this emulator."""

    @abstractmethod
    def status(self) -> list[ToolStatus]: ...


def connect_with_retry(url: str, running: RunningEmulator, timeout: float = 20.0) -> SerialLink:
    """Connects to the emulator's UART socket, retrying while the emulator starts listening."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if not running.is_alive():
            raise UserError(
                f"{running.name} exited before its UART was ready: {running.log_text().strip()[-500:]}",
                "command: " + " ".join(running.command),
            )
        try:
            return SerialLink.open(url)
        except LinkClosed as exc:
            last_error = exc
            time.sleep(0.05)
    raise UserError(f"could not connect to {running.name}'s UART at {url}: {last_error}", "is the port blocked?")


class EmulatorTarget(Target):
    """Runs images in an emulator; the same session code serves every emulator."""


    def __init__(self, emulator: Emulator):
        self.emulator = emulator
        self.name = emulator.name
        self.capabilities = emulator.capabilities
        self.options_type = emulator.options_type

    def supports(self, board: Board) -> str | None:
        return self.emulator.supports(board)

    def status(self) -> list[ToolStatus]:
        return self.emulator.status()

    @contextmanager
    def do_session(self, image: Image, options: RunOptions) -> Iterator[Session]:
        started = time.monotonic()
        running = self.emulator.start(image, image.elf.parent, options)
        link: SerialLink | None = None
        try:
            link = connect_with_retry(running.serial_url, running)
            session = Session(link, running.serial_url, running.is_alive, {"command": running.command})
            yield session
            # The conversation is over: `exit` ends the emulator cleanly (a plugin reports then).
            link.command("exit", status=0)
            try:
                link.collect(until=("done",), timeout=5.0, is_alive=running.is_alive, eof_is_error=False)
            except LinkClosed:
                pass
        except UserError as exc:
            # The emulator's own words help, except its routine start-up notices.
            said = [l for l in running.log_text().splitlines() if l.strip() and "waiting for connection" not in l]
            if said:
                exc.message += f"\n  {self.name} said: " + "\n  ".join(said[-5:])[-400:]
            if exc.hint:
                exc.hint = exc.hint.replace("<elf>", str(image.elf))
            raise
        finally:
            if link is not None:
                close_link(link, options)
            running.stop()
        running.log_path.unlink(missing_ok=True)  # kept only when the run failed
        session.facts["emulator_wall_s"] = time.monotonic() - started

    def latency(self, session: Session, image: Image) -> tuple[str, str, float]:
        tick_unit, tick_hz, _ = hello_timing(session.link.records)
        return self.emulator.latency_unit, self.emulator.latency_source, self.emulator.units_per_tick(tick_hz, tick_unit)

    def run_log(self, session: Session, image: Image) -> RunLog:
        return RunLog.from_link(session.link, target=self.name, emulator=self.emulator.name, port=session.port,
                                latency=self.latency(session, image), extra=session.facts)
