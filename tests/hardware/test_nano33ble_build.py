"""Arduino Nano 33 BLE images, built by PlatformIO's official nordicnrf52 platform and the
Arduino mbed core as a user's PlatformIO would (issue #13): the repository's own environment,
`mcubench build` for every runtime, a rendered project built by hand with `pio run`, and the
commands that build before they look for a board. No board is needed; the platform is (CI
unpacks it from ../shared/fixtures; elsewhere these tests skip and say so)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from helpers import mcubench, require_arduino_platform

pytestmark = [pytest.mark.slow, pytest.mark.arduino]

ROOT = Path(__file__).resolve().parents[2]

# The sketch starts behind the bootloader (boards/nano33ble.json, docs/hardware.md).
SKETCH_START = 0x10000
NANO33BLE_FLASH = 983_040
NANO33BLE_RAM = 262_144


@pytest.fixture(scope="module", autouse=True)
def arduino_platform() -> Path:
    return require_arduino_platform()


@pytest.fixture(scope="module")
def digits_int8() -> Path:
    from mcubench.recipes.variants import prepare_example_variant

    return prepare_example_variant("digits", "int8").path


@pytest.fixture(scope="module")
def kws_int8() -> Path:
    from mcubench.recipes.variants import prepare_example_variant

    return prepare_example_variant("kws_dscnn", "int8").path


def pio() -> str:
    from mcubench.core.pio_offline import ensure_tool_scons, pio_executable

    ensure_tool_scons()
    return pio_executable()


def text_start(elf: Path) -> int:
    with open(elf, "rb") as f:
        return ELFFile(f).get_section_by_name(".text")["sh_addr"]


def symbols(elf: Path) -> set[str]:
    with open(elf, "rb") as f:
        return {s.name for s in ELFFile(f).get_section_by_name(".symtab").iter_symbols()}


def assert_arduino_sketch(elf: Path) -> None:
    """An mbed-core sketch of ours: linked behind the bootloader, the port's thread and hooks in."""
    assert text_start(elf) == SKETCH_START
    names = symbols(elf)
    assert {"setup", "loop", "mcb_main", "mcb_port_hello_fields", "mcb_arduino_stack"} <= names
    assert b"icache\x00" in elf.read_bytes()  # the hello field that reports NVMC.ICACHECNF


def build_json(*args: str, env: dict | None = None) -> dict:
    proc = mcubench("build", *args, "--board", "nano33ble", "--json", env=env, timeout=1800)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    record = json.loads(proc.stdout)
    mem = record["memory"]
    assert record["fits"] is True and record["problem"] is None
    assert 0 < mem["flash_bytes"] <= NANO33BLE_FLASH
    assert 0 < mem["static_ram_bytes"] <= NANO33BLE_RAM
    assert mem["limits"] == {"board": "nano33ble", "flash_bytes": NANO33BLE_FLASH, "ram_bytes": NANO33BLE_RAM, "fits": True}
    assert record["identity"]["port"] == "arduino"
    assert_arduino_sketch(Path(record["image"]["elf"]))
    return record


def test_root_environment_builds_with_the_official_platform():
    """`pio run -e nano33ble` at the repository root: mcubench's boards/ no longer shadows the
    platform's board definition, and the core's headers are on the Arduino include path."""
    proc = subprocess.run([pio(), "run", "-d", str(ROOT), "-e", "nano33ble"], capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "SUCCESS" in proc.stdout
    assert_arduino_sketch(ROOT / "firmware" / "build" / "pio" / "nano33ble" / "firmware.elf")


def test_build_builtin_prints_the_footprint_and_the_fit():
    record = build_json("--runtime", "builtin")
    mem = record["memory"]
    # An mbed-core sketch costs about 83 KB of flash on its own (docs/hardware.md).
    assert mem["flash_bytes"] > 80_000
    assert mem["arena_bytes"] is None and mem["flash_split"] is None
    assert mem["sections"]["text"] + mem["sections"]["rodata"] + mem["sections"]["data"] == mem["flash_bytes"]


def test_build_aot_model_reports_arena_and_flash_split(digits_int8):
    record = build_json(str(digits_int8), "--runtime", "aot")
    mem = record["memory"]
    facts = json.loads((Path(record["image"]["project_dir"]) / "aot-facts.json").read_text())
    assert mem["arena_bytes"] == facts["arena_bytes"] > 0
    split = mem["flash_split"]
    assert split["model"] > 0 and split["runtime"] > 0
    assert split["model"] + split["runtime"] + split["rest"] == mem["flash_bytes"]
    assert record["identity"]["model"]["sha256"] is not None


def test_rendered_project_builds_by_hand_with_pio(tmp_path, digits_int8):
    """`mcubench render --board nano33ble`, then plain `pio run -d DIR`, without mcubench's
    environment: generated code compiles as project sources."""
    out = tmp_path / "project"
    mcubench("render", "--model", str(digits_int8), "--runtime", "aot", "--board", "nano33ble", "--out", str(out), check=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCUBENCH_")}
    proc = subprocess.run([pio(), "run", "-d", str(out)], capture_output=True, text=True, timeout=1800, env=env)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert (out / "src" / "workload").is_symlink() and (out / "src" / "core").is_symlink()
    assert_arduino_sketch(out / ".pio" / "build" / "nano33ble" / "firmware.elf")


@pytest.mark.parametrize("command", [
    ["validate", "--example", "digits", "--runtime", "aot", "--samples", "2", "--board", "nano33ble"],
    ["calibrate", "--board", "nano33ble", "--timeout", "5"],
    ["bench", "--board", "nano33ble", "--timeout", "5"],
])
def test_commands_build_the_board_image_before_they_look_for_the_board(command):
    """validate, calibrate and bench build for the board, then say in one line that no board is attached."""
    proc = mcubench(*command, timeout=1800)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "no Arduino Nano 33 BLE" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.tflm
def test_build_tflm_from_a_local_checkout(tflm_dir, digits_int8):
    record = build_json(str(digits_int8), "--runtime", "tflm", "--tflm-dir", str(tflm_dir))
    facts = json.loads((Path(record["image"]["project_dir"]) / "tflm-facts.json").read_text())
    assert record["memory"]["arena_bytes"] == facts["arena"]["bytes"] > 0
    assert record["memory"]["flash_split"]["runtime"] > 0


@pytest.mark.tflm
def test_build_tflm_as_a_platformio_library(tflm_dir, kws_int8, tmp_path):
    """The `lib_deps` route users get by default (the library downloaded by PlatformIO), here
    with the same library found in a library folder, which PlatformIO's dependency finder
    compiles the same way; its `depends` are not fetched. The keyword-spotting model takes
    both of mcubench's kernel overrides (per-channel FULLY_CONNECTED as the resolver's
    argument, integer MEAN through the overriding resolver) beside the whole library."""
    libs = tmp_path / "libs"
    libs.mkdir()
    (libs / "Arduino_TensorFlowLite").symlink_to(tflm_dir)
    env = {"MCUBENCH_TFLM_DIR": "", "MCUBENCH_TFLM_LIB": "Arduino_TensorFlowLite", "PLATFORMIO_LIB_EXTRA_DIRS": str(libs)}
    record = build_json(str(kws_int8), "--runtime", "tflm", env=env)
    project = Path(record["image"]["project_dir"])
    ini = (project / "platformio.ini").read_text()
    assert "lib_deps =\n    Arduino_TensorFlowLite" in ini
    assert record["memory"]["flash_split"]["runtime"] > 0
    overrides = json.loads((project / "tflm-facts.json").read_text())["kernel_overrides"]
    assert overrides == {"FULLY_CONNECTED": "Register_MCB_FULLY_CONNECTED_PER_CHANNEL", "MEAN": "Register_MCB_MEAN"}
    linked = " ".join(symbols(Path(record["image"]["elf"])))
    assert "Register_MCB_MEAN" in linked and "Register_MCB_FULLY_CONNECTED_PER_CHANNEL" in linked
