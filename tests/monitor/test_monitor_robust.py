"""mcubench monitor against hostile bytes (issue #15): records whose checksum is valid but whose
numbers are not, terminal control sequences, overlong lines, any bytes at all; and its log file
(a directory given as --log, a refused connection)."""

from __future__ import annotations

import io
import socket
import subprocess
import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from mcubench.commands.monitor import LINE_MAX, Monitor, printable
from mcubench.link.protocol import encode_record

from helpers import mcubench

UNSAFE_CODEPOINTS = {*range(0x00, 0x09), *range(0x0B, 0x20), *range(0x7F, 0xA0), *range(0x202A, 0x202F), *range(0x2066, 0x206A)}


class OneShotPort:
    """A port that yields its bytes once, then reports the peer gone."""

    def __init__(self, data: bytes):
        self.data = data
        self.in_waiting = len(data)

    def read(self, n: int) -> bytes:
        if not self.data:
            raise OSError("port closed")
        chunk, self.data = self.data[:n], self.data[n:]
        self.in_waiting = len(self.data)
        return chunk

    def close(self) -> None:
        pass


def monitor_output(data: bytes) -> tuple[str, Monitor]:
    out = io.StringIO()
    mon = Monitor("replay://", lambda name: OneShotPort(data), out, reconnect_wait=0)
    mon.run()
    return out.getvalue(), mon


def assert_terminal_safe(text: str) -> None:
    bad = sorted({hex(ord(c)) for c in text if ord(c) in UNSAFE_CODEPOINTS and c != "\n"})
    assert not bad, f"control characters reached the terminal: {bad}"


def test_records_with_valid_checksums_but_non_numeric_fields_are_reported_not_raised():
    data = (encode_record("hello", {"board": "x", "clock_hz": "fast", "tick_hz": 1, "build": "b"})
            + encode_record("run", {"i": 0, "ticks": "abc"})
            + encode_record("mem", {"stack_used": "lots", "stack_size": 4})
            + encode_record("run", {"i": 1, "ticks": 1234}))
    text, mon = monitor_output(data)
    assert "malformed `hello` record (clock_hz=fast is not a number)" in text
    assert "malformed `run` record (ticks=abc is not a number)" in text
    assert "malformed `mem` record (stack_used=lots is not a number)" in text
    assert "run #1: 1,234 ticks" in text
    assert mon.stats.malformed == 3
    assert "3 malformed records" in text.splitlines()[-1]


def test_control_characters_never_reach_the_terminal():
    data = b"\x1b[2J\x1b]0;pwned\x07 boot noise\x00 \xe2\x80\xae reversed\n" + encode_record("log", {"msg": "hi\x1b[31m"})
    text, _ = monitor_output(data)
    assert_terminal_safe(text)
    assert "\\x1b[2J" in text and "\\x00" in text


def test_overlong_lines_are_cut_and_counted():
    text, mon = monitor_output(b"x" * (LINE_MAX * 3) + b"\n" + encode_record("ready"))
    assert mon.stats.overlong == 1
    assert "1 overlong lines" in text.splitlines()[-1]
    assert "ready for commands" in text


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=3000))
def test_any_bytes_give_safe_output_and_a_summary(data):
    text, mon = monitor_output(data)
    assert_terminal_safe(text)
    assert text.splitlines()[-1].startswith("[") and "lines" in text.splitlines()[-1]
    assert mon.stats.lines == data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)


@given(st.text(max_size=200))
def test_printable_escapes_exactly_the_unsafe_characters(text):
    shown = printable(text)
    assert_terminal_safe(shown)
    assert all(c in shown for c in text if ord(c) not in UNSAFE_CODEPOINTS)


def refused_url() -> str:
    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        return f"socket://127.0.0.1:{s.getsockname()[1]}"


def test_refused_connection_is_one_line_and_leaves_no_log(tmp_path):
    log = tmp_path / "session.log"
    proc = mcubench("monitor", refused_url(), "--log", str(log), "--reconnect-wait", "0")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr and "cannot open" in proc.stderr
    assert not log.exists()


def test_log_directory_gets_a_session_file(tmp_path):
    """--log DIR writes a timestamped session log inside DIR (it used to raise IsADirectoryError)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "mcubench.cli", "monitor", f"socket://127.0.0.1:{port}", "--log", str(tmp_path),
         "--until", "ready", "--reconnect-wait", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    conn, _ = listener.accept()
    conn.sendall(b"noise\n" + encode_record("ready"))
    out, err = proc.communicate(timeout=60)
    conn.close()
    listener.close()
    assert proc.returncode == 0, out + err
    logs = list(tmp_path.glob("*.log"))
    assert len(logs) == 1 and logs[0].read_bytes().startswith(b"noise\n")
