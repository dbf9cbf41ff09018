"""Issue 6: the generated Renode `.resc` and Robot suite, checked without Renode.

- The `.resc` is checked line by line against the command forms of Renode 1.16.1
  (renode_scripts.RESC_GRAMMAR) and the checker itself is shown to reject broken lines.
- The `.robot` is parsed with Robot Framework's own parser and its structure asserted.
- The suite is then executed by Robot Framework against replayed UART transcripts — real
  benchmark-core output from QEMU with the hello re-encoded as the nRF52840 port sends it —
  through renode_standin.py (the Renode keywords it uses); it must pass on a good session and
  fail on an `err` record and on a missing record (timeout).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from robot.api import TestSuiteBuilder as RobotSuiteBuilder
from robot.api import get_model
from robot.parsing.model.statements import Error as RobotError

from mcubench.core.boards import load_board
from mcubench.core.errors import UserError
from mcubench.link.protocol import Decoder, encode_record
from mcubench.targets.renode_scripts import (
    RenodeMachine,
    check_resc,
    dwt_description,
    machine_commands,
    render_resc,
    render_robot,
    renode_path,
    write_scripts,
)

HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def machine() -> RenodeMachine:
    return RenodeMachine.from_board(load_board("nano33ble"))


def test_machine_comes_from_the_board_file(machine):
    assert machine.platform == "arduino_nano_33_ble"
    assert machine.repl == "platforms/boards/arduino_nano_33_ble.repl"
    assert machine.uart == "sysbus.uart0"
    assert machine.dwt_base == 0xE0001000 and machine.dwt_frequency_hz == 64_000_000
    # 64 MIPS at a 64 MHz DWT: one virtual cycle per instruction.
    assert machine.virtual_cycles_per_instruction == 1.0


def test_board_without_renode_platform_is_a_user_error():
    with pytest.raises(UserError, match="no Renode platform"):
        RenodeMachine.from_board(load_board("mps2-an386"))


def test_resc_follows_renode_syntax_and_order(machine, tmp_path):
    elf = tmp_path / "dir with space" / "image.elf"
    text = render_resc(machine, elf, 4321, "dot_int8")
    assert check_resc(text) == []
    lines = [l for l in text.splitlines() if l and not l.startswith(("#", ":"))]
    assert f"$bin?=@{renode_path(elf)}" in lines and "\\ " in renode_path(elf)
    assert "$port?=4321" in lines
    assert 'mach create "nano33ble"' in lines
    assert "machine LoadPlatformDescription @platforms/boards/arduino_nano_33_ble.repl" in lines
    assert f'machine LoadPlatformDescriptionFromString "{dwt_description(machine)}"' in lines
    assert dwt_description(machine) == "dwt: Miscellaneous.DWT @ sysbus 0xE0001000 { frequency: 64000000 }"
    assert "cpu PerformanceInMips 64" in lines
    assert "sysbus LoadELF $bin" in lines
    assert 'emulation CreateServerSocketTerminal $port "term" false' in lines  # raw socket, not telnet
    assert "connector Connect sysbus.uart0 term" in lines
    assert lines[-1] == "start"


@pytest.mark.parametrize(
    "bad_line, complaint",
    [
        ("sysbus LoadELF /no/at/sign.elf", "not a known Renode command form"),
        ("sysbus LoadELF @/a path/with space.elf", "not a known Renode command form"),
        ('emulation CreateServerSocketTerminal 3456 term', "not a known Renode command form"),
        ('emulation CreateServerSocketTerminal 3456 "term" maybe', "not a known Renode command form"),
        ("cpu PerformanceInMips fast", "not a known Renode command form"),
        ('machine LoadPlatformDescriptionFromString "dwt: Miscellaneous.DWT @ sysbus 0xE0001000 { frequency = 64 }"',
         "not a known Renode command form"),
        ("connector Connect sysbus.uart0", "not a known Renode command form"),
    ],
)
def test_resc_checker_rejects_broken_commands(machine, tmp_path, bad_line, complaint):
    good = render_resc(machine, tmp_path / "x.elf", 4000)
    assert check_resc(good + bad_line + "\n") and complaint in " ".join(check_resc(good + bad_line + "\n"))


def test_resc_checker_wants_every_step_in_order(machine, tmp_path):
    good = render_resc(machine, tmp_path / "x.elf", 4000)
    without_start = "\n".join(l for l in good.splitlines() if l.strip() != "start")
    assert "missing `start`" in check_resc(without_start)
    swapped = good.replace("sysbus LoadELF $bin", "#").replace('mach create "nano33ble"', 'mach create "nano33ble"\nsysbus LoadELF $bin')
    assert any("out of order" in p for p in check_resc(swapped))


def test_paths_renode_cannot_read_are_refused(machine, tmp_path):
    with pytest.raises(UserError, match="`;`"):
        render_resc(machine, tmp_path / "a;b" / "x.elf", 4000)
    with pytest.raises(UserError, match="port"):
        render_resc(machine, tmp_path / "x.elf", 70000)


def _robot_file(machine, tmp_path: Path, elf_name: str = "nano33ble-nrf52840.elf", timeout: float = 60) -> Path:
    path = tmp_path / "nano33ble.robot"
    path.write_text(render_robot(machine, elf_name, "dot_int8", virtual_timeout=timeout))
    return path


def test_robot_suite_parses_with_robot_framework(machine, tmp_path):
    path = _robot_file(machine, tmp_path)
    model = get_model(str(path))
    errors = [node for section in model.sections for node in _walk(section) if isinstance(node, RobotError)]
    assert errors == []
    suite = RobotSuiteBuilder().build(str(path))
    assert [t.name for t in suite.tests] == [
        "Benchmark Reports Cycles From The DWT",
        "Benchmark Falls Back To TIMER1 Without A DWT",
    ]
    assert str(suite.resource.variables[0].name) == "${ELF}"
    assert suite.resource.variables[0].value == (str(tmp_path / "nano33ble-nrf52840.elf"),)  # ${CURDIR}/...
    keywords = {k.name: k for k in suite.resource.keywords}
    assert {"Create Machine With DWT", "Create Machine Without DWT", "Fail On Error Record", "Wait For Hello",
            "Wait For Results And Done"} <= set(keywords)
    with_dwt = [tuple(step.args) for step in keywords["Create Machine With DWT"].body]
    assert with_dwt[:5] == [(c,) for c in machine_commands(machine, "@${ELF}", with_dwt=True)]
    assert ("${UART}", "timeout=${TIMEOUT}") == with_dwt[5]
    without_dwt = [step.args[0] for step in keywords["Create Machine Without DWT"].body if step.name == "Execute Command"]
    assert not any("DWT" in c for c in without_dwt)
    # Every wait for a record is a regex wait that also stops at an error record.
    waits = [s for s in keywords["Wait For Results And Done"].body if getattr(s, "name", "") == "Wait For Line On Uart"]
    regex_waits = [s for s in waits if "treatAsRegex=true" in s.args]
    assert len(regex_waits) == 3 and all("|err|" in s.args[0] or "(err|" in s.args[0] for s in regex_waits)
    for test in suite.tests:
        names = [step.name for step in test.body if hasattr(step, "name")]
        assert names.index("Start Emulation") < names.index("Wait For Hello") < names.index("Wait For Results And Done")


def _walk(node):
    yield node
    for child in getattr(node, "body", []) or []:
        yield from _walk(child)


# --- Executing the suite against transcripts -------------------------------------------------

NANO_HELLO = {"board": "nano33ble", "port": "nrf52840", "clock_hz": 64000000}


def _as_nrf52840(transcript: bytes, tick_unit: str, tick_hz: int) -> str:
    """A real session with its hello re-encoded as the nRF52840 port sends it."""
    out = []
    decoder = Decoder()
    for record in decoder.feed(transcript):
        fields = dict(record.fields)
        if record.type == "hello":
            fields.update(NANO_HELLO, tick_unit=tick_unit, tick_hz=tick_hz)
        out.append(encode_record(record.type, fields).decode())
    return "boot noise from the bootloader\n" + "".join(out)


@pytest.fixture(scope="module")
def qemu_session(tmp_path_factory) -> bytes:
    """Real benchmark-core output: the built-in workload on QEMU."""
    from helpers import require_tool

    require_tool("qemu-system-arm")
    require_tool("arm-none-eabi-gcc")
    from mcubench.commands.emulate import build_for_emulator
    from mcubench.core.types import RunOptions
    from mcubench.targets.emulator import EmulatorTarget
    from mcubench.targets.emulators import get_emulator

    qemu = get_emulator("qemu")
    out = tmp_path_factory.mktemp("qemu-session")
    built = build_for_emulator(qemu, load_board("mps2-an386"), "dot_int8", {}, 1, 3, out)
    log = EmulatorTarget(qemu).run(built.image, RunOptions(timeout=60))
    assert log.first("done").get("status") == "ok"
    return log.transcript


def _run_suite(machine, tmp_path, dwt_text: str, timer_text: str, timeout: float = 60):
    robot_path = _robot_file(machine, tmp_path, timeout=timeout)
    (tmp_path / "nano33ble-nrf52840.elf").write_bytes(b"\x7fELF stand-in: the stand-in only checks it exists")
    (tmp_path / "dwt.log").write_text(dwt_text)
    (tmp_path / "timer.log").write_text(timer_text)
    suite = RobotSuiteBuilder().build(str(robot_path))
    # renode-test adds its keyword library the same way (robot_tests_provider.py).
    suite.resource.imports.library(str(HERE / "renode_standin.py"), args=(str(tmp_path / "dwt.log"), str(tmp_path / "timer.log")))
    suite.setup.config(name="Reset Emulation")
    for test in suite.tests:
        test.setup.config(name="Reset Emulation")
    result = suite.run(output=None, log=None, report=None, stdout=open(tmp_path / "robot.txt", "w"), pythonpath=[str(HERE)])
    return {t.name: (t.status, t.message) for t in result.suite.all_tests}


@pytest.mark.slow
def test_suite_passes_on_a_good_session(machine, tmp_path, qemu_session):
    dwt = _as_nrf52840(qemu_session, "cycles", 64000000)
    timer = _as_nrf52840(qemu_session, "timer", 16000000)
    outcome = _run_suite(machine, tmp_path, dwt, timer)
    assert all(status == "PASS" for status, _ in outcome.values()), outcome


@pytest.mark.slow
def test_suite_fails_on_an_error_record(machine, tmp_path, qemu_session):
    good = _as_nrf52840(qemu_session, "cycles", 64000000)
    lines = good.splitlines(keepends=True)
    first_run = next(i for i, l in enumerate(lines) if " run " in l)
    broken = "".join(lines[:first_run]) + encode_record("err", {"code": "run", "msg": "workload run failed"}).decode() \
        + encode_record("done", {"status": "error"}).decode()
    outcome = _run_suite(machine, tmp_path, broken, _as_nrf52840(qemu_session, "timer", 16000000))
    status, message = outcome["Benchmark Reports Cycles From The DWT"]
    assert status == "FAIL" and "the image reported an error" in message and "workload%20run%20failed" in message and "matches" not in message
    assert outcome["Benchmark Falls Back To TIMER1 Without A DWT"][0] == "PASS"


@pytest.mark.slow
def test_suite_fails_when_done_never_comes(machine, tmp_path, qemu_session):
    good = _as_nrf52840(qemu_session, "cycles", 64000000)
    truncated = "".join(l for l in good.splitlines(keepends=True) if " done " not in l and " ready " not in l)
    outcome = _run_suite(machine, tmp_path, truncated, truncated)
    assert all(status == "FAIL" for status, _ in outcome.values())
    assert "Timeout" in outcome["Benchmark Reports Cycles From The DWT"][1]
    # The TIMER1 test already fails at its hello: the transcript says cycles.
    assert "tick_unit=timer" in outcome["Benchmark Falls Back To TIMER1 Without A DWT"][1]


def test_write_scripts_puts_everything_next_to_the_elf(machine, tmp_path):
    elf = tmp_path / "nano33ble-nrf52840.elf"
    elf.write_bytes(b"\x7fELF")
    scripts = write_scripts(machine, elf, tmp_path, robot=True, workload="dot_int8")
    assert scripts.resc == tmp_path / "nano33ble.resc" and scripts.robot == tmp_path / "nano33ble.robot"
    assert check_resc(scripts.resc.read_text()) == []
    assert re.search(r"\$\{ELF\}\s+\$\{CURDIR\}/nano33ble-nrf52840\.elf", scripts.robot.read_text())
    with pytest.raises(UserError, match="next to the scripts"):
        write_scripts(machine, elf, tmp_path / "elsewhere")
