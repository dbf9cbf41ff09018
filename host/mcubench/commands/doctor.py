"""`mcubench doctor`: every prerequisite, found or missing, with the exact remedy.

Exits 1 when something required is missing; optional pieces (Renode, TFLM sources, a board,
TensorFlow) are listed but do not fail it.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
from pathlib import Path

from mcubench.core.boards import DEFAULT_BOARD, all_boards, load_board
from mcubench.core.errors import UserError
from mcubench.core.pio_offline import pio_executable, tool_scons_dir
from mcubench.targets.base import ToolStatus
from mcubench.targets.emulators import EMULATORS, get_emulator

SETUP = "bash host/dev.sh setup"


def register(sub):
    p = sub.add_parser("doctor", help="check prerequisites and say how to fix what is missing")
    p.add_argument("--json", action="store_true", help="print as JSON")
    p.set_defaults(func=run)
    return p


def _run(cmd: list[str]) -> str | None:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


def check_toolchain() -> list[ToolStatus]:
    apt = "sudo apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib"
    gcc = shutil.which("arm-none-eabi-gcc")
    if not gcc:
        return [ToolStatus("arm-none-eabi-gcc", False, "not on PATH", apt)]
    version = (_run([gcc, "-dumpversion"]) or "?")
    found = [ToolStatus("arm-none-eabi-gcc", True, f"{version} ({gcc})")]
    flags = ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"]
    for lib, pkg in (("libc_nano.a", "libnewlib-arm-none-eabi"), ("libstdc++_nano.a", "libstdc++-arm-none-eabi-newlib")):
        path = _run([gcc, *flags, f"-print-file-name={lib}"])
        ok = bool(path) and os.path.isabs(path) and os.path.isfile(path)
        found.append(ToolStatus(lib, ok, path if ok else "not found", f"sudo apt-get install {pkg}"))
    return found


def check_platformio() -> list[ToolStatus]:
    statuses = []
    try:
        pio = pio_executable()
    except UserError:
        return [ToolStatus("platformio", False, "not installed", "pip install platformio (or " + SETUP + ")")]
    version = _run([pio, "--version"])
    if not version:  # present but broken: say so, not "not installed"
        return [ToolStatus("platformio", False, f"{pio} is there, but `{pio} --version` fails",
                           "reinstall it: pip install --force-reinstall platformio (or " + SETUP + ")")]
    statuses.append(ToolStatus("platformio", True, f"{version.split()[-1]} ({pio})"))
    scons = tool_scons_dir()
    statuses.append(ToolStatus(
        "platformio tool-scons", scons is not None, str(scons) if scons else "missing (PlatformIO would download it)",
        "mcubench installs it from PyPI's scons on the first build, or run " + SETUP,
    ))
    return statuses


def check_optional() -> list[ToolStatus]:
    statuses = []
    tflm = os.environ.get("MCUBENCH_TFLM_DIR")
    tflm_ok = bool(tflm) and Path(tflm, "src").is_dir()
    statuses.append(ToolStatus(
        "TFLM sources (MCUBENCH_TFLM_DIR)", tflm_ok, tflm if tflm_ok else "not set",
        "point MCUBENCH_TFLM_DIR at a checkout of tensorflow/tflite-micro-arduino-examples (see docs/tflm.md)",
        required=False,
    ))
    for module, what, remedy in (
        ("tensorflow", "TensorFlow (model pipeline)", "pip install -e '.[ml]'"),
        ("tflite_micro", "tflite-micro (host TFLM interpreter)", "pip install -e '.[ml]'"),
        ("distributed", "Dask distributed (sweeps across cores/hosts)", "pip install -e '.[dist]'"),
    ):
        found = importlib.util.find_spec(module) is not None
        statuses.append(ToolStatus(what, found, "installed" if found else "not installed", remedy, required=False))
    statuses.append(_attached_boards())
    return statuses


def _attached_boards() -> ToolStatus:
    from serial.tools import list_ports

    seen = []
    for board in all_boards():
        for usb in board.usb:
            for port in list_ports.comports():
                if port.vid == usb.vid and port.pid == usb.pid:
                    seen.append(f"{board.id} ({usb.mode}) at {port.device}")
    return ToolStatus("attached boards", bool(seen), ", ".join(seen) if seen else "none found by USB ID",
                      "plug in a board (Nano 33 BLE: USB 2341:805a)", required=False)


def gather() -> list[ToolStatus]:
    statuses = [*check_toolchain(), *check_platformio()]
    default_target = load_board(DEFAULT_BOARD).default_target
    for name in EMULATORS:
        for status in get_emulator(name).status():
            # The emulator of the default job is required; other emulators are optional.
            statuses.append(status if name == default_target else ToolStatus(status.name, status.found, status.detail, status.remedy, False))
    statuses += check_optional()
    return statuses


def run(args: argparse.Namespace) -> int:
    statuses = gather()
    missing = [s for s in statuses if s.required and not s.found]
    if args.json:
        print(json.dumps([s.__dict__ for s in statuses], indent=2))
    else:
        for s in statuses:
            mark = "ok  " if s.found else ("MISS" if s.required else "--  ")
            print(f"[{mark}] {s.name}: {s.detail}")
            if not s.found and s.remedy:
                print(f"        fix: {s.remedy}")
        print("all required prerequisites found" if not missing else f"{len(missing)} required prerequisite(s) missing: run {SETUP}")
    return 1 if missing else 0
