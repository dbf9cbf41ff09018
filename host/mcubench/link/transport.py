"""The serial link: one collector for real ports, emulator sockets and test loopbacks.

Every link is opened with pyserial's ``serial_for_url`` so ``/dev/ttyACM0``, ``socket://…``
(an emulator's UART), ``rfc2217://…`` (a labgrid/ser2net port) and ``loop://`` (tests) go
through the same code. ``SerialLink.collect`` reads until a record type arrives, with a time
box on every wait, and turns every failure into an error that names the port and the last
thing seen on it.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import serial

from mcubench.core.errors import UserError
from mcubench.core.fileio import write_bytes_atomic
from mcubench.link.protocol import Decoder, Record, encode_record


class LinkTimeout(UserError):
    """Nothing (or not the awaited record) arrived in time."""


class LinkClosed(UserError):
    """The port vanished or the peer closed the stream before the awaited record."""


class DeviceError(UserError):
    """The device sent an `err` record."""

    def __init__(self, message: str, hint: str | None, record: Record):
        super().__init__(message, hint)
        self.record = record


@dataclass
class Transcript:
    """Everything that crossed the link, for the session log and for error messages."""

    received: bytearray = field(default_factory=bytearray)
    sent: list[bytes] = field(default_factory=list)

    def save(self, path: Path) -> None:
        write_bytes_atomic(path, bytes(self.received))


def open_serial(url: str, baudrate: int = 115200, read_timeout: float = 0.05) -> serial.SerialBase:
    """Opens a port or URL the way PlatformIO's monitor does: configure first, then open."""
    try:
        port = serial.serial_for_url(url, do_not_open=True, baudrate=baudrate, timeout=read_timeout)
        # DTR high tells a USB CDC device (Arduino mbed core) that a host is listening.
        if hasattr(port, "dtr"):
            try:
                port.dtr = True
                port.rts = False
            except (ValueError, serial.SerialException):
                pass
        if url.startswith("socket://"):
            # pyserial's socket:// open() ends with reset_input_buffer(), which throws away
            # whatever the peer already sent; an emulator may have sent its `hello` by then.
            port.reset_input_buffer = lambda: None  # type: ignore[method-assign]
        port.open()
        return port
    except (serial.SerialException, OSError, ValueError) as exc:
        raise LinkClosed(f"cannot open {url}: {exc}", "check the port name or that the emulator is running") from None


class SerialLink:
    """A protocol session over one serial port or URL."""

    def __init__(self, port: serial.SerialBase, name: str | None = None, on_bytes: Callable[[bytes], None] | None = None):
        self.port = port
        self.name = name or getattr(port, "portstr", None) or str(port.port)
        self.decoder = Decoder()
        self._pending: deque[Record] = deque()  # decoded, not yet handed out by collect
        self.transcript = Transcript()
        self.records: list[Record] = []
        self._on_bytes = on_bytes

    @classmethod
    def open(cls, url: str, baudrate: int = 115200, **kwargs) -> "SerialLink":
        return cls(open_serial(url, baudrate), name=url, **kwargs)

    def close(self) -> None:
        try:
            self.port.close()
        except (serial.SerialException, OSError):
            pass

    def __enter__(self) -> "SerialLink":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def send(self, rtype: str, fields: dict[str, object]) -> None:
        line = encode_record(rtype, fields)
        self.transcript.sent.append(line)
        try:
            self.port.write(line)
            self.port.flush()
        except (serial.SerialException, OSError) as exc:
            raise LinkClosed(f"{self.name}: writing to the device failed: {exc}", "is the board still connected?") from None

    def command(self, name: str, **fields: object) -> None:
        self.send("cmd", {"name": name, **fields})

    def last_seen(self) -> str:
        if self.records:
            return f"last record: `{self.records[-1]}`"
        tail = bytes(self.transcript.received[-160:]).decode("latin-1").strip()
        return f"last bytes: {tail!r}" if tail else "nothing at all"

    def _read_some(self) -> bytes:
        try:
            waiting = getattr(self.port, "in_waiting", 0) or 1
            data = self.port.read(min(max(waiting, 1), 4096))
        except (serial.SerialException, OSError) as exc:
            raise LinkClosed(
                f"{self.name} disappeared while reading ({exc}); {self.last_seen()}",
                "the board reset or was unplugged, or the emulator exited",
            ) from None
        return data

    def collect(
        self,
        until: Iterable[str] = ("done",),
        timeout: float = 60.0,
        idle_timeout: float | None = None,
        eof_is_error: bool = True,
        is_alive: Callable[[], bool] | None = None,
    ) -> list[Record]:
        """Reads records until one of type ``until`` arrives; returns the records read.

        ``timeout`` bounds the whole wait, ``idle_timeout`` the silence between bytes.
        ``is_alive`` lets an emulator target report that its process ended (the stream then
        cannot deliver anything more). An `err` record raises ``DeviceError``.
        """
        wanted = set(until)
        start = time.monotonic()
        last_data = start
        got: list[Record] = []
        while True:
            # Records decoded from an earlier read but not handed out yet: a read may bring the
            # wanted record and others after it, which belong to the next collect.
            while self._pending:
                record = self._pending.popleft()
                self.records.append(record)
                got.append(record)
                if record.type == "err":
                    raise DeviceError(f"{self.name}: the device reported an error: {record}", _hint_for_error(record), record)
                if record.type in wanted:
                    return got
            now = time.monotonic()
            if now - start > timeout:
                raise LinkTimeout(
                    f"{self.name}: no `{'/'.join(sorted(wanted))}` record within {timeout:.0f} s; {self.last_seen()}",
                    "the firmware may hang or run slower than expected: raise --timeout, or check the firmware",
                )
            if idle_timeout is not None and now - last_data > idle_timeout:
                raise LinkTimeout(
                    f"{self.name}: device silent for {idle_timeout:.0f} s; {self.last_seen()}",
                    "is the firmware running and is the baud rate right?",
                )
            data = self._read_some()
            if data:
                last_data = time.monotonic()
                self.transcript.received += data
                if self._on_bytes:
                    self._on_bytes(data)
                self._pending.extend(self.decoder.feed(data))
            elif is_alive is not None and not is_alive():
                # Drain what the process left in the socket, then give up.
                tail = self._read_some()
                if tail:
                    self.transcript.received += tail
                    self._pending.extend(self.decoder.feed(tail))
                    continue
                if eof_is_error:
                    raise LinkClosed(
                        f"{self.name}: the device stopped before a `{'/'.join(sorted(wanted))}` record; {self.last_seen()}",
                        "the firmware exited or crashed early",
                    )
                return got


def _hint_for_error(record: Record) -> str:
    code = record.get("code", "")
    if code == "fault":
        pc = record.get("pc")
        where = f" at pc=0x{int(pc):08X}" if pc and pc.isdigit() else ""
        return f"the firmware faulted{where}: run arm-none-eabi-addr2line -e <elf> on the pc to find where"
    if code == "setup":
        return "the workload could not be set up: check the arena size and the model's ops"
    if code == "overflow":
        return "a record was longer than the protocol allows: shorten names or report a bug"
    return "see the device's message above"
