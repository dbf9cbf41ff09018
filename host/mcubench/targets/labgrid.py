"""A board on a labgrid place: reserve, acquire, upload on the exporter host, read, release.

Which place: ``--place NAME`` (or labgrid's ``LG_PLACE``), or ``--tags k=v`` for any free place
with those tags (plus ``board=<board id>`` unless given). The request queues behind whoever
holds the place through a labgrid reservation; ``--acquire-timeout`` bounds the wait. The
place is released and the reservation cancelled on every way out: success, error, Ctrl-C.

The protocol is read with pyserial from the exporter's ser2net port (``rfc2217://``), the same
``SerialLink`` every other target uses. Place tags a lab may set: ``board`` (checked against
``--board``), ``upload`` (overrides the board's upload protocol), ``emulator`` (the place is
an emulator standing in for a board, e.g. QEMU behind a pty: figures are labelled as that
emulator's, never as a board's cycles).
"""

from __future__ import annotations

import os
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator

import serial

from mcubench.core.boards import Board
from mcubench.core.errors import UserError
from mcubench.core.params import parse_params
from mcubench.core.types import Image, RunOptions, TargetOptions, options_as
from mcubench.link.runlog import RunLog
from mcubench.link.transport import LinkClosed, LinkTimeout, SerialLink
from mcubench.targets.base import Capability, Session, Target, ToolStatus, board_latency, close_link, hello_timing
from mcubench.targets.emulators import get_emulator
from mcubench.targets.farm.labgrid_client import INSTALL_HINT, LabgridClient, PlaceState, RemoteResource, client_executable
from mcubench.targets.farm.upload import ExporterHost, get_uploader

DEFAULT_ACQUIRE_TIMEOUT = 600.0  # seconds a request waits for its place


@dataclass
class PlaceSession(Session):
    emulator: str | None = None  # the place's `emulator` tag: an emulator stands in for the board


@dataclass(frozen=True)
class LabgridOptions(TargetOptions):
    """Which place to run on: a name, or tags any free place must have."""

    place: str | None = field(default=None, metadata={"help": "labgrid place to run on (default: LG_PLACE)"})
    tags: tuple[str, ...] = field(default=(), metadata={
        "help": "instead of --place: any free place with these tags (board=<--board> is added)",
        "metavar": "KEY=VALUE", "action": "append"})
    coordinator: str | None = field(default=None, metadata={
        "help": "labgrid coordinator (default: LG_COORDINATOR, else 127.0.0.1:20408)", "metavar": "HOST:PORT"})
    acquire_timeout: float | None = field(default=None, metadata={
        "help": f"how long to wait for the place to be free (default {DEFAULT_ACQUIRE_TIMEOUT:.0f})",
        "metavar": "SECONDS", "type": float})

    @classmethod
    def from_cli(cls, values: dict[str, Any]) -> "LabgridOptions":
        return cls(**{**values, "tags": tuple(values.get("tags") or ())})


@dataclass
class LabgridRequest:
    """Which place, on which coordinator, how long to wait. Option > labgrid env var > default."""

    place: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    coordinator: str | None = None
    acquire_timeout: float = DEFAULT_ACQUIRE_TIMEOUT
    serial_ready_timeout: float = 30.0  # re-enumeration after a reset, and ser2net starting
    reenumeration_grace: float = 3.0  # how long to watch for a port to go away after a reset
    upload_timeout: float = 180.0

    @classmethod
    def from_options(cls, options: RunOptions) -> "LabgridRequest":
        given = options_as(options.target, LabgridOptions)
        tags = parse_params(list(given.tags), option="--tags", example="lab=shelf1")
        place = given.place or (None if tags else os.environ.get("LG_PLACE"))
        if place and tags:
            raise UserError("give either --place or --tags, not both", "--place NAME takes one place; --tags k=v any free matching place")
        if not place and not tags:
            raise UserError("--target labgrid needs a place", "pass --place NAME or --tags KEY=VALUE (or set LG_PLACE)")
        return cls(
            place=place,
            tags=tags,
            coordinator=given.coordinator,
            acquire_timeout=DEFAULT_ACQUIRE_TIMEOUT if given.acquire_timeout is None else float(given.acquire_timeout),
        )

    def filters(self, board: Board) -> dict[str, str]:
        if self.place:
            return {"name": self.place}
        return {"board": board.id, **self.tags}


def _say(message: str) -> None:
    print(f"[labgrid] {message}", file=sys.stderr, flush=True)


def serial_url(resource: RemoteResource) -> str:
    # ser2net answers no SET_CONTROL on ptys and some adapters: labgrid's SerialDriver opens
    # the same way (ign_set_control) so DTR/RTS requests do not fail the open.
    return f"rfc2217://{resource.host}:{resource.port}?ign_set_control"


class LabgridTarget(Target):
    name = "labgrid"
    capabilities = frozenset({Capability.RESET, Capability.RECONNECT})
    options_type = LabgridOptions

    def __init__(self, verbose: bool = False):
        self.verbose = verbose

    def supports(self, board: Board) -> str | None:
        # The place decides what is plugged in; its `board` tag is checked once acquired.
        return None

    def status(self) -> list[ToolStatus]:
        try:
            exe = client_executable()
        except UserError:
            return [ToolStatus("labgrid-client", False, "not installed", INSTALL_HINT, required=False)]
        return [ToolStatus("labgrid-client", True, exe, required=False)]

    def _log(self, message: str) -> None:
        if self.verbose or message.startswith(("reservation", "waiting")):
            _say(message)

    # -- the run ----------------------------------------------------------------------------------

    @contextmanager
    def do_session(self, image: Image, options: RunOptions) -> Iterator[Session]:
        request = LabgridRequest.from_options(options)
        client = LabgridClient(request.coordinator, log=self._log)
        filters = request.filters(image.board)

        def who_holds() -> str:
            if not request.place:
                return f"waiting for a free place with {' '.join(f'{k}={v}' for k, v in sorted(filters.items()))}"
            state = client.show(request.place)
            holder = state.acquired or (f"reservation {state.reservation}" if state.reservation else "nobody (yet)")
            return f"waiting for place `{request.place}`, held by {holder}"

        if request.place:
            client.show(request.place)  # fails early, naming the place, when it does not exist
        token = client.reserve_and_wait(filters, request.acquire_timeout, describe=who_holds)
        place: str | None = None
        try:
            place = client.acquire(token)
            _say(f"acquired place `{place}` at {time.time():.3f} (coordinator {client.coordinator})")
            with self._session_on_place(client, place, image, options, request) as session:
                yield session
        finally:
            try:
                if place is not None:
                    client.release(place)
                    _say(f"released place `{place}` at {time.time():.3f}")
                else:
                    # Interrupted while acquiring: the place may be ours without our knowing its
                    # name yet. Release it through the reservation; nothing acquired is fine.
                    try:
                        client.release(f"+{token}")
                        _say(f"released place of reservation {token} at {time.time():.3f}")
                    except UserError:
                        pass
            finally:
                client.cancel(token)

    @contextmanager
    def _session_on_place(self, client: LabgridClient, place: str, image: Image, options: RunOptions,
                          request: LabgridRequest) -> Iterator[Session]:
        state = client.show(place)
        board_tag = state.tags.get("board")
        if board_tag and board_tag != image.board.id:
            raise UserError(
                f"labgrid place `{place}` has board `{board_tag}`, but this image is for `{image.board.id}`",
                f"pick a place with board={image.board.id}, or build for --board {board_tag}",
            )
        port = self._serial_resource(state, place)
        uploader = get_uploader(state.tags.get("upload") or image.board.upload.get("protocol"), image.board.id)
        exporter = ExporterHost(port.host or "", log=self._log)
        upload_command = self._upload(client, place, port, exporter, uploader, image, request)
        port = self._wait_serial(client, place, request.serial_ready_timeout)
        url = serial_url(port)
        link = self._connect(url, request.serial_ready_timeout)
        facts = {
            "place": place,
            "coordinator": client.coordinator,
            "exporter_host": exporter.host,
            "device": port.device_path,
            "upload_command": upload_command,
        }
        try:
            yield PlaceSession(link, url, facts=facts, emulator=state.tags.get("emulator") or None)
        finally:
            close_link(link, options)

    def converse(self, session: Session, options: RunOptions) -> None:
        shared_board_session(session.link, options)

    @staticmethod
    def _serial_resource(state: PlaceState, place: str) -> RemoteResource:
        port = state.serial_port()
        if port is None:
            raise UserError(
                f"labgrid place `{place}` has no serial port (NetworkSerialPort) among its resources",
                "export the board's USBSerialPort (or RawSerialPort) and add-match it to the place (docs/labgrid.md)",
            )
        return port

    def _upload(self, client, place, port, exporter, uploader, image, request) -> list[str]:
        if uploader.touch_1200bps and port.avail and port.port:
            before = (port.device_path, port.port)
            touch_1200bps(serial_url(port), log=self._log)
            # The board drops off USB and comes back in its bootloader (another USB ID, the
            # same USB path); the exporter follows it and restarts ser2net.
            self._watch_reenumeration(client, place, before, request.reenumeration_grace)
        port = self._wait_serial(client, place, request.serial_ready_timeout, need_network_port=False)
        if not port.device_path or not port.device_path.startswith("/dev/"):
            raise UserError(f"labgrid place `{place}`: its serial port has no device path on the exporter ({port.device_path!r})",
                            "labgrid's exporter publishes it for USBSerialPort/RawSerialPort; is labgrid the same version everywhere?")
        firmware = exporter.put(uploader.artifact(image.elf))
        command = uploader.command(port.device_path, firmware)
        _say(f"uploading to `{place}` on {exporter.host}: {' '.join(command)}")
        exporter.run(command, request.upload_timeout, uploader.install_hint)
        self._watch_reenumeration(client, place, (port.device_path, port.port), request.reenumeration_grace)
        return command

    def _watch_reenumeration(self, client: LabgridClient, place: str, before: tuple, grace: float) -> None:
        """Waits up to ``grace`` s for the port to change (a USB board resets); an emulator's does not."""
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            port = client.show(place).serial_port()
            if port is None or not port.avail or (port.device_path, port.port) != before:
                self._log(f"serial port of `{place}` changed: {before} -> {None if port is None else (port.device_path, port.port, port.avail)}")
                return
            time.sleep(0.2)

    def _wait_serial(self, client: LabgridClient, place: str, timeout: float, need_network_port: bool = True) -> RemoteResource:
        deadline = time.monotonic() + timeout
        last: RemoteResource | None = None
        while True:
            last = client.show(place).serial_port()
            if last is not None and last.avail and (last.port or not need_network_port):
                return last
            if time.monotonic() >= deadline:
                raise UserError(
                    f"the serial port of labgrid place `{place}` did not come back within {timeout:.0f} s after a reset ({last})",
                    "is the board still plugged in at the USB path the exporter matches?",
                )
            time.sleep(0.3)

    @staticmethod
    def _connect(url: str, timeout: float) -> SerialLink:
        deadline = time.monotonic() + timeout
        while True:
            try:
                return SerialLink.open(url)
            except LinkClosed as exc:
                if time.monotonic() >= deadline:
                    raise LinkClosed(f"cannot open the place's serial port {url}: {exc.message}",
                                     "is ser2net running on the exporter and the board's port present?") from None
                time.sleep(0.3)

    def latency(self, session: Session, image: Image) -> tuple[str, str, float]:
        emulator = getattr(session, "emulator", None)
        if emulator:
            tick_unit, tick_hz, _ = hello_timing(session.link.records)
            emu = get_emulator(emulator)
            return emu.latency_unit, emu.latency_source, emu.units_per_tick(tick_hz, tick_unit)
        return board_latency(session.link.records, image, f"labgrid place `{session.facts['place']}`")

    def run_log(self, session: Session, image: Image) -> RunLog:
        # An emulator behind a place measured these figures: the record says so (the results
        # schema ties emulated units to an emulator target); the place is in extra.
        emulator = getattr(session, "emulator", None)
        return RunLog.from_link(session.link, target=emulator or self.name, emulator=emulator, port=session.port,
                                latency=self.latency(session, image), extra=session.facts)


def shared_board_session(link: SerialLink, options: RunOptions, hello_wait: float = 3.0, asks: int = 3) -> None:
    """The benchmark conversation when the boot output may be gone before we listen.

    Through ser2net the port is opened only when we connect, and what the board printed at
    boot may be lost (a USB board that started before the port was opened, or a tty flushed
    on open). So: take the boot `hello` if it comes, else ask for it (`info`); then always
    run the benchmark by command, and keep only the records of that command's run.
    """
    deadline = time.monotonic() + options.timeout
    try:
        link.collect(until=("hello",), timeout=hello_wait)
    except LinkTimeout:
        for attempt in range(asks):
            link.command("info")
            try:
                link.collect(until=("hello",), timeout=hello_wait)
                break
            except LinkTimeout:
                if attempt == asks - 1:
                    raise
    fields = {}
    if options.warmup is not None:
        fields["warmup"] = options.warmup
    if options.runs is not None:
        fields["runs"] = options.runs
    mark = len(link.records)
    link.command("bench", **fields)
    while True:
        # A boot run still in progress, or the answer to `info`, may end with `done` first;
        # the benchmark's own `done` is the one after a `cfg`.
        link.collect(until=("done",), timeout=max(1.0, deadline - time.monotonic()))
        since = link.records[mark:]
        cfgs = [i for i, r in enumerate(since) if r.type == "cfg"]
        if cfgs and since[-1].type == "done":
            run = since[cfgs[-1]:]
            break
    ident = [r for r in link.records[:mark] if r.type in ("hello", "build")]
    link.records[:] = ident + run


def touch_1200bps(url: str, log=lambda message: None) -> None:
    """Opens the board's port at 1200 baud and drops DTR: the Arduino cores' request for the bootloader.

    Through RFC 2217 ser2net applies the baud rate to the exporter's tty, and closes it when
    we disconnect. Failure is not fatal (PlatformIO ignores it too): the upload tool then says
    whether a bootloader answered.
    """
    log(f"1200-bps touch on {url}")
    try:
        port = serial.serial_for_url(url, do_not_open=True, baudrate=1200, timeout=0.2)
        port.open()
        try:
            port.dtr = False
        finally:
            port.close()
    except (serial.SerialException, OSError, ValueError) as exc:
        log(f"1200-bps touch failed ({exc}); continuing")
