"""Issue 14: adding a runtime or a target is one new module plus one registry line.

A tiny runtime and a tiny target are defined here (the "new module") and registered with one
line each; the CLI's choices and flags, the typed options, the result schema and a whole run
through the target (a recorded Nano 33 BLE session replayed) take them without any other edit.
"""

from __future__ import annotations

import argparse
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import pytest
from hardware.hw_replay import FIXTURES, replay_link  # tests/ is on the path (pyproject)
from results.results_records import make_record

from mcubench import cli
from mcubench.bench.collect import collect
from mcubench.commands.bench import request_from_args
from mcubench.core.boards import load_board
from mcubench.core.types import Image, RunOptions, RuntimeOptions, TargetOptions, options_as
from mcubench.results import schema
from mcubench.runtimes import RUNTIMES
from mcubench.runtimes.builtin import BuiltinRuntime
from mcubench.targets import TARGETS, get_target, target_names
from mcubench.targets.base import Capability, Session, Target, ToolStatus, board_latency, close_link

SESSION = (FIXTURES / "nano33ble_boot_session.log").read_bytes()


# ---- the "new modules" -------------------------------------------------------------------------


@dataclass(frozen=True)
class EchoOptions(RuntimeOptions):
    echo_level: int = field(default=1, metadata={"help": "how loud the echo is", "type": int})


class EchoRuntime(BuiltinRuntime):
    """Runs the built-in workloads, with an option of its own."""

    name = "echo"
    options_type = EchoOptions


@dataclass(frozen=True)
class ReplayOptions(TargetOptions):
    replay_speed: float = field(default=1.0, metadata={"help": "replay speed", "type": float, "metavar": "X"})


class ReplayTarget(Target):
    """Plays a recorded board session back: a target without hardware."""

    name = "replay"
    capabilities = frozenset({Capability.RESET})
    options_type = ReplayOptions

    def supports(self, board):
        return None

    @contextmanager
    def do_session(self, image: Image, options: RunOptions) -> Iterator[Session]:
        assert options_as(options.target, ReplayOptions).replay_speed > 0
        link = replay_link(SESSION)
        try:
            yield Session(link, "replay://nano33ble", facts={"speed": options_as(options.target, ReplayOptions).replay_speed})
        finally:
            close_link(link, options)

    def latency(self, session: Session, image: Image) -> tuple[str, str, float]:
        return board_latency(session.link.records, image, session.port)

    def status(self) -> list[ToolStatus]:
        return [ToolStatus("recorded session", True, str(FIXTURES))]


@pytest.fixture
def registered(monkeypatch):
    monkeypatch.setitem(RUNTIMES, "echo", EchoRuntime)  # the one registry line of the runtime
    monkeypatch.setitem(TARGETS, "replay", ReplayTarget)  # the one registry line of the target
    _forget_schema()
    yield
    _forget_schema()


def _forget_schema() -> None:
    """The schema is built from the registries once per process; rebuild it around the test."""
    schema.load_schema.cache_clear()
    schema._validator.cache_clear()


def _bench_args(*argv: str) -> argparse.Namespace:
    return cli.build_parser().parse_args(["bench", *argv])


def test_cli_offers_the_new_runtime_and_target_with_their_flags(registered):
    args = _bench_args("--runtime", "echo", "--echo-level", "3", "--target", "replay", "--replay-speed", "2.5")
    request = request_from_args(args)
    assert request.runtime == "echo" and request.target == "replay"
    assert request.workload.options == EchoOptions(echo_level=3)
    assert request.options.target == ReplayOptions(replay_speed=2.5)
    assert "replay" in target_names() and isinstance(get_target("replay"), ReplayTarget)


def test_capabilities_are_asked_not_names(registered):
    target = get_target("replay")
    with pytest.raises(Exception, match="cannot load an instrumentation plugin"):
        target.require(Capability.INSTRUCTION_PLUGIN, "load an instrumentation plugin (--estimate)")
    target.require(Capability.RESET, "reset the board")


def test_a_run_through_the_new_target_is_collected_and_its_record_validates(registered):
    board = load_board("nano33ble")
    image = Image(elf=Path("firmware.elf"), board=board, build_id="3f9c2a7d51e04b88", project_dir=Path("."), env="nano33ble")
    log = get_target("replay").run(image, RunOptions(timeout=10, target=ReplayOptions(replay_speed=1.0)))
    assert log.target == "replay" and log.extra == {"speed": 1.0} and log.latency_unit == "cycles"
    measurements = collect(log, image)
    assert len(measurements.latency.runs) >= 1
    record = make_record("hardware")
    record["identity"]["runtime"], record["identity"]["target"] = "echo", "replay"
    assert schema.validation_errors(record) == []


def test_schema_refuses_what_is_not_registered():
    record = make_record("hardware")
    record["identity"]["target"] = "replay"
    assert any("identity.target" in e for e in schema.validation_errors(record))
