"""What a lab writes to share boards through labgrid: exporter resources and place set-up.

``exporter_config`` renders the YAML a ``labgrid-exporter`` reads; ``place_commands`` the
``labgrid-client`` calls that make a place of an exported group. Tests start a loopback lab
from the same functions docs/labgrid.md shows.

A Nano 33 BLE is matched by its USB path (udev ``ID_PATH``), never by its USB ID: the ID
changes when the board enters its bootloader (2341:805a → 2341:005a), the path does not.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import yaml

from mcubench.core.errors import UserError


@dataclass(frozen=True)
class SerialExport:
    """One exported serial port, in its own resource group (one group per board)."""

    group: str
    device: str | None = None  # RawSerialPort: a fixed device path (must start with /dev/)
    usb_path: str | None = None  # USBSerialPort: udev ID_PATH of the board's USB port
    speed: int = 115200

    def resource(self) -> dict:
        if (self.device is None) == (self.usb_path is None):
            raise UserError(f"export `{self.group}`: give exactly one of a device path or a USB path", "see docs/labgrid.md")
        if self.device is not None:
            if not self.device.startswith("/dev/"):
                # labgrid's exporter refuses to start ser2net on anything else.
                raise UserError(f"export `{self.group}`: RawSerialPort path {self.device!r} must start with /dev/",
                                "link the port under /dev/ (e.g. socat pty,link=/dev/NAME …)")
            return {"RawSerialPort": {"port": self.device, "speed": self.speed}}
        return {"USBSerialPort": {"match": {"ID_PATH": self.usb_path}, "speed": self.speed}}


def exporter_config(exports: list[SerialExport]) -> str:
    groups: dict[str, dict] = {}
    for export in exports:
        if export.group in groups:
            raise UserError(f"export group `{export.group}` given twice", "one group per board")
        groups[export.group] = export.resource()
    return yaml.safe_dump(groups, sort_keys=False)


@dataclass(frozen=True)
class PlaceSpec:
    name: str
    exporter: str  # the exporter's -n NAME
    group: str
    tags: dict[str, str] = field(default_factory=dict)

    def commands(self) -> list[list[str]]:
        """``labgrid-client -p NAME …`` argument lists that create the place (run each once)."""
        cmds = [["-p", self.name, "create"], ["-p", self.name, "add-match", f"{self.exporter}/{self.group}/*"]]
        if self.tags:
            cmds.append(["-p", self.name, "set-tags", *[f"{k}={v}" for k, v in sorted(self.tags.items())]])
        return cmds
