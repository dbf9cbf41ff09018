#!/usr/bin/env python3
"""A stand-in for `bossac` on the loopback lab: what a board does when flashed, done by QEMU.

Installed as `bossac` first on PATH of the mcubench process (the exporter host is this
machine), it is run exactly as the real tool would be. It records its command line, checks
it the way bossac would (port present, file present), then "flashes and resets" the board:
stops the emulator behind the exported port and starts QEMU on the written binary, its UART
bridged to the exported pty. socat opens the TCP side only once the pty's far end is opened
(wait-slave) and keeps the pty when it is closed (ignoreeof), and QEMU starts the guest only once socat connects (wait=on), so, like a board
that waits for its USB host, nothing the firmware prints is lost before mcubench listens.

State lives in $MCB_STANDIN_DIR: calls.jsonl (one command line per call), board.pids.
$MCB_STANDIN_FAIL=1 makes the upload fail as bossac does when no bootloader answers.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

STATE = Path(os.environ["MCB_STANDIN_DIR"])
EXPECTED_FLAGS = ["--write", "--erase", "-U", "--reset"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def stop_board() -> None:
    pids = STATE / "board.pids"
    if not pids.exists():
        return
    for pid in [int(p) for p in pids.read_text().split()]:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
        for _ in range(100):  # started detached by an earlier call: wait until gone (or a zombie)
            if not alive(pid):
                break
            time.sleep(0.05)
        else:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    pids.unlink()


def start_board(firmware: str, device: str) -> None:
    port = free_port()
    log = open(STATE / "board.log", "ab")
    qemu = subprocess.Popen(
        ["qemu-system-arm", "-M", "mps2-an386", "-nographic", "-monitor", "none",
         "-serial", f"tcp:127.0.0.1:{port},server=on,wait=on", "-icount", "shift=0",
         "-semihosting-config", "enable=on,target=native", "-kernel", firmware],
        stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
    )
    # socat's own link= is made only after wait-slave is over (too late for the exporter), so
    # read the pty's name from its log and link it ourselves, atomically.
    bridge_log = STATE / "bridge.log"
    with open(bridge_log, "wb") as blog:
        bridge = subprocess.Popen(
            ["socat", "-d", "-d", "pty,raw,echo=0,wait-slave,ignoreeof", f"tcp:127.0.0.1:{port}"],
            stdin=subprocess.DEVNULL, stdout=blog, stderr=blog, start_new_session=True,
        )
    (STATE / "board.pids").write_text(f"{qemu.pid} {bridge.pid}\n")
    deadline = time.monotonic() + 10
    while True:
        found = re.search(r"PTY is (/dev/pts/\d+)", bridge_log.read_text(errors="replace"))
        if found:
            break
        if time.monotonic() > deadline or bridge.poll() is not None:
            print(f"stand-in: the board's port {device} did not come back", file=sys.stderr)
            sys.exit(1)
        time.sleep(0.05)
    tmp = f"{device}.new"
    if os.path.lexists(tmp):
        os.unlink(tmp)
    os.symlink(found.group(1), tmp)
    os.replace(tmp, device)


def main(argv: list[str]) -> int:
    with open(STATE / "calls.jsonl", "a") as calls:
        firmware = argv[-1] if argv else ""
        digest = hashlib.sha256(Path(firmware).read_bytes()).hexdigest() if os.path.isfile(firmware) else None
        calls.write(json.dumps({"argv": argv, "sha256": digest}) + "\n")
    if len(argv) != 7 or argv[0] != "--port" or argv[2:6] != EXPECTED_FLAGS:
        print(f"stand-in bossac: unexpected command line {argv}", file=sys.stderr)
        return 2
    device = argv[1]
    if not os.path.exists(device):
        print(f"No device found on {device}", file=sys.stderr)
        return 1
    if os.environ.get("MCB_STANDIN_FAIL") == "1":
        print(f"No device found on {device}", file=sys.stderr)
        return 1
    if not os.path.isfile(firmware):
        print(f"Failed to open {firmware}", file=sys.stderr)
        return 1
    print(f"Erase flash\nWrite {os.path.getsize(firmware)} bytes to flash\nVerify successful\nSet boot flash true\nCPU reset.")
    stop_board()
    start_board(firmware, device)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
