"""`mcubench monitor [PORT|URL]`: a serial monitor that understands the protocol.

Shows every line as it arrives and, under a record, what it means; logs the raw session to a
file; when the port vanishes (a USB CDC board resets or is re-flashed) it waits for the board
to come back, found again by VID:PID, and carries on. Works on ``socket://`` (an emulator's
UART) and ``rfc2217://`` as well as local ports.
"""

from __future__ import annotations

import argparse
import os
import re
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
LINE_MAX = 4 * RECORD_MAX  # longer lines are cut: no record is that long

# What a terminal would act on: C0/C1 controls (ESC sequences, NUL, BEL...) and the bidirectional
# overrides and isolates that reorder what is shown (U+202A-U+202E, U+2066-U+2069).
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """``text`` with every character a terminal would act on shown as an escape (\\x1b, \\u202e)."""
    return _UNSAFE.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}", text)


def _num(fields: dict[str, str], key: str) -> int:
    """A numeric field; ValueError (with the field named) when it is missing or not a number."""
    value = fields.get(key, "0")
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{key}={value} is not a number") from None


def describe(record: Record) -> str:
    """A record in words (units where the record says what they are). ValueError when a field
    that must be a number is not one."""
    f = record.fields
    t = record.type
    if t == "hello":
        return (f"device up: board {f.get('board')} ({f.get('port')} port), {f.get('runtime')} workload "
                f"{f.get('workload')}, clock {_num(f, 'clock_hz') / 1e6:g} MHz, ticks are "
                f"{f.get('tick_unit')} at {_num(f, 'tick_hz'):,} Hz, build {f.get('build')}"
                + (f", instruction cache {f['icache']}" if "icache" in f else ""))
    if t == "build":
        return f"compiled with {f.get('cc')} {f.get('cflags')}"
    if t == "cfg":
        params = " ".join(f"{k[2:]}={v}" for k, v in f.items() if k.startswith("p_"))
        return f"benchmark: {f.get('warmup')} warm-up + {f.get('runs')} timed runs {params}".rstrip()
    if t == "run":
        return f"run #{f.get('i')}: {_num(f, 'ticks'):,} ticks"
    if t == "op":
        runs = max(_num(f, "runs"), 1)
        return f"op #{f.get('idx')} {f.get('name')}: {_num(f, 'ticks') / runs:,.0f} ticks per run"
    if t == "mem":
        parts = [f"stack {_num(f, 'stack_used'):,}/{_num(f, 'stack_size'):,} B"]
        if "arena_used" in f:
            parts.append(f"arena {_num(f, 'arena_used'):,}/{_num(f, 'arena_size'):,} B")
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
    malformed: int = 0  # a valid checksum, but a field that must be a number is not one
    overlong: int = 0  # cut at LINE_MAX
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
        self._cut = False  # the current line passed LINE_MAX
        self._done = False

    def say(self, text: str) -> None:
        """Everything shown goes through here, made safe for a terminal."""
        self.out.write(printable(text) + "\n")
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
            try:
                self.say(f"» {describe(record)}")
            except ValueError as err:
                self.stats.malformed += 1
                self.say(f"» malformed `{record.type}` record ({err}): not used")
                continue
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
                self._cut = False
            elif len(self._line) < LINE_MAX:
                self._line.append(byte)
            elif not self._cut:
                self._cut = True
                self.stats.overlong += 1

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

    def run(self, on_open: Callable[[], None] | None = None) -> MonitorStats:
        """Monitors until --until, --duration, Ctrl-C or a port that does not come back.
        ``on_open`` runs once the port is open (the CLI opens its log file then, so a refused
        connection leaves no empty log behind)."""
        start = self.clock()
        port = self.open_port(self.port_name)
        if on_open is not None:
            on_open()
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
                 f"{s.bad_checksum} bad checksums, {s.malformed + self.stats.malformed} malformed records, "
                 f"{self.stats.overlong} overlong lines, {self.stats.reconnects} reconnects]")
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
    p.add_argument("--log", type=Path, help="session log file, or a directory for one (raw bytes; default results/monitor/<time>.log)")
    p.add_argument("--until", help="stop after a record of this type (e.g. done)")
    p.add_argument("--duration", type=float, help="stop after this many seconds")
    p.add_argument("--send", action="append", default=[], metavar="NAME[,K=V...]", help="send a command after connecting, e.g. info or bench,runs=10")
    p.add_argument("--reconnect-wait", type=float, default=30.0, help="seconds to wait for a vanished port (0: do not reconnect)")
    p.add_argument("--decoded-only", action="store_true", help="hide the raw lines of records")
    p.set_defaults(func=run)
    return p


def session_log_path(given: Path | None) -> Path:
    """--log as given; a directory (existing, or written with a trailing /) gets a timestamped
    file in it; nothing given: results/monitor/<time>.log."""
    name = f"{time.strftime('%Y%m%d-%H%M%S')}.log"
    if given is None:
        return results_dir() / "monitor" / name
    if given.is_dir() or str(given).endswith("/"):
        return given / name
    if given.exists() and not given.is_file():
        raise UserError(f"--log {given} is not a regular file", "give a file or a directory for the session log")
    return given


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
    log_path = session_log_path(args.log)
    try:  # checked before connecting: a session is not lost to an unwritable log
        log_path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(f"cannot create the session log's folder {log_path.parent}: {err.strerror}", "give another --log") from None
    if not os.access(log_path.parent, os.W_OK) or (log_path.exists() and not os.access(log_path, os.W_OK)):
        raise UserError(f"cannot write the session log {log_path}", "give another --log")
    monitor = Monitor(
        name, lambda n: open_serial_port(n, args.baud), sys.stdout,
        find_port=find if "://" not in name else None, reconnect_wait=args.reconnect_wait,
        until=args.until, duration=args.duration, commands=args.send, raw=not args.decoded_only,
    )

    def open_log() -> None:
        monitor.log_file = open(log_path, "ab")

    try:
        monitor.run(on_open=open_log)
    finally:
        if monitor.log_file is not None:
            monitor.log_file.close()
    print(f"session log: {log_path}")
    return 0
