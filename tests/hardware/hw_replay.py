"""Replay helpers for the hardware path: recorded port listings, a scripted upload process,
a serial port that plays a transcript back, and a clock that advances only when slept on."""

from __future__ import annotations

import json
from pathlib import Path

import serial

from mcubench.link.transport import SerialLink
from mcubench.targets.hardware import PortInfo

FIXTURES = Path(__file__).parent / "fixtures"


def load_snapshots(name: str) -> list[list[PortInfo]]:
    data = json.loads((FIXTURES / name).read_text())
    snaps = []
    for snap in data["snapshots"]:
        snaps.append([
            PortInfo(
                device=p["device"],
                vid=int(p["vid"], 16) if p.get("vid") else None,
                pid=int(p["pid"], 16) if p.get("pid") else None,
                serial_number=p.get("serial_number"),
                description=p.get("description", ""),
                hwid=p.get("hwid", ""),
            )
            for p in snap
        ])
    return snaps


class ReplayPorts:
    """Each call returns the next recorded snapshot; the last one repeats."""

    def __init__(self, snapshots: list[list[PortInfo]]):
        self.snapshots = snapshots
        self.calls = 0

    def __call__(self) -> list[PortInfo]:
        snap = self.snapshots[min(self.calls, len(self.snapshots) - 1)]
        self.calls += 1
        return list(snap)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.slept += seconds


class FakeProcess:
    def __init__(self, output: str, returncode: int = 0):
        self.output = output
        self.returncode = returncode

    def communicate(self, timeout: float | None = None):
        return self.output, None

    def kill(self) -> None:  # pragma: no cover - only on timeouts
        pass


class FakePopen:
    """Records the commands it was asked to run and plays back a recorded upload log."""

    def __init__(self, output: str, returncode: int = 0, on_run=None):
        self.output = output
        self.returncode = returncode
        self.commands: list[list[str]] = []
        self.on_run = on_run

    def __call__(self, cmd, **kwargs):
        self.commands.append(list(cmd))
        if self.on_run:
            self.on_run()
        return FakeProcess(self.output, self.returncode)


class ReplaySerial:
    """A pyserial-like port that returns a transcript in the given chunks, records writes,
    and after the chunks either goes quiet or vanishes (as an unplugged USB CDC port does)."""

    def __init__(self, chunks: list[bytes], vanish_at_end: bool = False, name: str = "/dev/ttyACM1"):
        self.chunks = list(chunks)
        self.vanish_at_end = vanish_at_end
        self.written: list[bytes] = []
        self.portstr = name
        self.port = name
        self.closed = False
        self.dtr = True
        self.rts = False

    @property
    def in_waiting(self) -> int:
        return len(self.chunks[0]) if self.chunks else 0

    def read(self, n: int = 1) -> bytes:
        if not self.chunks:
            if self.vanish_at_end:
                raise serial.SerialException("device reports readiness to read but returned no data (device disconnected?)")
            return b""
        chunk = self.chunks.pop(0)
        return chunk

    def write(self, data: bytes) -> int:
        self.written.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


def split_every(data: bytes, sizes: list[int]) -> list[bytes]:
    """Cuts ``data`` into chunks cycling through ``sizes`` (splits land mid-record)."""
    out, i, k = [], 0, 0
    while i < len(data):
        n = sizes[k % len(sizes)]
        out.append(data[i : i + n])
        i += n
        k += 1
    return out


def replay_link(data: bytes, sizes: list[int] = (7, 61, 3, 130), vanish_at_end: bool = False, name: str = "/dev/ttyACM1") -> SerialLink:
    return SerialLink(ReplaySerial(split_every(data, list(sizes)), vanish_at_end, name), name=name)
