"""Issue 6: the nRF52840 image is always built here (PlatformIO + arm-none-eabi-gcc), checked
with pyelftools against the chip's memory map, and `mcubench emulate` honours its CLI contract.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from elftools.elf.constants import SH_FLAGS
from elftools.elf.elffile import ELFFile
from helpers import mcubench, require_tool

from mcubench.targets.renode import Renode

pytestmark = pytest.mark.slow

FLASH = (0x0000_0000, 1024 * 1024)
RAM = (0x2000_0000, 256 * 1024)


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory) -> Path:
    """The acceptance command: writes the .resc, the .robot and the ELF, without Renode."""
    require_tool("arm-none-eabi-gcc")
    out = tmp_path_factory.mktemp("emulate-renode")
    proc = mcubench("emulate", "--emulator", "renode", "--robot", "--dry-run", "--out", str(out), check=True)
    assert "dry run" in proc.stdout
    return out


def _inside(start: int, size: int, region: tuple[int, int]) -> bool:
    return region[0] <= start and start + size <= region[0] + region[1]


def test_dry_run_writes_resc_robot_and_elf(dry_run):
    assert sorted(p.name for p in dry_run.iterdir()) == ["nano33ble-nrf52840.elf", "nano33ble.resc", "nano33ble.robot"]
    resc = (dry_run / "nano33ble.resc").read_text()
    assert f"$bin?=@{dry_run / 'nano33ble-nrf52840.elf'}" in resc
    assert "${CURDIR}/nano33ble-nrf52840.elf" in (dry_run / "nano33ble.robot").read_text()


def test_image_sections_fit_the_nrf52840(dry_run):
    elf_path = dry_run / "nano33ble-nrf52840.elf"
    with open(elf_path, "rb") as f:
        elf = ELFFile(f)
        assert elf["e_machine"] == "EM_ARM"
        alloc = [s for s in elf.iter_sections() if s["sh_flags"] & SH_FLAGS.SHF_ALLOC and s["sh_size"]]
        for section in alloc:
            region = RAM if section["sh_addr"] >= RAM[0] else FLASH
            assert _inside(section["sh_addr"], section["sh_size"], region), section.name
        in_ram = {s.name for s in alloc if s["sh_addr"] >= RAM[0]}
        assert {".bss", ".heap", ".stack"} <= in_ram
        assert all(s.name in in_ram for s in alloc if s.name == ".data")  # empty here for dot_int8
        assert ".text" not in in_ram
        # Load images (what a programmer or Renode's LoadELF writes) all sit in flash.
        for segment in elf.iter_segments():
            if segment["p_type"] == "PT_LOAD" and segment["p_filesz"]:
                assert _inside(segment["p_paddr"], segment["p_filesz"], FLASH)
        flash_used = sum(s["sh_size"] for s in alloc if s["sh_type"] != "SHT_NOBITS" and not s.name.startswith((".heap", ".stack")))
        ram_used = sum(s["sh_size"] for s in alloc if s["sh_flags"] & SH_FLAGS.SHF_WRITE)
        assert flash_used <= FLASH[1] and ram_used <= RAM[1]
        symbols = {s.name: s["st_value"] for s in elf.get_section_by_name(".symtab").iter_symbols()}
        # The vector table at 0x0: initial SP = top of our stack in RAM, reset handler in flash (Thumb).
        vectors = elf.get_section_by_name(".text").data()[:8]
        sp, reset = int.from_bytes(vectors[:4], "little"), int.from_bytes(vectors[4:8], "little")
        assert symbols["mcb_vectors"] == 0 and sp == symbols["__mcb_stack_top"] and _inside(sp - 4, 4, RAM)
        assert reset & 1 and reset & ~1 == symbols["Reset_Handler"] & ~1
        # EasyDMA reads RAM only: the UART buffers must be in RAM.
        assert _inside(symbols["tx_buffer"], 1, RAM) and _inside(symbols["rx_byte"], 1, RAM)


def test_image_identifies_as_the_nrf52840_port_and_never_semihosts(dry_run):
    elf = dry_run / "nano33ble-nrf52840.elf"
    strings = subprocess.run(["arm-none-eabi-strings", str(elf)], capture_output=True, text=True, check=True).stdout
    assert "nano33ble" in strings.split() and "nrf52840" in strings.split()
    disassembly = subprocess.run(["arm-none-eabi-objdump", "-d", str(elf)], capture_output=True, text=True, check=True).stdout
    # BKPT without a debugger is a HardFault on a board: the port must not use semihosting.
    assert "\tbkpt" not in disassembly
    # UARTE0 and TIMER1 are the peripherals the port drives.
    assert "40002000" in disassembly and "40009000" in disassembly


def test_image_that_overflows_ram_fails_the_gate(tmp_path):
    require_tool("arm-none-eabi-gcc")
    # Two int8 vectors of 200,000 elements: 400 KB of .bss on a 256 KB chip.
    proc = mcubench("emulate", "--emulator", "renode", "--dry-run", "--out", str(tmp_path), "--param", "n=200000")
    assert proc.returncode != 0
    assert "RAM overflow" in proc.stderr or "does not fit" in proc.stderr
    assert not list(tmp_path.glob("*.elf"))


def test_robot_run_without_renode_test_is_a_clear_error(tmp_path):
    if Renode().test_executable():
        pytest.skip("renode-test is on PATH: test_renode_live.py runs the suite instead")
    require_tool("arm-none-eabi-gcc")
    proc = mcubench("emulate", "--emulator", "renode", "--robot", "--out", str(tmp_path))
    assert proc.returncode == 2
    assert "renode-test is not on PATH" in proc.stderr and "--dry-run" in proc.stderr


def test_error_record_gives_a_nonzero_exit_status(tmp_path):
    """A device `err` record (here: more runs than the core allows) fails the command."""
    require_tool("qemu-system-arm")
    require_tool("arm-none-eabi-gcc")
    proc = mcubench("emulate", "--emulator", "qemu", "--runs", "1001", "--out", str(tmp_path), "--timeout", "60")
    assert proc.returncode != 0
    assert "runs must be 1..1000" in proc.stderr.replace("%20", " ")


def test_qemu_session_through_the_cli(tmp_path):
    require_tool("qemu-system-arm")
    require_tool("arm-none-eabi-gcc")
    proc = mcubench("emulate", "--emulator", "qemu", "--out", str(tmp_path), "--runs", "3", check=True)
    assert "instructions (qemu-icount) over 3 runs" in proc.stdout
    assert (tmp_path / "transcript.log").read_bytes().count(b"@MCB1 run ") == 3
