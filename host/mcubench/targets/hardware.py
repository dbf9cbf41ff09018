"""A real board over USB serial: find it by VID:PID, flash it, follow it through re-enumeration.

The Nano 33 BLE's ``Serial`` is USB CDC, so its port vanishes and comes back, possibly under
another name, whenever the board resets: on the 1200-bps touch that starts the bootloader
(USB ID ``2341:005a``), and when the new sketch (``2341:805a``) boots after the upload. The
sequence is therefore:

1. find the board by the USB IDs in ``boards/<board>.json`` (or take ``--port``);
2. unless it already sits in the bootloader, touch its port at 1200 bps and wait for the
   bootloader to enumerate;
3. ``pio run -t upload --upload-port <bootloader port>``;
4. wait for the sketch's port to come back, open it (retrying while the OS finishes setting it
   up) and run the shared benchmark session.

Every wait is time-boxed and fails with one line naming what was awaited and the ports seen.
Port listings, processes, serial ports and the clock are injected through the constructor, so
tests replay recorded listings and transcripts instead of monkeypatching globals.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

from mcubench.core.boards import Board, UsbId
from mcubench.core.errors import UserError
from mcubench.core.pio_offline import pio_executable
from mcubench.core.types import Image, RunOptions
from mcubench.link.transport import LinkClosed, SerialLink
from mcubench.targets.base import Capability, Session, Target, ToolStatus, board_latency, close_link

BOOTLOADER_WAIT_S = 10.0  # 1200-bps touch -> bootloader port present
UPLOAD_TIMEOUT_S = 180.0
REENUMERATE_WAIT_S = 20.0  # upload done -> sketch port present
OPEN_RETRY_S = 5.0  # port listed -> port openable (udev permissions, CDC set-up)
POLL_S = 0.2


@dataclass(frozen=True)
class PortInfo:
    """One entry of a port listing, as pyserial's ``list_ports.comports()`` reports it."""

    device: str
    vid: int | None = None
    pid: int | None = None
    serial_number: str | None = None
    description: str = ""
    hwid: str = ""

    @classmethod
    def from_pyserial(cls, info: Any) -> "PortInfo":
        return cls(
            device=info.device,
            vid=getattr(info, "vid", None),
            pid=getattr(info, "pid", None),
            serial_number=getattr(info, "serial_number", None),
            description=getattr(info, "description", "") or "",
            hwid=getattr(info, "hwid", "") or "",
        )

    def usb_id(self) -> str:
        return f"{self.vid:04x}:{self.pid:04x}" if self.vid is not None and self.pid is not None else "no USB ID"

    def matches(self, ids: Iterable[UsbId]) -> bool:
        return any(self.vid == u.vid and self.pid == u.pid for u in ids)


def system_ports() -> list[PortInfo]:
    from serial.tools import list_ports

    return [PortInfo.from_pyserial(p) for p in list_ports.comports()]


def describe_ports(ports: Sequence[PortInfo]) -> str:
    if not ports:
        return "no serial ports at all"
    return "ports seen: " + ", ".join(f"{p.device} ({p.usb_id()}{', ' + p.description if p.description else ''})" for p in ports)


def ids_text(ids: Sequence[UsbId]) -> str:
    return " or ".join(f"{u.vid:04x}:{u.pid:04x} ({u.mode})" for u in ids)


def touch_1200bps(device: str, serial_factory: Callable[..., Any] | None = None) -> None:
    """Open the port at 1200 baud and drop DTR: the Arduino core's request to enter the bootloader."""
    import serial

    factory = serial_factory or serial.Serial
    try:
        port = factory(device, baudrate=1200)
        try:
            port.dtr = False
        finally:
            port.close()
    except (serial.SerialException, OSError) as exc:
        # The board may reset while we still hold the port: that is the point of the touch.
        if "disconnected" not in str(exc).lower() and "no such" not in str(exc).lower():
            raise UserError(f"1200-bps touch on {device} failed: {exc}", "check permissions on the port (dialout group)") from None


class HardwareTarget(Target):
    name = "hardware"
    capabilities = frozenset({Capability.INPUT_UPLOAD, Capability.RESET, Capability.RECONNECT})

    def __init__(
        self,
        list_ports: Callable[[], list[PortInfo]] | None = None,
        popen: Callable[..., Any] | None = None,
        open_link: Callable[[str, int], SerialLink] | None = None,
        serial_factory: Callable[..., Any] | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        pio: str | None = None,
        log: Callable[[str], None] | None = None,
    ):
        self.list_ports = list_ports or system_ports
        self.popen = popen or subprocess.Popen
        self.open_link = open_link or (lambda url, baud: SerialLink.open(url, baud))
        self.serial_factory = serial_factory
        self.clock = clock
        self.sleep = sleep
        self._pio = pio
        self.log = log or (lambda line: None)

    # ------------------------------------------------------------------ finding the board

    def find_port(self, board: Board, modes: Sequence[str] = ("sketch", "bootloader")) -> PortInfo:
        """The board's port by USB ID; a one-line error listing the ports seen otherwise."""
        ids = [u for m in modes for u in board.usb_ids(m)]
        ports = self.list_ports()
        found = [p for p in ports if p.matches(ids)]
        if not found:
            raise UserError(
                f"no {board.name} found (USB {ids_text(ids)}); {describe_ports(ports)}",
                "plug the board in (a data cable, not a charge-only one), double-tap reset for the bootloader, "
                "or give --port",
            )
        if len(found) > 1:
            names = ", ".join(p.device for p in found)
            raise UserError(f"{len(found)} boards match {board.id} ({names})", "choose one with --port")
        return found[0]

    def wait_for_port(self, board: Board, mode: str, timeout: float, what: str = "") -> PortInfo:
        """Polls the port listing until the board shows up in ``mode`` (the sketch and the
        bootloader have different USB IDs, so the old port's name coming back does not fool it)."""
        ids = board.usb_ids(mode)
        deadline = self.clock() + timeout
        while True:
            ports = self.list_ports()
            found = [p for p in ports if p.matches(ids)]
            if found:
                return found[0]
            if self.clock() >= deadline:
                raise UserError(
                    f"{board.id}: {what or mode + ' port'} did not appear within {timeout:.0f} s "
                    f"(waiting for USB {ids_text(ids)}); {describe_ports(ports)}",
                    "press reset twice quickly to force the bootloader, then run again with --port",
                )
            self.sleep(POLL_S)

    # ------------------------------------------------------------------ the steps

    def enter_bootloader(self, board: Board, port: PortInfo) -> PortInfo:
        if port.matches(board.usb_ids("bootloader")):
            return port
        if not board.upload.get("use_1200bps_touch"):
            return port
        self.log(f"1200-bps touch on {port.device} to start the bootloader")
        touch_1200bps(port.device, self.serial_factory)
        return self.wait_for_port(board, "bootloader", BOOTLOADER_WAIT_S, what="the bootloader's port after the 1200-bps touch")

    def pio_executable(self) -> str:
        if self._pio:
            return self._pio

        return pio_executable()

    def upload_command(self, image: Image, port: str) -> list[str]:
        return [
            self.pio_executable(), "run", "--project-dir", str(image.project_dir), "--environment", image.env,
            "--target", "upload", "--upload-port", port,
        ]

    def upload(self, image: Image, port: str) -> str:
        cmd = self.upload_command(image, port)
        self.log("$ " + " ".join(cmd))
        try:
            proc = self.popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        except OSError as exc:
            raise UserError(f"cannot run PlatformIO for the upload: {exc}", "is PlatformIO installed (mcubench doctor)?") from None
        try:
            output, _ = proc.communicate(timeout=UPLOAD_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise UserError(f"upload to {port} took longer than {UPLOAD_TIMEOUT_S:.0f} s", "unplug and replug the board, then retry") from None
        log_path = Path(image.project_dir) / "upload.log"
        try:
            log_path.write_text("$ " + " ".join(cmd) + "\n" + (output or ""))
        except OSError:
            pass
        if proc.returncode != 0:
            tail = " | ".join(line.strip() for line in (output or "").splitlines()[-4:] if line.strip())
            raise UserError(f"upload to {port} failed (exit {proc.returncode}): {tail}", f"full log: {log_path}")
        return output or ""

    def open_when_ready(self, device: str, baudrate: int) -> SerialLink:
        """Opens a freshly enumerated port, retrying while the OS still sets it up."""
        deadline = self.clock() + OPEN_RETRY_S
        while True:
            try:
                return self.open_link(device, baudrate)
            except LinkClosed as exc:
                if self.clock() >= deadline:
                    raise UserError(f"{device} appeared but cannot be opened: {exc.message}", "check permissions (dialout group)") from None
                self.sleep(POLL_S)

    # ------------------------------------------------------------------ the run

    def supports(self, board: Board) -> str | None:
        reason = super().supports(board)
        if reason is None and not board.usb:
            return f"board `{board.id}` has no USB IDs in its board file, so it cannot be found"
        return reason

    @contextmanager
    def do_session(self, image: Image, options: RunOptions) -> Iterator[Session]:
        board = image.board
        baud = int(board.serial.get("baudrate", 115200))
        if options.port and "://" in options.port:
            # A URL (rfc2217://, socket://): a remote or bridged board someone else flashed.
            device = options.port
        else:
            port = PortInfo(options.port) if options.port else self.find_port(board)
            if options.port:
                listed = [p for p in self.list_ports() if p.device == options.port]
                port = listed[0] if listed else port
            loader = self.enter_bootloader(board, port)
            self.upload(image, loader.device)
            back = self.wait_for_port(board, "sketch", REENUMERATE_WAIT_S, what="the board's port after the upload")
            device = back.device
        link = self.open_when_ready(device, baud)
        try:
            yield Session(link, device)
        finally:
            close_link(link, options)

    def latency(self, session: Session, image: Image) -> tuple[str, str, float]:
        return board_latency(session.link.records, image, session.port)

    def status(self) -> list[ToolStatus]:
        found = []
        try:
            import serial  # noqa: F401

            found.append(ToolStatus("pyserial", True, "installed"))
        except ImportError:  # pragma: no cover - a dependency of the package
            found.append(ToolStatus("pyserial", False, "not installed", "pip install pyserial"))
        pio = shutil.which("pio") or shutil.which("platformio")
        found.append(ToolStatus("platformio (upload)", bool(pio) or self._pio is not None, pio or "bundled with mcubench"))
        try:
            ports = self.list_ports()
        except Exception as exc:  # noqa: BLE001 - a broken listing must not break doctor
            ports = []
            found.append(ToolStatus("serial ports", False, f"cannot list: {exc}", required=False))
        found.append(ToolStatus("serial ports", True, describe_ports(ports), required=False))
        return found
