"""Generated Renode scripts: a `.resc` for `renode` and a Robot suite for `renode-test`.

Both come from Jinja templates under templates/renode/ and from one list of monitor commands
(``machine_commands``), so the interactive script and the CI suite set up the same machine:
the board's Renode platform, our ELF, a DWT at the core clock (Renode's nRF52840 has none),
and a documented emulation speed (``cpu PerformanceInMips``).

Syntax checked against Renode 1.16.1 (renode/renode 06854d4d, renode-infrastructure
0c7d0762): monitor tokenizer (`@path`, spaces escaped as `\\ `, no `;`), the
CreateServerSocketTerminal(port, name, telnetMode) extension, Miscellaneous.DWT(frequency),
and the UART keywords of src/Renode/RobotFrameworkEngine/UartKeywords.cs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcubench.core.boards import Board
from mcubench.core.errors import UserError
from mcubench.core.fileio import write_text_atomic
from mcubench.core.identity import tool_version
from mcubench.core.templates import template_env

# The protocol's record marker (docs/protocol.md) as the Robot suite matches it.
RECORD_MARKER = "@MCB1"
SOCKET_TERMINAL = "term"
DEFAULT_UART_PORT = 3456
# Virtual seconds the Robot suite waits for each record (Renode's tester counts virtual time).
DEFAULT_VIRTUAL_TIMEOUT = 60.0
# Wall-clock cap for each Robot test (Robot's own Test Timeout), so CI never hangs.
DEFAULT_WALL_TIMEOUT = 600


@dataclass(frozen=True)
class RenodeMachine:
    """The emulated board as boards/<id>.json `targets.renode` describes it."""

    board_id: str
    board_name: str
    platform: str  # Renode's name for it, e.g. arduino_nano_33_ble
    repl: str  # platform description, relative to Renode's installation
    uart: str  # peripheral the protocol runs on, e.g. sysbus.uart0
    dwt_base: int | None  # where the generated script adds a DWT; None: the platform has one
    dwt_frequency_hz: int
    performance_mips: int
    clock_hz: int

    @classmethod
    def from_board(cls, board: Board) -> "RenodeMachine":
        target = board.targets.get("renode")
        where = f"{board.path or board.id}: targets.renode"
        if target is None:
            known = ", ".join(board.targets) or "none"
            raise UserError(
                f"board `{board.id}` has no Renode platform (it runs on: {known})",
                "use --board nano33ble, or add a `renode` entry under `targets` in the board file (docs/renode.md)",
            )
        try:
            dwt = target.get("dwt")
            machine = cls(
                board_id=board.id,
                board_name=board.name,
                platform=str(target["platform"]),
                repl=str(target["repl"]),
                uart=str(target["uart"]),
                dwt_base=int(str(dwt["base"]), 0) if dwt else None,
                dwt_frequency_hz=int(dwt["frequency_hz"]) if dwt else board.clock_hz,
                performance_mips=int(target["performance_mips"]),
                clock_hz=board.clock_hz,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise UserError(f"{where}: missing or invalid field {exc}", "see docs/renode.md for the fields") from None
        if machine.performance_mips <= 0:
            raise UserError(f"{where}: performance_mips must be positive", "e.g. 64 for one instruction per 64 MHz cycle")
        if not re.fullmatch(r"sysbus\.[A-Za-z_][A-Za-z0-9_]*", machine.uart):
            raise UserError(f"{where}: uart `{machine.uart}` is not a sysbus peripheral name", "e.g. sysbus.uart0")
        return machine

    @property
    def machine_name(self) -> str:
        return self.board_id

    @property
    def virtual_cycles_per_instruction(self) -> float:
        """Renode advances virtual time by 1/MIPS µs per instruction; the DWT counts that time."""
        return self.dwt_frequency_hz / (self.performance_mips * 1e6)


def renode_path(path: Path) -> str:
    """A path as Renode's monitor reads it after `@`: spaces escaped, `;` impossible."""
    text = str(Path(path).resolve())
    if ";" in text or any(ch in text for ch in "\t\n\r\"'"):
        raise UserError(
            f"Renode cannot load a file whose path contains `;`, quotes or control characters: {text}",
            "choose an output directory with a plain path (--out)",
        )
    return text.replace(" ", "\\ ")


def dwt_description(machine: RenodeMachine) -> str | None:
    """The platform-description line that adds a DWT cycle counter (Miscellaneous.DWT)."""
    if machine.dwt_base is None:
        return None
    return f"dwt: Miscellaneous.DWT @ sysbus 0x{machine.dwt_base:08X} {{ frequency: {machine.dwt_frequency_hz} }}"


def machine_commands(machine: RenodeMachine, elf_ref: str, with_dwt: bool = True) -> list[str]:
    """Monitor commands that create the machine and load the image (``elf_ref``: `@path` or `$var`)."""
    commands = [
        f'mach create "{machine.machine_name}"',
        f"machine LoadPlatformDescription @{machine.repl}",
    ]
    dwt = dwt_description(machine)
    if with_dwt and dwt:
        commands.append(f'machine LoadPlatformDescriptionFromString "{dwt}"')
    commands += [
        f"cpu PerformanceInMips {machine.performance_mips}",
        f"sysbus LoadELF {elf_ref}",
    ]
    return commands


def _context(machine: RenodeMachine, workload: str) -> dict[str, Any]:
    return {
        "version": tool_version(),
        "machine": machine,
        "workload": workload,
        "marker": RECORD_MARKER,
        "dwt": dwt_description(machine),
    }


def render_resc(machine: RenodeMachine, elf: Path, uart_port: int = DEFAULT_UART_PORT, workload: str = "benchmark") -> str:
    """The `.resc`: machine, ELF, DWT, UART on a raw TCP socket on loopback, MIPS, start."""
    if not 0 < uart_port < 65536:
        raise UserError(f"UART port {uart_port} is out of range", "choose a TCP port between 1 and 65535")
    context = _context(machine, workload)
    context.update(
        elf=renode_path(elf),
        uart_port=uart_port,
        terminal=SOCKET_TERMINAL,
        commands=machine_commands(machine, "$bin"),
    )
    return template_env().get_template("renode/benchmark.resc.j2").render(context)


def render_robot(
    machine: RenodeMachine,
    elf_name: str,
    workload: str = "benchmark",
    virtual_timeout: float = DEFAULT_VIRTUAL_TIMEOUT,
    wall_timeout: int = DEFAULT_WALL_TIMEOUT,
) -> str:
    """The Robot suite for `renode-test`: passes on results + `done status=ok`, fails on `err`/timeout."""
    if "/" in elf_name or " " in elf_name or ";" in elf_name:
        raise UserError(f"ELF name `{elf_name}` must be a plain file name next to the suite", "e.g. nano33ble.elf")
    if virtual_timeout <= 0 or wall_timeout <= 0:
        raise UserError("Robot suite timeouts must be positive", "e.g. --timeout 60")
    context = _context(machine, workload)
    context.update(
        elf_name=elf_name,
        virtual_timeout=f"{virtual_timeout:g}",
        wall_timeout=wall_timeout,
        commands_dwt=machine_commands(machine, "@${ELF}", with_dwt=True),
        commands_no_dwt=machine_commands(machine, "@${ELF}", with_dwt=False),
        timer_hz=16000000,
    )
    return template_env().get_template("renode/benchmark.robot.j2").render(context)


@dataclass(frozen=True)
class RenodeScripts:
    resc: Path
    robot: Path | None
    elf: Path


def write_scripts(
    machine: RenodeMachine,
    elf: Path,
    out_dir: Path,
    robot: bool = True,
    uart_port: int = DEFAULT_UART_PORT,
    workload: str = "benchmark",
    virtual_timeout: float = DEFAULT_VIRTUAL_TIMEOUT,
) -> RenodeScripts:
    """Writes `<board>.resc` (and `<board>.robot`) next to ``elf``, which must be in ``out_dir``."""
    elf = Path(elf).resolve()
    out_dir = Path(out_dir).resolve()
    if elf.parent != out_dir:
        raise UserError(f"the ELF {elf} must sit in {out_dir} next to the scripts", "copy it there first")
    stem = machine.board_id
    resc_text = render_resc(machine, elf, uart_port, workload)
    problems = check_resc(resc_text)
    if problems:  # a bug in the template, not a user error
        raise AssertionError("generated .resc breaks Renode's syntax: " + "; ".join(problems))
    resc = write_text_atomic(out_dir / f"{stem}.resc", resc_text)
    robot_path = None
    if robot:
        robot_path = write_text_atomic(
            out_dir / f"{stem}.robot", render_robot(machine, elf.name, workload, virtual_timeout)
        )
    return RenodeScripts(resc, robot_path, elf)


# --- What a .resc line may be: the monitor commands we generate, in Renode's documented forms.
_PATH = r"@(?:\\ |[^\s;])+"
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_PERIPHERAL = rf"(?:sysbus\.)?{_NAME}(?:\.{_NAME})*"
_VALUE = rf'(?:{_PATH}|"[^"]*"|-?\d+|0x[0-9A-Fa-f]+|true|false)'
_REPL_ENTRY = (
    rf"{_NAME}: [A-Za-z]+\.[A-Za-z0-9_]+ @ sysbus (?:0x[0-9A-Fa-f]+|\d+)"
    rf"(?: \{{ {_NAME}: (?:\d+|0x[0-9A-Fa-f]+|\"[^\"]*\")(?:; {_NAME}: (?:\d+|0x[0-9A-Fa-f]+|\"[^\"]*\"))* \}})?"
)
RESC_GRAMMAR: dict[str, re.Pattern[str]] = {
    "header": re.compile(r":(name|description): .+"),
    "comment": re.compile(r"#.*"),
    "variable default": re.compile(rf"\${_NAME}\?={_VALUE}"),
    "using": re.compile(r"using sysbus"),
    "mach create": re.compile(r'mach create(?: "[^"\s]+")?'),
    "LoadPlatformDescription": re.compile(rf"machine LoadPlatformDescription {_PATH}"),
    "LoadPlatformDescriptionFromString": re.compile(rf'machine LoadPlatformDescriptionFromString "{_REPL_ENTRY}"'),
    "PerformanceInMips": re.compile(rf"(?:sysbus\.)?cpu PerformanceInMips [1-9]\d*"),
    "LoadELF": re.compile(rf"sysbus LoadELF (?:{_PATH}|\${_NAME})"),
    "CreateServerSocketTerminal": re.compile(
        rf'emulation CreateServerSocketTerminal (?:[1-9]\d*|\${_NAME}) "{_NAME}" (?:true|false)'
    ),
    "connector Connect": re.compile(rf"connector Connect {_PERIPHERAL} {_NAME}"),
    "logLevel": re.compile(r"logLevel -?[0-3](?: [A-Za-z0-9_.]+)?"),
    "showAnalyzer": re.compile(rf"showAnalyzer {_PERIPHERAL}"),
    "start": re.compile(r"start"),
}


def check_resc(text: str) -> list[str]:
    """Problems with a `.resc`: every non-blank line must be one of the forms in RESC_GRAMMAR,
    and the script must create, load, connect and start in that order."""
    problems = []
    order = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        kind = next((k for k, pattern in RESC_GRAMMAR.items() if pattern.fullmatch(line)), None)
        if kind is None:
            problems.append(f"line {number}: not a known Renode command form: {line!r}")
        else:
            order.append(kind)
    for kind in ("mach create", "LoadPlatformDescription", "LoadELF", "CreateServerSocketTerminal", "connector Connect", "start"):
        if kind not in order:
            problems.append(f"missing `{kind}`")
    # What must come before what: a machine before its platform, the platform before the ELF and
    # the UART connection, the terminal before connecting to it, and `start` last.
    before = [
        ("mach create", "LoadPlatformDescription"),
        ("LoadPlatformDescription", "LoadPlatformDescriptionFromString"),
        ("LoadPlatformDescription", "LoadELF"),
        ("LoadPlatformDescription", "connector Connect"),
        ("CreateServerSocketTerminal", "connector Connect"),
    ]
    for first, then in before:
        if first in order and then in order and order.index(first) > order.index(then):
            problems.append(f"commands out of order: `{first}` must come before `{then}`")
    commands = [k for k in order if k not in ("header", "comment", "variable default")]
    if "start" in commands and commands[-1] != "start":
        problems.append("commands out of order: `start` must be the last command")
    return problems
