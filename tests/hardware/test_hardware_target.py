"""The hardware path without hardware: recorded port listings, a scripted upload and a
recorded serial session replayed through the real HardwareTarget, SerialLink and collect."""

from __future__ import annotations

from pathlib import Path

import pytest
from hw_replay import FIXTURES, FakeClock, FakePopen, ReplayPorts, load_snapshots, replay_link

from mcubench.bench.collect import collect
from mcubench.core.boards import load_board
from mcubench.core.errors import UserError
from mcubench.core.types import Image, RunOptions
from mcubench.link.transport import LinkClosed
from mcubench.targets import get_target
from mcubench.targets.hardware import HardwareTarget, PortInfo, touch_1200bps

SESSION = (FIXTURES / "nano33ble_boot_session.log").read_bytes()
UPLOAD_LOG = (FIXTURES / "upload_ok.txt").read_text()


@pytest.fixture
def board():
    return load_board("nano33ble")


def image_for(board, tmp_path: Path) -> Image:
    return Image(elf=tmp_path / "firmware.elf", board=board, build_id="3f9c2a7d51e04b88", project_dir=tmp_path, env="nano33ble")


class Touches:
    def __init__(self):
        self.opened = []

    def __call__(self, device, baudrate):
        test = self

        class Port:
            dtr = True

            def close(self):
                test.opened.append((device, baudrate, self.dtr))

        return Port()


def make_target(snapshots, popen, links, clock, touches=None):
    opened = []

    def open_link(url, baud):
        opened.append((url, baud))
        item = links.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    target = HardwareTarget(
        list_ports=ReplayPorts(snapshots), popen=popen, open_link=open_link, serial_factory=touches or Touches(),
        clock=clock, sleep=clock.sleep, pio="pio",
    )
    return target, opened


def test_registry_gives_the_hardware_target():
    assert isinstance(get_target("hardware"), HardwareTarget)


def test_flash_follows_the_board_through_reenumeration(board, tmp_path):
    clock = FakeClock()
    touches = Touches()
    popen = FakePopen(UPLOAD_LOG)
    # The sketch port needs a moment after it is listed: the first open fails.
    links = [LinkClosed("cannot open /dev/ttyACM1: [Errno 13] Permission denied", None), replay_link(SESSION)]
    target, opened = make_target(load_snapshots("ports_upload.json"), popen, links, clock, touches)

    log = target.run(image_for(board, tmp_path), RunOptions(timeout=10))

    # 1200-bps touch on the sketch port, DTR dropped
    assert touches.opened == [("/dev/ttyACM0", 1200, False)]
    # upload to the bootloader's port, exactly this command
    assert popen.commands == [[
        "pio", "run", "--project-dir", str(tmp_path), "--environment", "nano33ble",
        "--target", "upload", "--upload-port", "/dev/ttyACM0",
    ]]
    assert (tmp_path / "upload.log").read_text().endswith(UPLOAD_LOG)
    # the sketch came back as ttyACM1 and was opened (second try) at the board's baud rate
    assert opened == [("/dev/ttyACM1", 115200), ("/dev/ttyACM1", 115200)]
    assert log.port == "/dev/ttyACM1"
    assert (log.latency_unit, log.latency_source, log.units_per_tick) == ("cycles", "dwt", 1.0)
    m = collect(log)
    assert m.latency.ticks == [412873, 412651, 412702, 412690, 412688]
    assert m.latency.median == 412690
    assert [op["name"] for op in m.ops] == ["CONV_2D", "MAX_POOL_2D", "RESHAPE", "FULLY_CONNECTED", "SOFTMAX"]
    assert m.memory["arena_used"] == 5824 and m.memory["stack_used"] == 2312
    assert m.output == bytes([0x80, 0x80, 0x81, 0x80, 0x80, 0x7F, 0x80, 0x80, 0x80, 0x80])
    assert log.stats.noise_lines >= 2  # the printf and the cut line were kept as noise
    assert clock.slept < 5  # every wait was a poll, not a fixed sleep


def test_board_already_in_bootloader_is_not_touched(board, tmp_path):
    snaps = load_snapshots("ports_upload.json")
    clock = FakeClock()
    touches = Touches()
    popen = FakePopen(UPLOAD_LOG)
    target, _ = make_target(snaps[2:], popen, [replay_link(SESSION)], clock, touches)
    target.run(image_for(board, tmp_path), RunOptions(timeout=10))
    assert touches.opened == []
    assert popen.commands[0][-1] == "/dev/ttyACM0"


def test_no_board_is_one_line_listing_the_ports_seen(board, tmp_path):
    target, _ = make_target(load_snapshots("ports_no_board.json"), FakePopen(UPLOAD_LOG), [], FakeClock())
    with pytest.raises(UserError) as err:
        target.run(image_for(board, tmp_path), RunOptions())
    message = err.value.message
    assert "\n" not in message
    assert "2341:805a" in message and "2341:005a" in message
    assert "/dev/ttyS0" in message and "/dev/ttyUSB0 (0403:6001, FT232R USB UART)" in message


def test_bootloader_that_never_comes_is_a_timed_error(board, tmp_path):
    snaps = load_snapshots("ports_upload.json")
    clock = FakeClock()
    # after the touch, the board never re-enumerates
    target, _ = make_target([snaps[0], snaps[1]], FakePopen(UPLOAD_LOG), [], clock)
    with pytest.raises(UserError) as err:
        target.run(image_for(board, tmp_path), RunOptions())
    assert "bootloader" in err.value.message and "within 10 s" in err.value.message
    assert "/dev/ttyUSB0" in err.value.message
    assert 10 <= clock.now < 11


def test_sketch_that_never_returns_after_upload(board, tmp_path):
    snaps = load_snapshots("ports_upload.json")
    clock = FakeClock()
    target, _ = make_target(snaps[:4], FakePopen(UPLOAD_LOG), [], clock)
    with pytest.raises(UserError) as err:
        target.run(image_for(board, tmp_path), RunOptions())
    assert "after the upload did not appear within 20 s" in err.value.message
    assert "805a" in err.value.message


def test_failed_upload_names_the_exit_and_the_log(board, tmp_path):
    output = "Looking for upload port...\nNo device found on /dev/ttyACM0\n*** [upload] Error 1\n"
    target, _ = make_target(load_snapshots("ports_upload.json"), FakePopen(output, returncode=1), [], FakeClock())
    with pytest.raises(UserError) as err:
        target.run(image_for(board, tmp_path), RunOptions())
    assert "exit 1" in err.value.message and "No device found" in err.value.message
    assert "upload.log" in err.value.hint


def test_board_unplugged_mid_session(board, tmp_path):
    cut = SESSION[: SESSION.index(b"@MCB1 run i=3")]
    target, _ = make_target(load_snapshots("ports_upload.json"), FakePopen(UPLOAD_LOG), [replay_link(cut, vanish_at_end=True)], FakeClock())
    with pytest.raises(LinkClosed) as err:
        target.run(image_for(board, tmp_path), RunOptions(timeout=5))
    assert "/dev/ttyACM1 disappeared" in err.value.message
    assert "run i=2" in err.value.message  # the last record seen


def test_explicit_port_skips_detection(board, tmp_path):
    snaps = load_snapshots("ports_upload.json")
    target, opened = make_target(snaps, FakePopen(UPLOAD_LOG), [replay_link(SESSION)], FakeClock())
    target.run(image_for(board, tmp_path), RunOptions(port="/dev/ttyACM0", timeout=10))
    assert opened == [("/dev/ttyACM1", 115200)]


def test_url_port_is_collected_without_upload(board, tmp_path):
    popen = FakePopen(UPLOAD_LOG)
    target, opened = make_target([[]], popen, [replay_link(SESSION, name="rfc2217://lab:4000")], FakeClock())
    log = target.run(image_for(board, tmp_path), RunOptions(port="rfc2217://lab:4000", timeout=10))
    assert popen.commands == [] and opened == [("rfc2217://lab:4000", 115200)]
    assert log.port == "rfc2217://lab:4000"


def test_two_boards_need_a_port(board):
    two = [[PortInfo("/dev/ttyACM0", 0x2341, 0x805A), PortInfo("/dev/ttyACM1", 0x2341, 0x805A)]]
    target = HardwareTarget(list_ports=ReplayPorts(two))
    with pytest.raises(UserError) as err:
        target.find_port(board)
    assert "2 boards" in err.value.message and "--port" in err.value.hint


def test_touch_opens_at_1200_and_drops_dtr():
    touches = Touches()
    touch_1200bps("/dev/ttyACM0", touches)
    assert touches.opened == [("/dev/ttyACM0", 1200, False)]


def test_emulated_board_is_refused(tmp_path):
    target = HardwareTarget(list_ports=ReplayPorts([[]]))
    mps2 = load_board("mps2-an386")
    with pytest.raises(UserError) as err:
        target.run(image_for(mps2, tmp_path), RunOptions())
    assert "cannot run on target `hardware`" in err.value.message
