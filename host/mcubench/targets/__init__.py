"""Targets with an explicit registry: every emulator (``targets.emulators.EMULATORS``) is a
target of its own name, plus the targets below. Adding one is a module and a line here."""

from __future__ import annotations

from mcubench.core.errors import UserError
from mcubench.targets.base import Target
from mcubench.targets.emulator import EmulatorTarget
from mcubench.targets.emulators import EMULATORS, get_emulator
from mcubench.targets.hardware import HardwareTarget
from mcubench.targets.labgrid import LabgridTarget

# Targets that are not an emulator, by name.
TARGETS: dict[str, type[Target]] = {
    "hardware": HardwareTarget,  # a board on USB serial
    "labgrid": LabgridTarget,  # a board on a labgrid place (the `farm` extra)
}


def target_names() -> list[str]:
    return [*EMULATORS, *TARGETS]


def get_target(name: str) -> Target:
    """A target by name: an emulator's name, or one of ``TARGETS``."""
    if name in EMULATORS:
        return EmulatorTarget(get_emulator(name))
    if name in TARGETS:
        return TARGETS[name]()
    raise UserError(f"unknown target `{name}`", f"choose one of: {', '.join(target_names())}")


def all_targets() -> list[Target]:
    """Every registered target, for what derives from all of them (CLI flags, doctor)."""
    return [get_target(name) for name in target_names()]
