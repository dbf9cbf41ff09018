"""Boards are data: one JSON file per board under boards/ (schema in docs/boards.md).

A ``Board`` answers "does it fit?" and tells the build and the targets what they need
(PlatformIO environment, emulator machine, USB IDs, clock, timer).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcubench.core.errors import UserError
from mcubench.core.paths import boards_dir

DEFAULT_BOARD = "mps2-an386"  # the emulated Cortex-M4F the default job runs on

@dataclass(frozen=True)
class UsbId:
    vid: int
    pid: int
    mode: str  # "sketch" or "bootloader"


@dataclass(frozen=True)
class Board:
    id: str
    name: str
    mcu: str
    core: str
    clock_hz: int
    flash_bytes: int
    ram_bytes: int
    port: str
    platformio: dict[str, Any]
    targets: dict[str, dict[str, Any]]
    default_target: str
    timer: dict[str, Any] = field(default_factory=dict)
    usb: tuple[UsbId, ...] = ()
    upload: dict[str, Any] = field(default_factory=dict)
    serial: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any], path: Path | None = None) -> "Board":
        where = str(path) if path else "board data"
        try:
            return cls(
                id=data["id"],
                name=data["name"],
                mcu=data["mcu"],
                core=data["core"],
                clock_hz=int(data["clock_hz"]),
                flash_bytes=int(data["memory"]["flash_bytes"]),
                ram_bytes=int(data["memory"]["ram_bytes"]),
                port=data["port"],
                platformio=dict(data["platformio"]),
                targets=dict(data["targets"]),
                default_target=data["default_target"],
                timer=dict(data.get("timer", {})),
                usb=tuple(UsbId(int(u["vid"], 16), int(u["pid"], 16), u["mode"]) for u in data.get("usb", [])),
                upload=dict(data.get("upload", {})),
                serial=dict(data.get("serial", {})),
                path=path,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise UserError(f"{where}: missing or invalid field {exc}", "see docs/boards.md for the board format") from None

    def for_target(self, target: str) -> "Board":
        """The board as an image for ``target`` must be built: the target's `port` and
        `platformio` overrides applied (e.g. nano33ble under Renode uses the bare-metal
        nRF52840 port instead of the Arduino core). Unchanged when the target overrides nothing."""
        overrides = self.targets.get(target) or {}
        changes: dict[str, Any] = {}
        if "port" in overrides:
            changes["port"] = str(overrides["port"])
        if "platformio" in overrides:
            changes["platformio"] = dict(overrides["platformio"])
            # The board's upload settings (sam-ba through the bootloader) belong to its own image.
            changes["upload"] = {}
        return dataclasses.replace(self, **changes) if changes else self

    def usb_ids(self, mode: str | None = None) -> list[UsbId]:
        return [u for u in self.usb if mode is None or u.mode == mode]


def load_board(board_id: str) -> Board:
    path = boards_dir() / f"{board_id}.json"
    if not path.is_file():
        known = ", ".join(sorted(all_board_ids())) or "none"
        raise UserError(f"unknown board `{board_id}`", f"choose one of: {known} (mcubench boards lists them)")
    try:
        data = json.loads(path.read_text())
    except ValueError as exc:
        raise UserError(f"{path}: not valid JSON ({exc})", "fix the board file") from None
    board = Board.from_dict(data, path)
    if board.id != board_id:
        raise UserError(f"{path}: its id is `{board.id}`, expected `{board_id}`", "make the id match the file name")
    return board


def all_board_ids() -> list[str]:
    return sorted(p.stem for p in boards_dir().glob("*.json"))


def all_boards() -> list[Board]:
    return [load_board(b) for b in all_board_ids()]


@dataclass(frozen=True)
class FitCheck:
    """Whether an image's footprint fits a board: flash, and RAM (static + stack + heap)."""

    board: str
    flash_bytes: int
    flash_limit: int
    ram_bytes: int
    ram_limit: int

    @property
    def flash_fits(self) -> bool:
        return self.flash_bytes <= self.flash_limit

    @property
    def ram_fits(self) -> bool:
        return self.ram_bytes <= self.ram_limit

    @property
    def fits(self) -> bool:
        return self.flash_fits and self.ram_fits

    def problem(self) -> str | None:
        parts = []
        if not self.flash_fits:
            parts.append(f"flash {self.flash_bytes:,} B > {self.flash_limit:,} B")
        if not self.ram_fits:
            parts.append(f"RAM {self.ram_bytes:,} B > {self.ram_limit:,} B")
        return f"does not fit {self.board}: " + ", ".join(parts) if parts else None


def check_fit(board: Board, flash_bytes: int, ram_bytes: int) -> FitCheck:
    return FitCheck(board.id, flash_bytes, board.flash_bytes, ram_bytes, board.ram_bytes)
