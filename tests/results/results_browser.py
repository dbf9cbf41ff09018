"""Load a page in Debian's headless Chromium and report what a user would see.

Speaks the Chrome DevTools protocol over a WebSocket (a minimal RFC 6455 client on the
standard library): enables Runtime/Log/Network/Page, navigates, waits for the load event, then
collects console errors, uncaught exceptions, failed or external requests, and the natural size
of every <img>. Always stops the browser it started.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM = os.environ.get("MCUBENCH_CHROMIUM", "/usr/bin/chromium")


def chromium_path() -> str | None:
    found = shutil.which(CHROMIUM) if not os.path.isabs(CHROMIUM) else (CHROMIUM if os.access(CHROMIUM, os.X_OK) else None)
    return found


class WebSocket:
    """Just enough of a WebSocket client for DevTools: text frames, ping/pong, fragmentation."""

    def __init__(self, url: str, timeout: float):
        m = re.match(r"ws://([^/:]+):(\d+)(/.*)", url)
        if not m:
            raise ValueError(f"unexpected DevTools URL {url}")
        host, port, path = m.group(1), int(m.group(2)), m.group(3)
        self.sock = socket.create_connection((host, port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        response = b""
        while b"\r\n\r\n" not in response:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("DevTools closed the connection during the handshake")
            response += chunk
        head, _, self.buffer = response.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101"):
            raise ConnectionError(f"WebSocket handshake refused: {head[:80]!r}")

    def _read(self, n: int) -> bytes:
        while len(self.buffer) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("DevTools closed the connection")
            self.buffer += chunk
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def _send_frame(self, opcode: int, payload: bytes) -> None:
        header = bytes([0x80 | opcode])
        n = len(payload)
        if n < 126:
            header += bytes([0x80 | n])
        elif n < 1 << 16:
            header += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            header += bytes([0x80 | 127]) + struct.pack(">Q", n)
        mask = os.urandom(4)
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def send(self, text: str) -> None:
        self._send_frame(0x1, text.encode())

    def recv(self) -> str:
        message = b""
        while True:
            b0, b1 = self._read(2)
            opcode, n = b0 & 0x0F, b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._read(8))[0]
            mask = self._read(4) if b1 & 0x80 else None
            payload = self._read(n)
            if mask:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            if opcode == 0x9:  # ping
                self._send_frame(0xA, payload)
                continue
            if opcode == 0x8:
                raise ConnectionError("DevTools closed the WebSocket")
            if opcode in (0x0, 0x1, 0x2):
                message += payload
                if b0 & 0x80:
                    return message.decode()

    def close(self) -> None:
        try:
            self._send_frame(0x8, b"")
        except OSError:
            pass
        self.sock.close()


@dataclass
class PageCheck:
    url: str
    console_errors: list[str] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    external_requests: list[str] = field(default_factory=list)
    images: list[dict] = field(default_factory=list)  # {id, naturalWidth, naturalHeight, complete}
    body_plots: int | None = None  # the page's own count of plots (data-plots)
    page_width: int = 0  # the document's scroll width at the window's width
    view_width: int = 0
    wide_tables: int = 0  # tables reaching past the window's or their container's right edge

    @property
    def problems(self) -> list[str]:
        out = [f"console error: {e}" for e in self.console_errors]
        out += [f"exception: {e}" for e in self.exceptions]
        out += [f"failed request: {r}" for r in self.failed_requests]
        out += [f"external request: {r}" for r in self.external_requests]
        out += [f"image {i['id'] or '?'} did not load" for i in self.images if not i["naturalWidth"]]
        return out


class Chromium:
    def __init__(self, timeout: float = 60.0):
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="mcb-chromium-")
        self.proc: subprocess.Popen | None = None
        self.stderr_lines: list[str] = []

    def __enter__(self) -> "Chromium":
        exe = chromium_path()
        if exe is None:
            raise FileNotFoundError(CHROMIUM)
        cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-default-apps",
               "--disable-extensions", "--mute-audio", "--remote-debugging-address=127.0.0.1",
               "--remote-debugging-port=0", f"--user-data-dir={self.profile}", "about:blank"]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        found = threading.Event()
        self.browser_ws = None

        def drain() -> None:
            for line in self.proc.stderr:
                self.stderr_lines.append(line.rstrip())
                m = re.search(r"DevTools listening on (ws://\S+)", line)
                if m:
                    self.browser_ws = m.group(1)
                    found.set()

        threading.Thread(target=drain, daemon=True).start()
        if not found.wait(self.timeout):
            self.__exit__(None, None, None)
            raise TimeoutError("chromium did not start DevTools:\n" + "\n".join(self.stderr_lines[-20:]))
        self.port = int(re.match(r"ws://[^:]+:(\d+)/", self.browser_ws).group(1))
        return self

    def __exit__(self, *exc) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        shutil.rmtree(self.profile, ignore_errors=True)

    def _page_ws_url(self) -> str:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/json/list", timeout=10) as resp:
                targets = json.load(resp)
            pages = [t for t in targets if t.get("type") == "page"]
            if pages:
                return pages[0]["webSocketDebuggerUrl"]
            time.sleep(0.2)
        raise TimeoutError("chromium has no page target")

    def check(self, path: Path, width: int = 1280, height: int = 800, screenshot: Path | None = None) -> PageCheck:
        """Loads the page in a ``width`` x ``height`` window (a laptop screen by default); with
        ``screenshot``, also saves what the window shows as a PNG."""
        url = Path(path).resolve().as_uri()
        result = PageCheck(url)
        ws = WebSocket(self._page_ws_url(), self.timeout)
        next_id = iter(range(1, 1_000_000))
        deadline = time.monotonic() + self.timeout

        def call(method: str, **params) -> dict:
            msg_id = next(next_id)
            ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))
            while True:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"no answer to {method}")
                msg = json.loads(ws.recv())
                if msg.get("id") == msg_id:
                    if "error" in msg:
                        raise RuntimeError(f"{method}: {msg['error']}")
                    return msg.get("result", {})
                handle(msg)

        loaded = threading.Event()

        def handle(msg: dict) -> None:
            method, params = msg.get("method"), msg.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                result.console_errors.append(" ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", [])))
            elif method == "Runtime.exceptionThrown":
                details = params.get("exceptionDetails", {})
                result.exceptions.append(details.get("exception", {}).get("description") or details.get("text", "?"))
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                entry = params["entry"]
                result.console_errors.append(f"{entry.get('source')}: {entry.get('text')} {entry.get('url', '')}".strip())
            elif method == "Network.requestWillBeSent":
                req_url = params.get("request", {}).get("url", "")
                if not req_url.startswith(("data:", "file:", "about:")):
                    result.external_requests.append(req_url)
            elif method == "Network.loadingFailed" and not params.get("canceled"):
                result.failed_requests.append(f"{params.get('type')}: {params.get('errorText')}")
            elif method == "Page.loadEventFired":
                loaded.set()

        try:
            for domain in ("Runtime", "Log", "Network", "Page"):
                call(f"{domain}.enable")
            call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)
            call("Page.navigate", url=url)
            while not loaded.is_set():
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{url} did not finish loading")
                handle(json.loads(ws.recv()))
            # Let late console messages arrive, then read the images as the page sees them.
            value = call("Runtime.evaluate", returnByValue=True, awaitPromise=True, expression="""
                new Promise(done => setTimeout(() => done({
                  plots: document.body ? document.body.dataset.plots : null,
                  pageWidth: document.documentElement.scrollWidth,
                  viewWidth: document.documentElement.clientWidth,
                  wideTables: [...document.querySelectorAll("table")].filter(t => {
                    const right = t.getBoundingClientRect().right, box = t.parentElement.getBoundingClientRect();
                    const pad = parseFloat(getComputedStyle(t.parentElement).paddingRight) || 0;
                    return right > document.documentElement.clientWidth || right > box.right - pad + 1;
                  }).length,
                  images: [...document.images].map(i => ({id: i.id, naturalWidth: i.naturalWidth,
                                                           naturalHeight: i.naturalHeight, complete: i.complete}))
                }), 300))""")["result"]["value"]
            result.images = value["images"]
            result.page_width, result.view_width, result.wide_tables = value["pageWidth"], value["viewWidth"], value["wideTables"]
            if screenshot is not None:
                png = call("Page.captureScreenshot", format="png")["data"]
                Path(screenshot).write_bytes(base64.b64decode(png))
            result.body_plots = None if value.get("plots") is None else int(value["plots"])
        finally:
            ws.close()
        return result
