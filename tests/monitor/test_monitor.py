"""mcubench monitor: recorded transcripts with noise, split records and a disconnect, and a
real QEMU-run firmware over socket://."""

from __future__ import annotations

import io
import sys
import time
from pathlib import Path

import pytest

from mcubench.commands.monitor import Monitor, describe
from mcubench.link.protocol import encode_record

sys.path.insert(0, str(Path(__file__).parents[1] / "hardware"))
from hw_replay import FIXTURES, FakeClock, ReplaySerial, split_every  # noqa: E402

SESSION = (FIXTURES / "nano33ble_boot_session.log").read_bytes()


def make_monitor(ports: dict, first: str, find=None, **kwargs):
    out = io.StringIO()
    log = io.BytesIO()
    clock = FakeClock()
    opened = []

    def open_port(name):
        opened.append(name)
        queue = ports.get(name)
        if not queue:
            raise OSError(f"could not open port {name}: [Errno 2] No such file or directory")
        return queue.pop(0)

    mon = Monitor(first, open_port, out, log_file=log, find_port=find, clock=clock, sleep=clock.sleep, **kwargs)
    return mon, out, log, opened


def test_split_records_noise_and_reconnect_after_reenumeration():
    cut = SESSION.index(b"@MCB1 run i=2") + 9  # the board resets in the middle of a record
    before, after = SESSION[:cut], SESSION[SESSION.index(b"@MCB1 hello"):]
    first = ReplaySerial(split_every(before, [5, 77, 1, 300]), vanish_at_end=True, name="/dev/ttyACM0")
    second = ReplaySerial(split_every(after, [64]), vanish_at_end=False, name="/dev/ttyACM1")
    polls = iter([None, None, "/dev/ttyACM1"])
    mon, out, log, opened = make_monitor(
        {"/dev/ttyACM0": [first], "/dev/ttyACM1": [second]}, "/dev/ttyACM0", find=lambda: next(polls), until="ready",
    )
    stats = mon.run()
    text = out.getvalue()
    assert opened == ["/dev/ttyACM0", "/dev/ttyACM1"]
    assert stats.reconnects == 1
    assert "[reconnected on /dev/ttyACM1]" in text
    # raw lines shown, noise marked, records decoded
    assert "~ TFLM: arena ready" in text
    assert "» device up: board nano33ble (arduino port), tflm workload tflm:digits_int8, clock 64 MHz" in text
    assert "» run #4: 412,688 ticks" in text
    assert "» op #0 CONV_2D: 248,062 ticks per run" in text
    assert "» memory: stack 2,312/16,368 B, arena 5,824/7,456 B" in text
    assert "» ready for commands" in text
    # the record cut by the reset is not decoded, and never half-shown as a record
    assert stats.types["hello"] == 2 and stats.types["run"] == 2 + 5
    # the log holds every byte received, in order
    assert log.getvalue() == before + after


def test_bad_checksum_is_noise_not_a_record():
    good = encode_record("run", {"i": 0, "ticks": 100})
    bad = good.replace(b"ticks=100", b"ticks=900")
    port = ReplaySerial([b"boot\r\n", bad, good, encode_record("done", {"status": "ok"})])
    mon, out, _, _ = make_monitor({"x": [port]}, "x", until="done")
    stats = mon.run()
    assert stats.types == {"run": 1, "done": 1}
    assert "1 bad checksums" in out.getvalue()


def test_port_that_never_returns_ends_the_session():
    port = ReplaySerial([SESSION[:200]], vanish_at_end=True)
    mon, out, _, _ = make_monitor({"/dev/ttyACM0": [port]}, "/dev/ttyACM0", find=lambda: None, reconnect_wait=3)
    mon.run()
    assert "did not come back within 3 s" in out.getvalue()


def test_commands_are_sent_framed():
    port = ReplaySerial([encode_record("done", {"status": "ok"})])
    mon, out, _, _ = make_monitor({"p": [port]}, "p", until="done", commands=["bench,runs=10,warmup=2"])
    mon.run()
    assert port.written == [encode_record("cmd", {"name": "bench", "runs": "10", "warmup": "2"})]


def test_describe_err_record():
    from mcubench.link.protocol import Decoder

    rec = Decoder().feed(encode_record("err", {"code": "fault", "msg": "hard fault", "pc": 1234}))[0]
    assert describe(rec) == "ERROR fault: hard fault pc=1234"


@pytest.mark.slow
def test_monitor_on_qemu_over_socket(tmp_path):
    """The real thing: the built-in workload on QEMU, monitored over socket://, then told to exit."""
    from mcubench.bench.build import build
    from mcubench.bench.render import render_project
    from mcubench.core.boards import load_board
    from mcubench.core.types import RunOptions, WorkloadSpec
    from mcubench.targets.qemu import Qemu

    qemu = Qemu()
    if not qemu.executable():
        pytest.skip("qemu-system-arm is not on PATH")
    board = load_board("mps2-an386")
    project = render_project("builtin", WorkloadSpec("dot_int8", {"n": 64}), board)
    image = build(project)
    running = qemu.start(image, tmp_path, RunOptions())
    out = io.StringIO()
    log_path = tmp_path / "session.log"
    from mcubench.commands.monitor import open_serial_port
    from mcubench.link.transport import LinkClosed

    def open_when_listening(url):
        # QEMU listens a moment after it starts; its first client gets the whole boot output.
        for _ in range(200):
            try:
                return open_serial_port(url)
            except LinkClosed:
                time.sleep(0.05)
        raise AssertionError(f"QEMU never listened on {url}: {running.log_text()}")

    with open(log_path, "wb") as log:
        mon = Monitor(running.serial_url, open_when_listening, out, log_file=log, until="ready",
                      reconnect_wait=0, duration=60)
        try:
            stats = mon.run()
        finally:
            running.stop()
    text = out.getvalue()
    assert stats.types.get("hello") == 1 and stats.types.get("run") == 5
    assert "» device up: board mps2-an386" in text and "ticks are systick" in text
    assert "» ready for commands" in text
    assert log_path.read_bytes().count(b"@MCB1 run ") == 5
