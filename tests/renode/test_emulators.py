"""Issue 6: one emulator interface, exercised over every registered emulator.

Each emulator builds the benchmark image for the first board it emulates, starts it, exposes
the UART as a serial URL, runs the protocol session and stops. QEMU runs here; Renode runs
wherever `renode` is on PATH and skips with that reason elsewhere.
"""

from __future__ import annotations

import pytest
from helpers import require_tool

from mcubench.commands.emulate import _boards_for, build_for_emulator
from mcubench.core.boards import load_board
from mcubench.core.errors import UserError
from mcubench.core.types import RunOptions
from mcubench.targets import get_target
from mcubench.targets.base import ToolStatus
from mcubench.targets.emulator import EmulatorTarget
from mcubench.targets.emulators import EMULATORS, get_emulator
from mcubench.targets.renode import Renode, board_for_target

LABELS = {"qemu": ("instructions", "qemu-icount"), "renode": ("virtual_cycles", "renode-virtual-time")}


def test_every_emulator_is_labelled_and_reports_its_tools():
    for name, cls in EMULATORS.items():
        emulator = get_emulator(name)
        assert (emulator.latency_unit, emulator.latency_source) == LABELS[name]
        statuses = emulator.status()
        assert statuses and all(isinstance(s, ToolStatus) for s in statuses)
        # doctor's view agrees with PATH.
        assert statuses[0].found == (emulator.executable() is not None)
        assert _boards_for(name), f"no board file names {name} as a target"


def test_renode_reports_both_of_its_tools():
    names = [s.name for s in Renode().status()]
    assert names == ["renode", "renode-test"]
    missing = [s for s in Renode().status() if not s.found]
    assert all("docs/renode.md" in s.remedy and not s.required for s in missing)


def test_renode_emulates_only_boards_with_a_renode_platform():
    renode = Renode()
    assert renode.supports(load_board("nano33ble")) is None
    assert "cannot emulate" in renode.supports(load_board("mps2-an386"))
    with pytest.raises(UserError, match="cannot emulate|cannot run"):
        from mcubench.core.types import Image

        get_target("renode").run(Image(None, load_board("mps2-an386"), "x", None, "x"), RunOptions())


def test_renode_builds_the_bare_metal_port_for_the_nano():
    board = load_board("nano33ble")
    image_board = board_for_target(board, "renode")
    assert (board.port, image_board.port) == ("arduino", "nrf52840")
    assert image_board.platformio["board"] == "mcb_nrf52840" and image_board.platformio["platform"] == "mcubench"
    assert image_board.upload == {}  # no sam-ba upload for this image
    assert (image_board.flash_bytes, image_board.ram_bytes) == (board.flash_bytes, board.ram_bytes)
    assert board_for_target(board, "hardware") is board  # no overrides: unchanged


def test_renode_tick_conversion():
    renode = Renode()
    assert renode.units_per_tick(64_000_000, "cycles") == 1.0
    assert renode.units_per_tick(16_000_000, "timer") == 4.0  # 16 MHz TIMER1 -> 64 MHz virtual cycles
    with pytest.raises(UserError):
        renode.units_per_tick(25_000_000, "systick")


@pytest.mark.slow
@pytest.mark.parametrize("name", list(EMULATORS))
def test_emulator_runs_a_benchmark_session(name, tmp_path):
    emulator = get_emulator(name)
    if not emulator.executable():
        pytest.skip(f"{emulator.executable_name} is not on PATH ({emulator.install_hint})")
    require_tool("arm-none-eabi-gcc")
    board = _boards_for(name)[0]
    built = build_for_emulator(emulator, board, "dot_int8", {"n": 512}, 1, 3, tmp_path)
    log = EmulatorTarget(emulator).run(built.image, RunOptions(timeout=120, transcript=tmp_path / "t.log"))
    assert (log.latency_unit, log.latency_source) == LABELS[name]
    assert log.emulator == name and log.port.startswith("socket://127.0.0.1:")
    hello = log.first("hello")
    assert hello.get("board") == board.id and hello.get("port") == built.board.port
    runs = log.of_type("run")
    assert [r.int("i") for r in runs] == [0, 1, 2]
    assert all(r.int("ticks") > 0 for r in runs)
    assert log.first("done").get("status") == "ok"
    assert log.units_per_tick > 0
    assert (tmp_path / "t.log").read_bytes() == log.transcript
