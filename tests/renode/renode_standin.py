"""A stand-in for the few Renode keywords the generated suite uses, replaying UART transcripts.

It lets CI execute the generated `.robot` with Robot Framework's own runner and check the
suite's logic (passes on results + `done status=ok`, fails on `err`, fails when a record never
comes). It is not Renode: it checks each monitor command against the documented forms and
that the ELF it loads exists, then serves a transcript — the DWT one when the suite added a
DWT, the TIMER1 one otherwise. Renode itself runs in test_renode_live.py where it is on PATH.
"""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

from mcubench.targets.renode_scripts import RESC_GRAMMAR


class renode_standin:  # noqa: N801 - Robot library named after its module
    ROBOT_LIBRARY_SCOPE = "SUITE"

    def __init__(self, dwt_transcript: str, timer_transcript: str):
        self.transcripts = {"dwt": Path(dwt_transcript), "timer": Path(timer_transcript)}
        self.reset_emulation()

    def reset_emulation(self) -> None:
        self.commands: list[str] = []
        self.lines: list[str] = []
        self.started = False
        self.tester_uart: str | None = None
        self.default_timeout = 8.0

    def execute_command(self, command: str) -> str:
        if self.started:
            raise AssertionError(f"command after start: {command}")
        if not any(p.fullmatch(command) for p in RESC_GRAMMAR.values()):
            raise AssertionError(f"not a documented Renode command form: {command!r}")
        load = re.fullmatch(r"sysbus LoadELF @(.+)", command)
        if load and not Path(load.group(1).replace("\\ ", " ")).is_file():
            raise AssertionError(f"LoadELF: no such file {load.group(1)}")
        self.commands.append(command)
        return ""

    def create_terminal_tester(self, uart: str, timeout: str | None = None, **_: str) -> int:
        if not re.fullmatch(r"sysbus\.\w+", uart):
            raise AssertionError(f"not a UART peripheral path: {uart}")
        self.tester_uart = uart
        if timeout is not None:
            self.default_timeout = float(timeout)
        return 0

    def start_emulation(self) -> None:
        if not any(c.startswith("sysbus LoadELF") for c in self.commands) or self.tester_uart is None:
            raise AssertionError("emulation started without an ELF or a terminal tester")
        kind = "dwt" if any("Miscellaneous.DWT" in c for c in self.commands) else "timer"
        self.lines = self.transcripts[kind].read_text(encoding="latin-1").splitlines()
        self.started = True

    def wait_for_line_on_uart(self, content: str, timeout: str | None = None, testerId: str | None = None,
                              treatAsRegex: str | bool = False, **_: str):
        regex = str(treatAsRegex).lower() == "true"
        while self.lines:
            line = self.lines.pop(0)
            if regex:
                match = re.search(content, line)
                if match:
                    return SimpleNamespace(Line=line, Groups=list(match.groups()))
            elif content in line:
                return SimpleNamespace(Line=line, Groups=[])
        raise AssertionError(f"Terminal tester failed! Timeout: no line matching {content!r} (transcript ended)")
