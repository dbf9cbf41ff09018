"""Builds the plugin with the host C compiler (cached by content) and forms its QEMU arguments."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

from mcubench.core.errors import UserError
from mcubench.core.fileio import write_text_atomic
from mcubench.core.paths import work_dir
from mcubench.core.types import EmulatorPlugin
from mcubench.estimate.model import load_cost_model

PLUGIN_SOURCES = ("mcb_cycles.c", "thumb_decode.c")
PLUGIN_HEADERS = ("qemu-plugin.h", "thumb_decode.h")
CFLAGS = ["-O2", "-std=gnu11", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC", "-fvisibility=hidden"]


def plugin_source_dir() -> Path:
    return Path(__file__).resolve().parent / "plugin"


def plugins_dir() -> Path:
    return work_dir() / "plugins"


def _compiler() -> str:
    cc = os.environ.get("CC") or shutil.which("gcc") or shutil.which("cc")
    if not cc:
        raise UserError(
            "no host C compiler to build the cycle-estimate plugin",
            "install gcc (sudo apt-get install gcc)",
        )
    return cc


def _source_hash(cc: str) -> str:
    h = hashlib.sha256()
    for name in PLUGIN_SOURCES + PLUGIN_HEADERS:
        h.update(name.encode() + b"\0" + (plugin_source_dir() / name).read_bytes())
    h.update(" ".join([cc, *CFLAGS]).encode())
    try:
        h.update(subprocess.run([cc, "--version"], capture_output=True, timeout=30).stdout)
    except (OSError, subprocess.SubprocessError):
        pass
    return h.hexdigest()[:16]


def build_plugin() -> Path:
    """The plugin as a host shared library, rebuilt only when its sources or compiler change."""
    cc = _compiler()
    out = plugins_dir() / f"mcb_cycles-{_source_hash(cc)}.so"
    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    src = plugin_source_dir()
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=".mcb_cycles.", suffix=".so")
    os.close(fd)
    cmd = [cc, *CFLAGS, "-o", tmp, *(str(src / s) for s in PLUGIN_SOURCES)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            raise UserError(
                f"building the cycle-estimate plugin failed:\n{proc.stderr.strip()[-2000:]}",
                "command: " + " ".join(cmd),
            )
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return out


def costs_file(board_id: str) -> Path:
    """The flat cost file for a board (content-addressed, so concurrent runs share it)."""
    text = load_cost_model().flat_costs(board_id)
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    path = plugins_dir() / f"costs-{board_id}-{digest}.txt"
    if not path.exists():
        write_text_atomic(path, text)
    return path


def estimate_plugin(board_id: str, report_path: Path | str) -> EmulatorPlugin:
    """The cycle-estimate plugin for `board_id`, writing its report to `report_path` when the
    emulator exits: what the bench stage hands a target that can load instruction plugins."""
    report_path = Path(report_path).resolve()
    if "," in str(report_path):
        raise UserError(f"the estimate report path may not contain a comma: {report_path}", "pick another directory")
    report_path.parent.mkdir(parents=True, exist_ok=True)
    return EmulatorPlugin(build_plugin(), (("costs", str(costs_file(board_id))), ("out", str(report_path))))


def plugin_spec(board_id: str, report_path: Path | str) -> str:
    """The value of QEMU's `-plugin` option: library path and its arguments."""
    plugin = estimate_plugin(board_id, report_path)
    return ",".join([str(plugin.library), *(f"{key}={value}" for key, value in plugin.args)])


def qemu_args(board_id: str, report_path: Path | str | None = None) -> list[str]:
    """`-plugin ...` arguments that make QEMU write a cycle estimate for `board_id`.

    The report (JSON) is written when QEMU exits; without `report_path` a fresh file under
    the work directory is used — find it again with `report_path_from_args`."""
    if report_path is None:
        report_path = work_dir() / "estimates" / f"estimate-{uuid.uuid4().hex}.json"
    return ["-plugin", plugin_spec(board_id, report_path)]


def report_path_from_args(args: list[str]) -> Path:
    for i, a in enumerate(args):
        if a == "-plugin" and i + 1 < len(args):
            for part in args[i + 1].split(","):
                if part.startswith("out="):
                    return Path(part[4:])
    raise ValueError("no mcb_cycles plugin with out= in these arguments")
