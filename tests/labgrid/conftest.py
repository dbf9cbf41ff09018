"""A labgrid lab on loopback: coordinator, exporter (ser2net), one place whose board is QEMU.

Everything the fixture starts runs in a process group of its own and is ended, by id, when
the module finishes — also when a test fails.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _missing() -> list[str]:
    missing = []
    bindir = Path(sys.executable).parent
    if not (bindir / "labgrid-client").exists() and not shutil.which("labgrid-client"):
        missing.append("labgrid (pip install -e '.[farm]')")
    for tool, package in (("ser2net", "ser2net"), ("socat", "socat"), ("qemu-system-arm", "qemu-system-arm"),
                          ("arm-none-eabi-objcopy", "gcc-arm-none-eabi")):
        if not shutil.which(tool) and not os.path.exists(f"/usr/sbin/{tool}"):
            missing.append(f"{tool} (apt-get install {package})")
    if not os.access("/dev", os.W_OK):
        missing.append("a writable /dev for the exported pty link (labgrid exports only /dev/ paths)")
    return missing


def _labgrid_bin(name: str) -> str:
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else shutil.which(name) or name


def _stop_group(proc: subprocess.Popen, grace: float = 5.0) -> None:
    """SIGTERM the process (it stops its own children, e.g. ser2net), then SIGKILL its group."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # the group this fixture created for it
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass


def _stop_pid(pid: int) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        time.sleep(0.3)


@dataclass
class Lab:
    coordinator: str
    exporter: str
    place: str
    device: str
    state: Path
    bin_dir: Path
    results: Path

    def client(self):
        from mcubench.targets.farm.labgrid_client import LabgridClient

        return LabgridClient(self.coordinator)

    def env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env["PATH"] = f"{self.bin_dir}{os.pathsep}{env.get('PATH', '')}"
        env["MCB_STANDIN_DIR"] = str(self.state)
        env["MCUBENCH_RESULTS"] = str(self.results)
        env.pop("LG_PLACE", None)
        env.update(extra)
        return env

    def bench_command(self, *more: str) -> list[str]:
        return [sys.executable, "-m", "mcubench.cli", "bench", "--workload", "dot_int8", "--target", "labgrid", "--place", self.place,
                "--coordinator", self.coordinator, *more]

    def calls(self) -> list[dict]:
        path = self.state / "calls.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def board_pids(self) -> list[int]:
        path = self.state / "board.pids"
        return [int(p) for p in path.read_text().split()] if path.exists() else []


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    missing = _missing()
    if missing:
        pytest.skip("the labgrid loopback lab needs: " + "; ".join(missing))
    from mcubench.targets.farm.exporter import PlaceSpec, SerialExport, exporter_config
    from mcubench.targets.farm.labgrid_client import LabgridClient

    root = tmp_path_factory.mktemp("lab")
    state = root / "standin"
    state.mkdir()
    bin_dir = root / "bin"
    bin_dir.mkdir()
    (bin_dir / "bossac").symlink_to(HERE / "standin_bossac.py")
    tag = f"{os.getpid()}"
    device = f"/dev/mcubench-lg{tag}"
    exporter_name = f"mcb-exp{tag}"
    place = f"mcb-place{tag}"
    coordinator = f"127.0.0.1:{_free_port()}"
    (root / "exporter.yaml").write_text(exporter_config([SerialExport("board0", device=device)]))

    started: list[subprocess.Popen] = []
    env = dict(os.environ, GRPC_ENABLE_FORK_SUPPORT="0")
    env.pop("LG_COORDINATOR", None)
    board = None
    try:
        with open(root / "coordinator.log", "wb") as log:
            started.append(subprocess.Popen([_labgrid_bin("labgrid-coordinator"), "-l", coordinator], cwd=root,
                                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            env=env, start_new_session=True))
        # The board before any upload: a port that exists and says nothing.
        board = subprocess.Popen(["socat", f"pty,link={device},raw,echo=0", f"tcp-listen:{_free_port()},bind=127.0.0.1"],
                                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                 start_new_session=True)
        (state / "board.pids").write_text(f"{board.pid}\n")
        client = LabgridClient(coordinator)
        deadline = time.monotonic() + 30
        while True:  # the coordinator listens
            if client.run("places", check=False).returncode == 0:
                break
            if time.monotonic() > deadline:
                pytest.fail(f"labgrid coordinator did not start: {(root / 'coordinator.log').read_text()[-1000:]}")
            time.sleep(0.3)
        with open(root / "exporter.log", "wb") as log:
            started.append(subprocess.Popen([_labgrid_bin("labgrid-exporter"), "-c", coordinator, "-n", exporter_name,
                                             "--hostname", "127.0.0.1", str(root / "exporter.yaml")], cwd=root,
                                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            env=env, start_new_session=True))
        deadline = time.monotonic() + 30
        while exporter_name not in client.run("resources", check=False).stdout:
            if time.monotonic() > deadline:
                pytest.fail(f"labgrid exporter did not register: {(root / 'exporter.log').read_text()[-1000:]}")
            time.sleep(0.3)
        spec = PlaceSpec(place, exporter_name, "board0", {"board": "mps2-an386", "upload": "sam-ba", "emulator": "qemu"})
        for args in spec.commands():
            client.run(*args)
        yield Lab(coordinator, exporter_name, place, device, state, bin_dir, root / "results")
    finally:
        for pid in ([int(p) for p in (state / "board.pids").read_text().split()] if (state / "board.pids").exists() else []):
            _stop_pid(pid)
        if board is not None:
            _stop_group(board, grace=1)
        for proc in reversed(started):
            _stop_group(proc)
        if os.path.islink(device):
            os.unlink(device)
