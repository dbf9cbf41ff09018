"""`mcubench monitor [PORT|URL]`: a serial monitor that understands the protocol.

Shows every line as it arrives and, under a record, what it means; logs the raw session to a
file; when the port vanishes (a USB CDC board resets or is re-flashed) it waits for the board
to come back, found again by VID:PID, and carries on. Works on ``socket://`` (an emulator's
UART) and ``rfc2217://`` as well as local ports.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, TextIO

import serial

from mcubench.core.boards import load_board
from mcubench.core.errors import UserError
from mcubench.core.paths import results_dir
from mcubench.link.protocol import Decoder, Record, encode_record
from mcubench.link.transport import open_serial
from mcubench.targets.hardware import describe_ports, ids_text, system_ports

RECORD_MAX = 512


def describe(record: Record) -> str:
    """A record in words (units where the record says what they are)."""
    f = record.fields
    t = record.type
    if t == "hello":
        return (f"device up: board {f.get('board')} ({f.get('port')} port), {f.get('runtime')} workload "
                f"{f.get('workload')}, clock {int(f.get('clock_hz', 0)) / 1e6:g} MHz, ticks are "
                f"{f.get('tick_unit')} at {int(f.get('tick_hz', 0)):,} Hz, build {f.get('build')}")
    if t == "build":
        return f"compiled with {f.get('cc')} {f.get('cflags')}"
    if t == "cfg":
        params = " ".join(f"{k[2:]}={v}" for k, v in f.items() if k.startswith("p_"))
        return f"benchmark: {f.get('warmup')} warm-up + {f.get('runs')} timed runs {params}".rstrip()
    if t == "run":
        return f"run #{f.get('i')}: {int(f.get('ticks', 0)):,} ticks"
    if t == "op":
        runs = max(int(f.get("runs", 1) or 1), 1)
        return f"op #{f.get('idx')} {f.get('name')}: {int(f.get('ticks', 0)) / runs:,.0f} ticks per run"
    if t == "mem":
        parts = [f"stack {int(f.get('stack_used', 0)):,}/{int(f.get('stack_size', 0)):,} B"]
        if "arena_used" in f:
            parts.append(f"arena {int(f['arena_used']):,}/{int(f.get('arena_size', 0)):,} B")
        return "memory: " + ", ".join(parts)
    if t == "out":
        return f"output: {f.get('len')} bytes, crc32 {f.get('crc32')}"
    if t == "outd":
        return f"output bytes at {f.get('off')}: {f.get('hex', '').lower()}"
    if t == "err":
        extra = " ".join(f"{k}={v}" for k, v in f.items() if k not in ("code", "msg"))
        return f"ERROR {f.get('code')}: {f.get('msg')} {extra}".rstrip()
    if t == "done":
        return f"done ({f.get('status')})"
    if t == "ready":
        return "ready for commands"
    if t == "log":
        return f"device says: {f.get('msg')}"
    if t == "cmd":
        return f"command sent: {' '.join(f'{k}={v}' for k, v in f.items())}"
    return " ".join(f"{k}={v}" for k, v in f.items())


@dataclass
class MonitorStats:
    lines: int = 0
    records: int = 0
    noise: int = 0
    reconnects: int = 0
    types: dict[str, int] = field(default_factory=dict)


class Monitor:
    """One monitor session. ``open_port(name)`` opens a pyserial-like port; ``find_port()``
    returns the board's current port name (by VID:PID) or None; both are injected so tests
    replay transcripts and port listings."""

    def __init__(
        self,
        port_name: str,
        open_port: Callable[[str], Any],
        out: TextIO,
        log_file: Any | None = None,
        find_port: Callable[[], str | None] | None = None,
        reconnect_wait: float = 30.0,
        until: str | None = None,
        duration: float | None = None,
        commands: list[str] | None = None,
        raw: bool = True,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.port_name = port_name
        self.open_port = open_port
        self.out = out
        self.log_file = log_file
        self.find_port = find_port
        self.reconnect_wait = reconnect_wait
        self.until = until
        self.duration = duration
        self.commands = list(commands or [])
        self.raw = raw
        self.clock = clock
        self.sleep = sleep
        self.decoder = Decoder()
        self.stats = MonitorStats()
        self._line = bytearray()
        self._done = False

    def say(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def _handle_line(self, line: bytes) -> None:
        self.stats.lines += 1
        text = line.decode("latin-1").rstrip("\r")
        records = self.decoder.feed(bytes(line) + b"\n")
        if self.raw or not records:
            self.say(("  " if records else "~ ") + text)
        if not records:
            self.stats.noise += 1
        for record in records:
            self.stats.records += 1
            self.stats.types[record.type] = self.stats.types.get(record.type, 0) + 1
            self.say(f"» {describe(record)}")
            if self.until and record.type == self.until:
                self._done = True

    def feed(self, data: bytes) -> None:
        if self.log_file is not None:
            self.log_file.write(data)
            self.log_file.flush()
        for byte in data:
            if byte == 0x0A:
                self._handle_line(bytes(self._line))
                self._line.clear()
            elif len(self._line) < 4 * RECORD_MAX:
                self._line.append(byte)

    def _send_commands(self, port: Any) -> None:
        for command in self.commands:
            name, _, rest = command.partition(",")
            fields: dict[str, object] = {"name": name}
            for pair in filter(None, rest.split(",")):
                key, eq, value = pair.partition("=")
                if not eq:
                    raise UserError(f"--send {command!r}: `{pair}` is not KEY=VALUE", "e.g. --send bench,runs=10")
                fields[key] = value
            line = encode_record("cmd", fields)
            port.write(line)
            port.flush()
            self.say(f"» command sent: {line.decode().strip()}")

    def _reopen(self) -> Any | None:
        """Waits for the board to come back (by VID:PID, or the same URL) and reopens it."""
        deadline = self.clock() + self.reconnect_wait
        self.say(f"[{self.port_name} is gone; waiting up to {self.reconnect_wait:.0f} s for it to come back]")
        while self.clock() < deadline:
            name = self.find_port() if self.find_port else self.port_name
            if name:
                try:
                    port = self.open_port(name)
                except (serial.SerialException, OSError, UserError):
                    port = None
                if port is not None:
                    self.stats.reconnects += 1
                    self.port_name = name
                    self._line.clear()  # a line cut by the reset is noise, not half a record
                    self.say(f"[reconnected on {name}]")
                    return port
            self.sleep(0.25)
        self.say(f"[{self.port_name} did not come back within {self.reconnect_wait:.0f} s]")
        return None

    def run(self) -> MonitorStats:
        start = self.clock()
        port = self.open_port(self.port_name)
        self.say(f"[monitoring {self.port_name}; Ctrl-C to stop]")
        self._send_commands(port)
        try:
            while not self._done:
                if self.duration is not None and self.clock() - start >= self.duration:
                    break
                try:
                    waiting = getattr(port, "in_waiting", 0) or 1
                    data = port.read(min(max(waiting, 1), 4096))
                except (serial.SerialException, OSError):
                    try:
                        port.close()
                    except (serial.SerialException, OSError):
                        pass
                    port = self._reopen() if self.reconnect_wait > 0 else None
                    if port is None:
                        break
                    continue
                if data:
                    self.feed(data)
        except KeyboardInterrupt:
            self.say("[stopped]")
        finally:
            if port is not None:
                try:
                    port.close()
                except (serial.SerialException, OSError):
                    pass
        if self._line:
            self._handle_line(bytes(self._line))
            self._line.clear()
        s = self.decoder.stats
        self.say(f"[{self.stats.lines} lines, {self.stats.records} records, {self.stats.noise} noise lines, "
                 f"{s.bad_checksum} bad checksums, {self.stats.reconnects} reconnects]")
        return self.stats


def open_serial_port(name: str, baudrate: int = 115200) -> Any:
    return open_serial(name, baudrate=baudrate, read_timeout=0.1)


def board_finder(board_id: str) -> Callable[[], str | None]:
    board = load_board(board_id)
    ids = board.usb_ids("sketch")

    def find() -> str | None:
        found = [p.device for p in system_ports() if p.matches(ids)]
        return found[0] if found else None

    return find


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("monitor", help="serial monitor that decodes protocol records and follows a re-enumerating board")
    p.add_argument("port", nargs="?", help="port or URL (socket://host:port, rfc2217://...); default: find --board by USB ID")
    p.add_argument("--board", default="nano33ble", help="board to look for by VID:PID (default nano33ble)")
    p.add_argument("--baud", type=int, default=115200)
    p.add_argument("--log", type=Path, help="session log file (raw bytes; default results/monitor/<time>.log)")
    p.add_argument("--until", help="stop after a record of this type (e.g. done)")
    p.add_argument("--duration", type=float, help="stop after this many seconds")
    p.add_argument("--send", action="append", default=[], metavar="NAME[,K=V...]", help="send a command after connecting, e.g. info or bench,runs=10")
    p.add_argument("--reconnect-wait", type=float, default=30.0, help="seconds to wait for a vanished port (0: do not reconnect)")
    p.add_argument("--decoded-only", action="store_true", help="hide the raw lines of records")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    find = None
    name = args.port
    if not name or "://" not in name:
        find = board_finder(args.board)
    if not name:
        name = find() if find else None
        if not name:
            board = load_board(args.board)
            raise UserError(
                f"no {board.name} found (USB {ids_text(board.usb_ids('sketch'))}); {describe_ports(system_ports())}",
                "plug the board in, or give a port or URL: mcubench monitor /dev/ttyACM0 | socket://127.0.0.1:4321",
            )
    log_path = args.log or results_dir() / "monitor" / f"{time.strftime('%Y%m%d-%H%M%S')}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log_file:
        monitor = Monitor(
            name, lambda n: open_serial_port(n, args.baud), sys.stdout, log_file=log_file,
            find_port=find if "://" not in name else None, reconnect_wait=args.reconnect_wait,
            until=args.until, duration=args.duration, commands=args.send, raw=not args.decoded_only,
        )
        monitor.run()
    print(f"session log: {log_path}")
    return 0
