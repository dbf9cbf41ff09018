"""Targets and emulators, with explicit registries."""

from __future__ import annotations

from mcubench.core.errors import UserError
from mcubench.targets.base import Image, RunLog, RunOptions, Target, ToolStatus
from mcubench.targets.emulator import Emulator, EmulatorTarget
from mcubench.targets.qemu import Qemu
from mcubench.targets.renode import Renode

# Emulators by name. Order matters for `--emulator auto`: the first present that can run the
# board is used.
EMULATORS: dict[str, type[Emulator]] = {
    "qemu": Qemu,
    "renode": Renode,
}


def get_emulator(name: str) -> Emulator:
    try:
        return EMULATORS[name]()
    except KeyError:
        raise UserError(f"unknown emulator `{name}`", f"choose one of: {', '.join(EMULATORS)}") from None


def get_target(name: str) -> Target:
    """A target by name: an emulator's name, or `hardware`."""
    if name in EMULATORS:
        return EmulatorTarget(get_emulator(name))
    if name == "hardware":
        from mcubench.targets.hardware import HardwareTarget

        return HardwareTarget()
    if name == "labgrid":  # a board on a labgrid place (the `farm` extra)
        from mcubench.targets.labgrid import LabgridTarget

        return LabgridTarget()
    known = ", ".join([*EMULATORS, "hardware", "labgrid"])
    raise UserError(f"unknown target `{name}`", f"choose one of: {known}")


__all__ = [
    "EMULATORS",
    "Emulator",
    "EmulatorTarget",
    "Image",
    "RunLog",
    "RunOptions",
    "Target",
    "ToolStatus",
    "get_emulator",
    "get_target",
]
