"""PlatformIO without its registry: provide the core package `tool-scons` from PyPI's scons.

PlatformIO runs every build through `<core_dir>/packages/tool-scons/scons.py` and downloads
that package from its registry on first use. Offline, we install an equivalent package made
from the `scons` module already installed in this Python environment (pinned in
pyproject.toml): a `package.json` naming it `tool-scons` at the version PlatformIO expects, and
a `scons.py` launcher. With internet, PlatformIO's own download works as usual and this is
never needed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from mcubench.core.errors import UserError

# PlatformIO 6.1/6.2 asks for tool-scons "~4.41101.0", i.e. SCons 4.11.1 in its numbering.
TOOL_SCONS_VERSION = "4.41101.0"
SCONS_PYPI_VERSION = "4.11.1"

LAUNCHER = '''"""Runs SCons from the Python environment PlatformIO runs in (PyPI scons {pypi})."""
import sys

import SCons.Script

if __name__ == "__main__":
    sys.exit(SCons.Script.main())
'''


def pio_executable() -> str:
    """The `pio` next to this Python, else on PATH."""
    local = Path(sys.executable).with_name("pio")
    if local.exists():
        return str(local)
    found = shutil.which("pio") or shutil.which("platformio")
    if not found:
        raise UserError(
            "PlatformIO (pio) is not installed",
            "pip install platformio (`bash host/dev.sh setup` does this)",
        )
    return found


def pio_core_dir() -> Path:
    return Path(os.environ.get("PLATFORMIO_CORE_DIR", Path.home() / ".platformio"))


def tool_scons_dir() -> Path | None:
    """The tool-scons package PlatformIO will use (owner `platformio`), or None."""
    pkg_dir = pio_core_dir() / "packages" / "tool-scons"
    if not ((pkg_dir / "scons.py").is_file() and (pkg_dir / "package.json").is_file()):
        return None
    try:
        meta = json.loads((pkg_dir / ".piopm").read_text())
    except (OSError, ValueError):
        return None
    # PlatformIO matches core packages by owner: ours must say `platformio` to be found.
    if (meta.get("spec") or {}).get("owner") != "platformio":
        return None
    return pkg_dir


def _claim_platformio_owner(pkg_dir: Path) -> None:
    """Marks a file:// installed tool-scons as the core package PlatformIO looks for.

    `pio pkg install file://...` records no owner, and PlatformIO looks core packages up as
    `platformio/tool-scons`, so without this it would still try the registry.
    """
    meta_path = pkg_dir / ".piopm"
    meta = json.loads(meta_path.read_text())
    meta.setdefault("spec", {})["owner"] = "platformio"
    tmp = meta_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(meta))
    os.replace(tmp, meta_path)


def scons_module_version() -> str | None:
    try:
        import SCons  # type: ignore

        return getattr(SCons, "__version__", None)
    except ImportError:
        return None


def make_tool_scons_package(dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    manifest = {
        "name": "tool-scons",
        "version": TOOL_SCONS_VERSION,
        "description": f"SCons {SCONS_PYPI_VERSION} from PyPI, launched from PlatformIO's Python (mcubench offline set-up)",
        "keywords": ["build tool"],
        "homepage": "https://scons.org",
        "license": "MIT",
        "system": "*",
    }
    (dest / "package.json").write_text(json.dumps(manifest, indent=2) + "\n")
    (dest / "scons.py").write_text(LAUNCHER.format(pypi=SCONS_PYPI_VERSION))
    return dest


def ensure_tool_scons() -> Path:
    """Installs tool-scons from the local scons module when PlatformIO lacks it; returns its dir."""
    existing = tool_scons_dir()
    if existing:
        return existing
    if scons_module_version() is None:
        raise UserError(
            "PlatformIO's tool-scons is missing and the scons module is not installed",
            f"pip install scons=={SCONS_PYPI_VERSION}",
        )
    with tempfile.TemporaryDirectory(prefix="mcubench-tool-scons-") as tmp:
        pkg = make_tool_scons_package(Path(tmp) / "tool-scons")
        cmd = [pio_executable(), "pkg", "install", "--global", "--tool", f"file://{pkg}"]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        if proc.returncode != 0:
            raise UserError(
                "could not install PlatformIO's tool-scons from the local scons module: "
                + (proc.stderr.strip() or proc.stdout.strip())[-400:],
                "run: " + " ".join(cmd),
            )
    pkg_dir = pio_core_dir() / "packages" / "tool-scons"
    if (pkg_dir / ".piopm").is_file():
        _claim_platformio_owner(pkg_dir)
    installed = tool_scons_dir()
    if not installed:
        raise UserError(
            f"tool-scons was installed but not found under {pio_core_dir() / 'packages'}",
            "check PLATFORMIO_CORE_DIR",
        )
    return installed
