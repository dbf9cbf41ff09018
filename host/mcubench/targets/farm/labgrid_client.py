"""The calls mcubench makes to a labgrid coordinator, through labgrid's own ``labgrid-client``.

Reserving, waiting, acquiring and releasing are labgrid's: a reservation (``reserve``)
queues this request behind whoever holds a place, ``-p +TOKEN acquire`` takes the place the
coordinator allocated, ``release`` and ``cancel-reservation`` give it back. Running the CLI
(rather than holding a gRPC session in this process) keeps the release path independent of
the state of this process when it is interrupted, and lets the same code run inside Dask
workers, which may have gRPC loaded: children get ``GRPC_ENABLE_FORK_SUPPORT=0``.
"""

from __future__ import annotations

import ast
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from mcubench.core.errors import UserError

DEFAULT_COORDINATOR = "127.0.0.1:20408"  # labgrid-client's own default
INSTALL_HINT = "install the farm extra: pip install 'mcubench[farm]' (labgrid>=25, same version as the coordinator)"


class PlaceTimeout(UserError):
    """A reserved place did not become free in time."""


@dataclass(frozen=True)
class RemoteResource:
    """One resource of a place as the coordinator reports it (exporter/group/class/name)."""

    path: str
    cls: str
    avail: bool
    params: dict[str, Any]
    acquired_by: str | None = None

    @property
    def host(self) -> str | None:
        return self.params.get("host")

    @property
    def port(self) -> int | None:
        port = self.params.get("port")
        return int(port) if port is not None else None

    @property
    def device_path(self) -> str | None:
        """The device on the exporter host (e.g. /dev/ttyACM0) behind a serial resource."""
        return (self.params.get("extra") or {}).get("path")

    @property
    def speed(self) -> int | None:
        return self.params.get("speed")


@dataclass(frozen=True)
class PlaceState:
    name: str
    tags: dict[str, str] = field(default_factory=dict)
    acquired: str | None = None  # "host/user" holding it
    reservation: str | None = None  # token of the reservation it is allocated to
    resources: tuple[RemoteResource, ...] = ()  # acquired ones when acquired, else matching ones

    def serial_port(self) -> RemoteResource | None:
        for resource in self.resources:
            if resource.cls == "NetworkSerialPort":
                return resource
        return None


_RESOURCE_HEADER = re.compile(r"^(Acquired|Matching) resource '([^']*)' \(([^)]*)\):$")


def parse_show(text: str) -> PlaceState:
    """Reads ``labgrid-client -p NAME show`` output (a place, then its resources as dicts)."""
    lines = text.splitlines()
    head = re.match(r"^Place '([^']*)':$", lines[0]) if lines else None
    if not head:
        raise UserError(f"unexpected answer from labgrid-client show: {text[:200]!r}", "is labgrid the same version everywhere?")
    name = head.group(1)
    tags: dict[str, str] = {}
    acquired = reservation = None
    resources: list[RemoteResource] = []
    i = 1
    while i < len(lines):
        line = lines[i]
        header = _RESOURCE_HEADER.match(line)
        if header:
            block = []
            i += 1
            while i < len(lines) and lines[i].startswith("  "):
                block.append(lines[i])
                i += 1
            data = ast.literal_eval("\n".join(b.strip() for b in block))
            cls = header.group(3).split("/")[2] if header.group(3).count("/") >= 3 else data.get("cls", "")
            resources.append(RemoteResource(
                path=header.group(3), cls=data.get("cls", cls), avail=bool(data.get("avail")),
                params=dict(data.get("params") or {}), acquired_by=data.get("acquired"),
            ))
            continue
        stripped = line.strip()
        if line.startswith("  ") and not line.startswith("    "):
            key, _, value = stripped.partition(": ")
            if key == "tags":
                tags = dict(pair.split("=", 1) for pair in value.split(", ") if "=" in pair)
            elif key == "acquired" or stripped == "acquired:":
                acquired = None if value in ("", "None") else value
            elif key == "reservation":
                reservation = value or None
        i += 1
    return PlaceState(name, tags, acquired, reservation, tuple(resources))


def client_executable() -> str:
    """``labgrid-client`` beside this interpreter (a venv not on PATH), else on PATH."""
    beside = Path(sys.executable).parent / "labgrid-client"
    if beside.is_file():
        return str(beside)
    found = shutil.which("labgrid-client")
    if not found:
        raise UserError("labgrid is not installed: `labgrid-client` is not on PATH", INSTALL_HINT)
    return found


@contextmanager
def ctrl_c_deferred() -> Iterator[None]:
    """Lets clean-up (a release) finish even when the user presses Ctrl-C again."""
    try:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread (e.g. a Dask worker thread): nothing to defer
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class LabgridClient:
    """One coordinator, reached by running ``labgrid-client`` (labgrid's own CLI)."""

    def __init__(self, coordinator: str | None = None, log: Callable[[str], None] | None = None):
        # Precedence: the explicit option, then labgrid's own LG_COORDINATOR, then its default.
        self.coordinator = coordinator or os.environ.get("LG_COORDINATOR") or DEFAULT_COORDINATOR
        self.executable = client_executable()
        self.log = log or (lambda message: None)

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["LG_COORDINATOR"] = self.coordinator
        # labgrid's gRPC stack must not try to survive a fork of a process that has gRPC
        # loaded (a Dask worker, or labgrid in this process); it deadlocks otherwise.
        env["GRPC_ENABLE_FORK_SUPPORT"] = "0"
        env.pop("LG_TOKEN", None)
        return env

    def command(self, *args: str, place: str | None = None) -> list[str]:
        cmd = [self.executable, "-x", self.coordinator]
        if place is not None:
            cmd += ["-p", place]
        return cmd + list(args)

    def run(self, *args: str, place: str | None = None, timeout: float = 60.0, check: bool = True) -> subprocess.CompletedProcess:
        cmd = self.command(*args, place=place)
        self.log("$ " + " ".join(cmd))
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=self.env(), stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise UserError(
                f"labgrid-client {' '.join(args)} did not answer within {timeout:.0f} s (coordinator {self.coordinator})",
                "is the coordinator running and reachable?",
            ) from None
        if check and done.returncode != 0:
            raise self.error(args, done.stdout + done.stderr)
        return done

    def error(self, args: tuple[str, ...] | list[str], output: str) -> UserError:
        said = " ".join(l.strip() for l in output.strip().splitlines()[-3:])
        if "Could not connect to coordinator" in output or "coordinator is unavailable" in output:
            return UserError(
                f"cannot reach the labgrid coordinator at {self.coordinator}",
                "start labgrid-coordinator there, or pass --coordinator HOST:PORT (or set LG_COORDINATOR)",
            )
        return UserError(f"labgrid-client {' '.join(args)} failed: {said}", "see docs/labgrid.md")

    # -- reading ------------------------------------------------------------------------------

    def show(self, place: str) -> PlaceState:
        done = self.run("show", place=place, check=False)
        if done.returncode != 0:
            if "matches nothing" in done.stderr + done.stdout:
                raise UserError(
                    f"labgrid place `{place}` does not exist on coordinator {self.coordinator}",
                    "list places with: labgrid-client -x " + self.coordinator + " places",
                )
            raise self.error(("show",), done.stdout + done.stderr)
        return parse_show(done.stdout)

    # -- reserving, acquiring, releasing ----------------------------------------------------------

    def reserve_and_wait(self, filters: dict[str, str], timeout: float, describe: Callable[[], str] | None = None) -> str:
        """Creates a reservation and waits until the coordinator allocates a place to it.

        Returns the token. The reservation is cancelled when the wait times out or is
        interrupted, so an abandoned request never holds a place later.
        """
        pairs = [f"{k}={v}" for k, v in sorted(filters.items())]
        cmd = self.command("reserve", "--wait", "--shell", *pairs)
        self.log("$ " + " ".join(cmd))
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=self.env(),
                                stdin=subprocess.DEVNULL, start_new_session=True)
        token: str | None = None
        deadline = time.monotonic() + timeout
        told_waiting = False
        try:
            assert proc.stdout is not None
            while True:
                left = deadline - time.monotonic()
                if token is None:
                    ready, _, _ = select.select([proc.stdout], [], [], max(0.0, min(left, 1.0)))
                    if ready:
                        line = proc.stdout.readline()
                        match = re.search(r"LG_TOKEN=(\S+)", line)
                        if match:
                            token = match.group(1)
                            self.log(f"reservation {token} for {' '.join(pairs)}")
                        elif not line and proc.poll() is not None:
                            raise self.error(("reserve",), (proc.stderr.read() if proc.stderr else ""))
                    elif proc.poll() is not None and token is None:
                        raise self.error(("reserve",), (proc.stderr.read() if proc.stderr else ""))
                else:
                    try:
                        proc.wait(timeout=max(0.0, min(left, 1.0)))
                    except subprocess.TimeoutExpired:
                        pass
                    if proc.returncode is not None:
                        if proc.returncode != 0:
                            raise self.error(("reserve", "--wait"), (proc.stderr.read() if proc.stderr else ""))
                        return token
                    if not told_waiting and describe is not None:
                        told_waiting = True
                        self.log(describe())
                if time.monotonic() >= deadline:
                    held = f"; {describe()}" if describe is not None else ""
                    raise PlaceTimeout(
                        f"labgrid place {self._what(filters)} did not become free within {timeout:.0f} s{held}",
                        "wait longer (--acquire-timeout SECONDS), or ask its holder to release it (labgrid-client who)",
                    )
        except BaseException:
            _stop(proc)
            if token is not None:
                self.cancel(token)
            raise

    @staticmethod
    def _what(filters: dict[str, str]) -> str:
        if set(filters) == {"name"}:
            return f"`{filters['name']}`"
        return "matching " + " ".join(f"{k}={v}" for k, v in sorted(filters.items()))

    def acquire(self, token: str) -> str:
        """Acquires the place allocated to the reservation; returns the place's name."""
        done = self.run("acquire", place=f"+{token}")
        match = re.search(r"acquired place (\S+)", done.stdout)
        if not match:
            raise UserError(f"labgrid-client acquire gave no place name: {done.stdout.strip()!r}", "is labgrid the same version everywhere?")
        return match.group(1)

    def release(self, place: str) -> None:
        with ctrl_c_deferred():
            done = self.run("release", place=place, check=False)
        if done.returncode != 0 and "is not acquired" not in done.stdout + done.stderr:
            raise self.error(("release",), done.stdout + done.stderr)

    def cancel(self, token: str) -> None:
        with ctrl_c_deferred():
            done = self.run("cancel-reservation", token, check=False)
        if done.returncode != 0 and "does not exist" not in done.stdout + done.stderr:
            raise self.error(("cancel-reservation",), done.stdout + done.stderr)

    def reservations(self) -> list[dict[str, str]]:
        """The coordinator's reservations, each as its printed fields (owner, token, state…)."""
        done = self.run("reservations")
        found: list[dict[str, str]] = []
        for line in done.stdout.splitlines():
            if line.startswith("Reservation '"):
                found.append({"token": line.split("'")[1]})
            elif found and line.startswith("  ") and ": " in line and not line.startswith("    "):
                key, _, value = line.strip().partition(": ")
                found[-1][key] = value
        return found


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:  # pragma: no cover - a process that ignores SIGKILL
        pass
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()
