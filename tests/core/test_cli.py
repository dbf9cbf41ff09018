"""CLI contracts of the skeleton: doctor, boards, the project's own platformio.ini."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import mcubench

ROOT = Path(__file__).resolve().parents[2]


def test_doctor_passes_here_and_fails_without_the_toolchain(tmp_path):
    # This machine is set up (`bash host/dev.sh setup`; the suite builds and runs firmware
    # with these very tools), so doctor must find everything required and exit 0.
    gcc, qemu = shutil.which("arm-none-eabi-gcc"), shutil.which("qemu-system-arm")
    assert gcc and qemu and Path(sys.executable).with_name("pio").exists()
    ok = mcubench("doctor", "--json")
    statuses = {s["name"]: s for s in json.loads(ok.stdout)}
    assert {"arm-none-eabi-gcc", "qemu-system-arm", "platformio", "platformio tool-scons"} <= set(statuses)
    assert any("TFLM" in n for n in statuses) and "attached boards" in statuses
    assert any(n in ("renode", "renode-test") for n in statuses)
    assert gcc in statuses["arm-none-eabi-gcc"]["detail"] and statuses["qemu-system-arm"]["found"]
    assert ok.returncode == 0, ok.stdout
    # Only the venv's own tools on PATH: no cross compiler, no QEMU.
    bare = mcubench("doctor", env={"PATH": str(Path(sys.executable).parent)})
    assert bare.returncode == 1
    assert "MISS" in bare.stdout and "arm-none-eabi-gcc" in bare.stdout and "apt-get install" in bare.stdout


def test_doctor_says_a_broken_platformio_is_broken_not_missing(tmp_path, monkeypatch):
    from mcubench.commands import doctor

    broken = tmp_path / "pio"
    broken.write_text("#!/bin/sh\necho 'Traceback: ImportError' >&2\nexit 1\n")
    broken.chmod(0o755)
    monkeypatch.setattr(doctor, "pio_executable", lambda: str(broken))  # a damaged install, not this machine's
    (status,) = doctor.check_platformio()
    assert not status.found and "--version` fails" in status.detail and str(broken) in status.detail
    assert "--force-reinstall" in status.remedy and "host/dev.sh setup" in status.remedy


def test_boards_lists_the_board_data():
    boards = {b["id"]: b for b in json.loads(mcubench("boards", "--json", check=True).stdout)}
    assert boards["nano33ble"]["clock_hz"] == 64_000_000
    assert boards["nano33ble"]["flash_bytes"] == 983_040 and boards["nano33ble"]["ram_bytes"] == 262_144
    assert boards["mps2-an386"]["default_target"] == "qemu"


def test_unknown_board_and_bad_param_are_one_line_errors():
    bad = mcubench("bench", "--board", "nano99")
    assert bad.returncode == 2 and "unknown board `nano99`" in bad.stderr and "Traceback" not in bad.stderr
    bad = mcubench("bench", "--param", "n=lots")
    assert bad.returncode == 2 and "not an integer" in bad.stderr


def _pio() -> str:
    return str(Path(sys.executable).with_name("pio"))


def test_project_platformio_ini_parses_including_the_hardware_env():
    out = subprocess.run([_pio(), "project", "config", "--json-output"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    envs = {name: dict(options) for name, options in json.loads(out.stdout)}
    assert envs["env:nano33ble"]["platform"] == "nordicnrf52" and envs["env:nano33ble"]["framework"] == ["arduino"]
    assert envs["env:mps2-an386"]["board"] == "mcb_mps2_an386"


@pytest.mark.slow
def test_pio_run_by_hand_builds_the_emulated_env_offline():
    from mcubench.core.pio_offline import ensure_tool_scons

    ensure_tool_scons()
    out = subprocess.run([_pio(), "run", "-e", "mps2-an386"], cwd=ROOT, capture_output=True, text=True, timeout=600,
                         env=dict(os.environ, PLATFORMIO_SETTING_ENABLE_TELEMETRY="No"))
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert (ROOT / "firmware/build/pio/mps2-an386/program.elf").is_file()
