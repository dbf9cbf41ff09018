"""Progress on the steps that take more than a few seconds (training, conversion, builds,
emulator runs), shown only on a terminal.

The CLI turns it on when standard error is a terminal and the output is not machine-read
(`--json`, `--csv`) or verbose. It writes to its own copy of the terminal's file descriptor,
so it stays visible while third-party output is being captured (which redirects fd 2), and a
pipe, a CI log or a `--json` consumer never sees it.
"""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from typing import Iterator, TextIO

from rich.console import Console
from rich.live import Live
from rich.spinner import Spinner

_console: Console | None = None


def enable() -> bool:
    """Shows progress from now on when standard error is a terminal; returns whether it does."""
    global _console
    if _console is None and os.isatty(2):
        terminal: TextIO = os.fdopen(os.dup(2), "w", buffering=1)
        _console = Console(file=terminal, stderr=True)
    return _console is not None


def disable() -> None:
    global _console
    _console = None


@contextmanager
def step(description: str) -> Iterator[None]:
    """A spinner with ``description`` while the block runs, then one line with its duration."""
    if _console is None:
        yield
        return
    started = time.monotonic()
    # Live would by default swap sys.stdout/sys.stderr for its own proxies, which would show
    # what third_party_output captures (TensorFlow prints through them): keep both.
    spinner = Spinner("dots", text=f"{description} …")
    with Live(spinner, console=_console, transient=True, redirect_stdout=False, redirect_stderr=False):
        yield
    _console.print(f"[dim]✓ {description} ({time.monotonic() - started:.1f} s)[/dim]", highlight=False)
