"""Uploading an image to a board that sits on a labgrid exporter host.

The upload tool runs on the exporter host, where the board's USB port is: directly when that
host is this machine, else through labgrid's own ssh handling (``ManagedFile`` copies the
file, ``NetworkResource.wrap_command`` prefixes the command), as labgrid's drivers do.

One ``Uploader`` per upload protocol of the board data (``boards/*.json`` ``upload.protocol``),
in an explicit registry. The Nano 33 BLE's is ``sam-ba``: a 1200-bps touch on the sketch's
port resets the board into its bootloader (it re-enumerates with another USB ID on the same
USB path), then ``bossac`` writes the binary and resets the board into the new sketch.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import socket
import subprocess
import tempfile
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, ClassVar

from mcubench.core.errors import UserError


class Uploader(ABC):
    protocol: ClassVar[str]
    tool: ClassVar[str]
    touch_1200bps: ClassVar[bool] = False  # reset into the bootloader by opening the port at 1200 baud
    install_hint: ClassVar[str]

    @abstractmethod
    def command(self, device: str, firmware: str) -> list[str]:
        """The exact command line run on the exporter host for ``device`` (/dev/…) and a file there."""

    def artifact(self, elf: Path) -> Path:
        """The file the tool writes: a raw binary made from the ELF (PlatformIO's firmware.bin)."""
        return elf_to_bin(elf)


class BossacUploader(Uploader):
    """SAM-BA bootloaders (Arduino Nano 33 BLE): what PlatformIO runs for protocol `sam-ba`."""

    protocol = "sam-ba"
    tool = "bossac"
    touch_1200bps = True
    install_hint = "put `bossac` on the exporter host's PATH (PlatformIO's tool-bossac, or the Arduino core's bossac 1.9.1-arduino)"

    def command(self, device: str, firmware: str) -> list[str]:
        return [self.tool, "--port", device, "--write", "--erase", "-U", "--reset", firmware]


UPLOADERS: dict[str, type[Uploader]] = {
    "sam-ba": BossacUploader,
}


def get_uploader(protocol: str | None, board_id: str) -> Uploader:
    if not protocol:
        raise UserError(
            f"board `{board_id}` has no upload protocol, so mcubench cannot flash it on a labgrid place",
            f"give the place the tag upload=PROTOCOL (one of: {', '.join(UPLOADERS)}), or add upload.protocol to the board file",
        )
    try:
        return UPLOADERS[protocol]()
    except KeyError:
        raise UserError(
            f"upload protocol `{protocol}` (board `{board_id}`) is not supported on labgrid places",
            f"supported: {', '.join(UPLOADERS)}",
        ) from None


def elf_to_bin(elf: Path) -> Path:
    """``<elf>.bin`` beside the ELF, made with objcopy unless the build already made it."""
    out = elf.with_suffix(".bin")
    if out.is_file() and out.stat().st_mtime >= elf.stat().st_mtime:
        return out
    objcopy = shutil.which("arm-none-eabi-objcopy")
    if not objcopy:
        raise UserError("arm-none-eabi-objcopy is not on PATH", "install gcc-arm-none-eabi (bash host/dev.sh setup)")
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=out.name, suffix=".tmp")
    os.close(fd)
    try:
        subprocess.run([objcopy, "-O", "binary", str(elf), tmp], check=True, capture_output=True, timeout=60)
        os.replace(tmp, out)
    except subprocess.CalledProcessError as exc:
        raise UserError(f"objcopy could not make a binary of {elf}: {exc.stderr.decode(errors='replace').strip()}", "is the ELF valid?") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return out


def is_local_host(host: str) -> bool:
    """Whether an exporter's published host is this machine (then no ssh is needed)."""
    if host in ("localhost", socket.gethostname(), socket.getfqdn()):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        return all(ipaddress.ip_address(info[4][0]).is_loopback for info in socket.getaddrinfo(host, None))
    except (OSError, ValueError):
        return False


@dataclass
class ExporterHost:
    """Where a place's board is plugged in, as published by its exporter."""

    host: str
    log: Callable[[str], None] = lambda message: None

    @property
    def local(self) -> bool:
        return is_local_host(self.host)

    def _resource(self):
        # labgrid's own resource for the remote host: its ssh connection sharing and file sync.
        from labgrid.resource.serialport import NetworkSerialPort

        return NetworkSerialPort(target=None, name=None, host=self.host, port=0)

    def put(self, local_file: Path) -> str:
        """Makes ``local_file`` available on the exporter host; returns its path there."""
        if self.local:
            return str(local_file.resolve())
        from labgrid.util.managedfile import ManagedFile

        managed = ManagedFile(str(local_file), self._resource())
        managed.sync_to_resource()
        return managed.get_remote_path()

    def wrap(self, argv: list[str]) -> list[str]:
        if self.local:
            return list(argv)
        return self._resource().wrap_command(argv)

    def run(self, argv: list[str], timeout: float, tool_hint: str) -> subprocess.CompletedProcess:
        full = self.wrap(argv)
        self.log("$ " + " ".join(full))
        try:
            done = subprocess.run(full, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        except FileNotFoundError:
            raise UserError(f"`{argv[0]}` is not on PATH on the exporter host {self.host}", tool_hint) from None
        except subprocess.TimeoutExpired:
            raise UserError(f"`{' '.join(argv)}` on {self.host} did not finish within {timeout:.0f} s", "is the board stuck in its bootloader? unplug and replug it") from None
        if done.returncode != 0:
            said = (done.stdout + done.stderr).strip().splitlines()[-3:]
            raise UserError(
                f"upload on {self.host} failed (exit {done.returncode}): `{' '.join(argv)}`" + (": " + " ".join(said) if said else ""),
                "is the board connected and in its bootloader? see docs/labgrid.md",
            )
        return done
