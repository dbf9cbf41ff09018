"""Renode as the emulated Arduino Nano 33 BLE (platform `arduino_nano_33_ble`, nRF52840).

mcubench writes a `.resc` (mcubench.targets.renode_scripts) that creates the board, adds a DWT at the
64 MHz core clock, loads the ELF, serves UART0 on a raw TCP socket on loopback and starts;
the host reads the protocol from `socket://127.0.0.1:<port>` like any serial port.

Figures are Renode virtual time: Renode runs ``PerformanceInMips`` million instructions per
virtual second and its DWT counts virtual time at the core clock, so with 64 MIPS at 64 MHz
one "virtual cycle" is one executed instruction. They are labelled `virtual_cycles` from
`renode-virtual-time`, never as a real board's cycles.

The image is the bare-metal nRF52840 port (firmware/ports/nrf52840), not the Arduino one the
board uses on hardware: ``board_for_target(board, "renode")`` applies the board file's
`targets.renode` overrides (`port`, `platformio`) before rendering the project.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
from pathlib import Path

from mcubench.core.boards import Board
from mcubench.core.errors import UserError
from mcubench.core.fileio import write_text_atomic
from mcubench.core.types import Image, RunOptions, TargetOptions, options_as
from mcubench.targets.base import ToolStatus
from mcubench.targets.emulator import Emulator, RunningEmulator, free_tcp_port
from mcubench.targets.renode_scripts import RenodeMachine, check_resc, render_resc

INSTALL_HINT = (
    "install Renode 1.16 (the linux-portable package or .deb from https://github.com/renode/renode/releases) "
    "so that `renode` and `renode-test` are on PATH, and pip install -r <renode>/tests/requirements.txt; "
    "see docs/renode.md"
)


def board_for_target(board: Board, target: str) -> Board:
    """Kept for callers of this module: see ``Board.for_target``."""
    return board.for_target(target)


@dataclasses.dataclass
class RenodeProcess(RunningEmulator):
    """A Renode started with its monitor on stdin: `quit` ends it cleanly, then it is killed."""

    def stop(self, grace: float = 5.0) -> int | None:
        if self.process.poll() is None and self.process.stdin is not None:
            try:
                self.process.stdin.write(b"quit\n")
                self.process.stdin.flush()
            except (BrokenPipeError, OSError):
                pass
        code = super().stop(grace)
        if self.process.stdin is not None:
            try:
                self.process.stdin.close()
            except OSError:
                pass
        return code


@dataclasses.dataclass(frozen=True)
class RenodeOptions(TargetOptions):
    workload: str = "benchmark"  # the .resc's workload name (`mcubench emulate` passes its own)


class Renode(Emulator):
    name = "renode"
    options_type = RenodeOptions
    executable_name = "renode"
    test_executable_name = "renode-test"
    latency_unit = "virtual_cycles"
    latency_source = "renode-virtual-time"
    install_hint = INSTALL_HINT
    # Core clock for converting a peripheral timer's ticks; start() sets it from the board.
    core_clock_hz: int = 64_000_000

    def machine(self, board: Board) -> RenodeMachine:
        return RenodeMachine.from_board(board)

    def command(self, resc: Path) -> list[str]:
        # --console: the monitor reads stdin (how `stop` says quit); --disable-gui: headless;
        # --plain: no colour codes in the log.
        return [self.require(), "--console", "--disable-gui", "--plain", str(resc)]

    def start(self, image: Image, workdir: Path, options: RunOptions) -> RunningEmulator:
        machine = self.machine(image.board)
        self.core_clock_hz = machine.clock_hz
        port = free_tcp_port()
        workload = options_as(options.target, RenodeOptions).workload
        text = render_resc(machine, image.elf, port, workload)
        problems = check_resc(text)
        if problems:  # a template bug
            raise AssertionError("generated .resc breaks Renode's syntax: " + "; ".join(problems))
        resc = write_text_atomic(Path(workdir) / f"{machine.board_id}-renode-{port}.resc", text)
        cmd = self.command(resc)
        log_path = Path(workdir) / f"renode-{port}.log"  # one per run, like QEMU's
        with open(log_path, "wb") as log:
            try:
                proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT)
            except OSError as exc:
                raise UserError(f"cannot start Renode: {exc}", self.install_hint) from None
        return RenodeProcess("renode", proc, f"socket://127.0.0.1:{port}", cmd, log_path)

    def units_per_tick(self, hello_tick_hz: int, tick_unit: str) -> float:
        """Virtual cycles (at the board's core clock) per tick of the image's timer."""
        if hello_tick_hz <= 0:
            raise UserError(f"the image reported tick_hz={hello_tick_hz}", "rebuild the image for --emulator renode")
        if tick_unit == "cycles":
            return 1.0
        if tick_unit == "timer":
            # A peripheral timer at tick_hz: convert its virtual time to core-clock cycles.
            return self.core_clock_hz / hello_tick_hz
        raise UserError(
            f"this image times with `{tick_unit}`, which the Renode target does not convert",
            "build the image for --emulator renode (bare-metal nRF52840 port)",
        )

    def test_executable(self) -> str | None:
        return shutil.which(self.test_executable_name)

    def status(self) -> list[ToolStatus]:
        found = []
        for exe_name, locate in ((self.executable_name, self.executable), (self.test_executable_name, self.test_executable)):
            exe = locate()
            if not exe:
                found.append(ToolStatus(exe_name, False, "not on PATH", self.install_hint, required=False))
                continue
            detail = exe
            if exe_name == self.executable_name:
                version = renode_version(exe)
                detail = f"{version or '?'} ({exe})"
            found.append(ToolStatus(exe_name, True, detail, required=False))
        return found


def renode_version(exe: str) -> str | None:
    """`renode --version` prints e.g. "Renode v1.16.1.12345 (abcdef-...)"."""
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"v?(\d+\.\d+(?:\.\d+)*)", out.stdout + out.stderr)
    return match.group(1) if match else None
