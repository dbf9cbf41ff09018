"""The emulator registry. Order matters for `--emulator auto`: the first present that can run
the board is used."""

from __future__ import annotations

from mcubench.core.errors import UserError
from mcubench.targets.emulator import Emulator
from mcubench.targets.qemu import Qemu
from mcubench.targets.renode import Renode

EMULATORS: dict[str, type[Emulator]] = {
    "qemu": Qemu,
    "renode": Renode,
}


def get_emulator(name: str) -> Emulator:
    try:
        return EMULATORS[name]()
    except KeyError:
        raise UserError(f"unknown emulator `{name}`", f"choose one of: {', '.join(EMULATORS)}") from None
