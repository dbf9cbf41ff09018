"""Boards shared through labgrid (issue 9), on a loopback lab whose board is QEMU.

The lab (conftest.py) is a real labgrid coordinator and exporter; the exporter's ser2net
serves a pty that the stand-in `bossac` bridges to QEMU running the uploaded binary.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from mcubench.core.errors import UserError
from mcubench.targets.farm.exporter import PlaceSpec, SerialExport, exporter_config
from mcubench.targets.farm.labgrid_client import parse_show
from mcubench.targets.farm.upload import BossacUploader, get_uploader, is_local_host

SHOW_ACQUIRED = """Place 'lgx':
  tags: board=mps2-an386, upload=sam-ba
  matches:
    exp1/board0/*
  acquired: vm/root
  acquired resources:
    exp1/board0/NetworkSerialPort/RawSerialPort
  created: 2026-11-22 08:19:07.998896
  changed: 2026-11-22 08:19:20.469023
  reservation: C5U4UYWM44
Acquired resource 'RawSerialPort' (exp1/board0/NetworkSerialPort/RawSerialPort):
  {'acquired': 'lgx',
   'avail': True,
   'cls': 'NetworkSerialPort',
   'params': {'extra': {'path': '/dev/mcubench-lgx',
                        'proxy': 'localhost',
                        'proxy_required': False},
              'host': '127.0.0.1',
              'port': 46537,
              'speed': 115200}}
"""


# -- no processes ------------------------------------------------------------------------------

def test_show_output_is_read_into_place_state():
    state = parse_show(SHOW_ACQUIRED)
    assert state.name == "lgx"
    assert state.tags == {"board": "mps2-an386", "upload": "sam-ba"}
    assert state.acquired == "vm/root"
    assert state.reservation == "C5U4UYWM44"
    port = state.serial_port()
    assert (port.host, port.port, port.device_path, port.avail) == ("127.0.0.1", 46537, "/dev/mcubench-lgx", True)


def test_exporter_config_matches_nano33ble_by_usb_path_and_needs_dev_paths():
    text = exporter_config([SerialExport("nano-1", usb_path="pci-0000:00:14.0-usb-0:3:1.0")])
    assert "USBSerialPort" in text and "ID_PATH: pci-0000:00:14.0-usb-0:3:1.0" in text and "ID_MODEL_ID" not in text
    assert "RawSerialPort" in exporter_config([SerialExport("emu", device="/dev/mcubench-lg0")])
    with pytest.raises(UserError, match="must start with /dev/"):
        exporter_config([SerialExport("emu", device="/tmp/pty0")])
    with pytest.raises(UserError, match="exactly one"):
        exporter_config([SerialExport("both", device="/dev/x", usb_path="p")])
    assert PlaceSpec("nano-1", "shelf", "nano-1", {"board": "nano33ble"}).commands() == [
        ["-p", "nano-1", "create"], ["-p", "nano-1", "add-match", "shelf/nano-1/*"],
        ["-p", "nano-1", "set-tags", "board=nano33ble"],
    ]


def test_nano33ble_upload_is_bossac_sam_ba_with_a_1200bps_touch():
    uploader = get_uploader("sam-ba", "nano33ble")
    assert isinstance(uploader, BossacUploader) and uploader.touch_1200bps
    assert uploader.command("/dev/ttyACM0", "/tmp/fw.bin") == [
        "bossac", "--port", "/dev/ttyACM0", "--write", "--erase", "-U", "--reset", "/tmp/fw.bin"]
    with pytest.raises(UserError, match="no upload protocol"):
        get_uploader(None, "mps2-an386")
    assert is_local_host("127.0.0.1") and is_local_host("localhost") and not is_local_host("192.0.2.7")


# -- the loopback lab --------------------------------------------------------------------------

def _assert_free(lab) -> None:
    client = lab.client()
    state = client.show(lab.place)
    assert state.acquired is None, f"place still held by {state.acquired}"
    assert state.reservation is None
    assert client.reservations() == []


def _hold(lab):
    """Another user takes the place, through labgrid as anyone would."""
    client = lab.client()
    token = client.reserve_and_wait({"name": lab.place}, timeout=30)
    client.acquire(token)
    return client, token


def _give_back(lab, client, token) -> float:
    client.release(lab.place)
    released = time.time()
    client.cancel(token)
    return released


def _acquired_at(stderr: str, place: str) -> float:
    match = re.search(rf"acquired place `{re.escape(place)}` at ([\d.]+)", stderr)
    assert match, stderr
    return float(match.group(1))


@pytest.mark.slow
def test_bench_on_a_place_uploads_collects_a_full_result_and_releases(lab, tmp_path):
    out = tmp_path / "result.json"
    calls_before = len(lab.calls())
    transcript = tmp_path / "serial.log"
    proc = subprocess.run(lab.bench_command("--out", str(out), "--runs", "3", "--transcript", str(transcript)),
                          capture_output=True, text=True, timeout=240, env=lab.env())
    said = transcript.read_text(errors="replace")[-3000:] if transcript.exists() else "(no transcript)"
    assert proc.returncode == 0, proc.stdout + proc.stderr + said
    result = json.loads(out.read_text())
    ident = result["identity"]
    # The place's board is QEMU (tag emulator=qemu): the figures are labelled as QEMU's.
    assert (ident["target"], ident["emulator"], ident["board"]) == ("qemu", "qemu", "mps2-an386")
    assert result["latency"]["unit"] == "instructions" and len(result["latency"]["runs"]) == 3
    assert result["latency"]["median"] > 0 and result["memory"]["stack_high_water_bytes"] > 0

    # The upload ran once on the exporter host with exactly bossac's command line, on the
    # exported device, writing the binary of the image that then reported its build id.
    calls = lab.calls()[calls_before:]
    assert len(calls) == 1
    argv = calls[0]["argv"]
    assert argv[:6] == ["--port", lab.device, "--write", "--erase", "-U", "--reset"]
    firmware = Path(argv[6])
    assert firmware.is_absolute() and firmware.suffix == ".bin" and len(argv) == 7
    assert calls[0]["sha256"] is not None
    assert f"bossac --port {lab.device} --write --erase -U --reset {firmware}" in proc.stderr
    assert "released place" in proc.stderr
    _assert_free(lab)


@pytest.mark.slow
def test_a_second_request_waits_for_the_held_place_instead_of_sharing_it(lab, tmp_path):
    holder, token = _hold(lab)
    bench = subprocess.Popen(lab.bench_command("--out", str(tmp_path / "r.json"), "--runs", "1"),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=lab.env())
    try:
        # The request is queued in the coordinator, behind the holder.
        deadline = time.monotonic() + 60
        while not any(r.get("state") == "waiting" for r in holder.reservations()):
            assert bench.poll() is None, bench.communicate()
            assert time.monotonic() < deadline, "the second request never queued a reservation"
            time.sleep(0.5)
        time.sleep(2)
        assert bench.poll() is None, "the second request ran while the place was held"
        assert holder.show(lab.place).acquired is not None
        released = _give_back(lab, holder, token)
        stdout, stderr = bench.communicate(timeout=240)
    finally:
        if bench.poll() is None:
            bench.kill()
            bench.wait()
    assert bench.returncode == 0, stdout + stderr
    assert f"waiting for place `{lab.place}`, held by" in stderr
    assert _acquired_at(stderr, lab.place) >= released
    _assert_free(lab)


@pytest.mark.slow
def test_a_place_that_never_frees_times_out_naming_it(lab, tmp_path):
    holder, token = _hold(lab)
    try:
        started = time.monotonic()
        proc = subprocess.run(lab.bench_command("--acquire-timeout", "4", "--out", str(tmp_path / "r.json")),
                              capture_output=True, text=True, timeout=120, env=lab.env())
        waited = time.monotonic() - started
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert f"labgrid place `{lab.place}` did not become free within 4 s" in proc.stderr
        assert waited < 60
        # The abandoned request left nothing queued behind the holder.
        assert [r for r in holder.reservations() if r["token"] != token] == []
    finally:
        _give_back(lab, holder, token)
    _assert_free(lab)


@pytest.mark.slow
def test_a_failed_upload_still_releases_the_place(lab, tmp_path):
    proc = subprocess.run(lab.bench_command("--out", str(tmp_path / "r.json")), capture_output=True, text=True,
                          timeout=240, env=lab.env(MCB_STANDIN_FAIL="1"))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "upload on 127.0.0.1 failed" in proc.stderr and "No device found" in proc.stderr
    assert "released place" in proc.stderr
    assert not (tmp_path / "r.json").exists()
    _assert_free(lab)


@pytest.mark.slow
def test_ctrl_c_releases_the_place(lab, tmp_path):
    bench = subprocess.Popen(lab.bench_command("--out", str(tmp_path / "r.json")), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=lab.env())
    client = lab.client()
    try:
        deadline = time.monotonic() + 120
        while client.show(lab.place).acquired is None:
            assert bench.poll() is None, bench.communicate()
            assert time.monotonic() < deadline, "the request never acquired the place"
            time.sleep(0.2)
        bench.send_signal(signal.SIGINT)  # what Ctrl-C in a terminal sends
        stdout, stderr = bench.communicate(timeout=60)
    finally:
        if bench.poll() is None:
            bench.kill()
            bench.wait()
    assert bench.returncode == 130, stdout + stderr
    assert "interrupted" in stderr and "released place" in stderr
    assert not (tmp_path / "r.json").exists()
    _assert_free(lab)


def test_one_serial_module_serves_mcubench_and_labgrid():
    """labgrid's pyserial-labgrid and pyserial install the same `serial` package (labgrid
    issue #1245); whichever was installed last owns the files. mcubench must work on either."""
    from importlib.metadata import PackageNotFoundError, version

    import serial
    import serial.rfc2217

    from mcubench.link.protocol import encode_record
    from mcubench.link.transport import SerialLink

    def installed(dist: str) -> str | None:
        try:
            return version(dist)
        except PackageNotFoundError:
            return None

    owners = {d: installed(d) for d in ("pyserial", "pyserial-labgrid")}
    assert any(owners.values()), owners
    assert serial.VERSION in {v for v in owners.values() if v}, (serial.VERSION, owners)
    assert serial.VERSION.startswith("3.5")
    for url in ("rfc2217://127.0.0.1:1?ign_set_control", "socket://127.0.0.1:1"):
        serial.serial_for_url(url, do_not_open=True)  # the URL handlers mcubench uses exist
    with SerialLink.open("loop://") as link:
        link.port.write(encode_record("done", {"status": "ok"}))
        assert [r.type for r in link.collect(until=("done",), timeout=5)] == ["done"]
