"""The serial link over pyserial's socket:// (as used for emulators): timeouts, closed
streams and device errors each give the documented outcome, naming the port."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from mcubench.link.protocol import encode_record
from mcubench.link.transport import DeviceError, LinkClosed, LinkTimeout, SerialLink


class FakeDeviceServer:
    """A loopback TCP peer that plays a scripted byte stream, like an emulator's UART."""

    def __init__(self, script: list[bytes | float], close_after: bool = True):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.url = f"socket://127.0.0.1:{self.sock.getsockname()[1]}"
        self.received = bytearray()
        self._thread = threading.Thread(target=self._serve, args=(script, close_after), daemon=True)
        self._thread.start()

    def _serve(self, script, close_after):
        conn, _ = self.sock.accept()
        conn.settimeout(0.05)
        for step in script:
            if isinstance(step, float):
                time.sleep(step)
            else:
                conn.sendall(step)
        if close_after:
            time.sleep(0.1)
            conn.close()
        else:
            end = time.monotonic() + 5
            while time.monotonic() < end:
                try:
                    data = conn.recv(4096)
                    if not data:
                        break
                    self.received += data
                except socket.timeout:
                    pass
            conn.close()
        self.sock.close()


def test_records_arrive_split_and_noisy():
    rec = encode_record("run", {"i": 0, "ticks": 3})
    server = FakeDeviceServer([b"boot...", rec[:5], 0.05, rec[5:], b"noise\n", encode_record("done", {"status": "ok"})])
    with SerialLink.open(server.url) as link:
        records = link.collect(until=("done",), timeout=5)
    assert [r.type for r in records] == ["run", "done"]


def test_silent_device_times_out_naming_port_and_last_seen():
    server = FakeDeviceServer([b"booting banner without records", 3.0])
    with SerialLink.open(server.url) as link:
        with pytest.raises(LinkTimeout) as err:
            link.collect(until=("done",), timeout=1.0)
    assert server.url in err.value.message
    assert "booting banner" in err.value.message


def test_truncated_stream_is_an_error_naming_the_last_record():
    rec = encode_record("cfg", {"warmup": 1, "runs": 5})
    server = FakeDeviceServer([rec, encode_record("run", {"i": 0, "ticks": 9})[:10]])
    with SerialLink.open(server.url) as link:
        with pytest.raises((LinkClosed, LinkTimeout)) as err:
            link.collect(until=("done",), timeout=3.0, is_alive=lambda: False)
    assert "cfg" in err.value.message and server.url in err.value.message


def test_error_record_raises_device_error():
    server = FakeDeviceServer([encode_record("err", {"code": "fault", "msg": "hard fault", "pc": 4096})])
    with SerialLink.open(server.url) as link:
        with pytest.raises(DeviceError) as err:
            link.collect(until=("done",), timeout=3.0)
    assert err.value.record.get("code") == "fault"
    assert "0x00001000" in err.value.hint


def test_commands_reach_the_device():
    server = FakeDeviceServer([encode_record("ready", {})], close_after=False)
    with SerialLink.open(server.url) as link:
        link.collect(until=("ready",), timeout=3)
        link.command("bench", runs=3)
        time.sleep(0.3)
    deadline = time.monotonic() + 3
    while b"\n" not in server.received and time.monotonic() < deadline:
        time.sleep(0.05)
    assert bytes(server.received) == encode_record("cmd", {"name": "bench", "runs": 3})


def test_records_after_the_wanted_one_in_the_same_read_are_kept_for_the_next_collect():
    """One read may bring `hello … done ready` at once (rfc2217:// and loop:// hand over all
    that is buffered; socket:// reads byte by byte): collect(until=hello) must not drop what
    follows it. Two CI runs over rfc2217 lost a `done` that way."""
    boot = b"".join(encode_record(t, {"status": "ok"} if t == "done" else {}) for t in ("hello", "build", "done", "ready"))
    with SerialLink.open("loop://") as link:
        link.port.write(boot)  # a loop port reads back what was written, all of it in one read
        assert [r.type for r in link.collect(until=("hello",), timeout=5)] == ["hello"]
        assert [r.type for r in link.collect(until=("done",), timeout=5)] == ["build", "done"]
        assert [r.type for r in link.collect(until=("ready",), timeout=5)] == ["ready"]
        link.port.write(encode_record("done", {"status": "again"}))
        last = link.collect(until=("done",), timeout=5)
    assert [(r.type, r.get("status")) for r in last] == [("done", "again")]
    assert [r.type for r in link.records] == ["hello", "build", "done", "ready", "done"]
