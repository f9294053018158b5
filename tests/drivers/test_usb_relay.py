"""The LCUS USB relay driver against the board emulator over a real pty byte stream."""

from __future__ import annotations

import threading

import pytest
import serial

from edge_agent.drivers import TurnstileError, TurnstileInputs
from tests.drivers.helpers import poll_until_ok


def test_pulse_on_then_off(usb, usb_emu):
    t = usb(pulse_ms=300)
    t.open("in")
    assert usb_emu.wait_for(lambda: len(usb_emu.switches) >= 4)
    on, off = usb_emu.switches[2:4]
    assert (on.channel, on.on, off.channel, off.on) == (1, True, 1, False)
    assert 0.25 <= off.t - on.t <= 1.5
    assert usb_emu.states[1] is False


def test_no_inputs_is_said_honestly(usb, usb_emu):
    t = usb()
    assert (t.has_passage_sensors, t.has_fault_input) == (False, False)
    assert t.read_inputs() == TurnstileInputs(passage_in=None, passage_out=None, fault=None)
    assert t.health().state == "ok"


def test_board_checks_checksum_and_resynchronises(usb_emu):
    with serial.Serial(usb_emu.port, 9600) as s:
        s.write(bytes.fromhex("A0 01 01 A3  13 37  A0 01 01 A2"))
        s.flush()
    assert usb_emu.wait_for(lambda: usb_emu.states[1])
    assert usb_emu.valid_commands() == [bytes.fromhex("A0 01 01 A2")]
    assert bytes.fromhex("A0 01 01 A3") in [c.raw for c in usb_emu.commands if not c.valid]


def test_garbage_from_the_board_is_ignored(usb, usb_emu):
    t = usb()
    usb_emu.write(b"\x00\xffnoise\r\n")
    assert t.read_inputs().passage_in is None
    t.open("out")
    assert usb_emu.wait_for(lambda: len(usb_emu.switches) >= 4)
    assert t.health().state == "ok"


def test_port_vanishes_and_returns(usb, usb_emu):
    t = usb()
    usb_emu.vanish()
    with pytest.raises(TurnstileError, match="ttyLCUS"):
        t.read_inputs()
    assert t.health().state == "down"
    with pytest.raises(TurnstileError):
        t.open("in")
    n = len(usb_emu.switches)
    usb_emu.reappear()
    assert poll_until_ok(t)
    assert usb_emu.wait_for(lambda: [(s.channel, s.on) for s in usb_emu.switches[n:]] == [(1, False), (2, False)])
    t.open("in")
    assert usb_emu.wait_for(lambda: len(usb_emu.switches) == n + 4)


def test_vanish_mid_pulse_board_switched_off_on_return(usb, usb_emu):
    """Regression: unplugged while a channel is ON: open() fails loudly, health stays down,
    and the reconnect switches every channel OFF."""
    t = usb(pulse_ms=300)
    opener = threading.Thread(target=lambda: pytest.raises(TurnstileError, t.open, "in"))
    opener.start()
    assert usb_emu.wait_for(lambda: usb_emu.states[1])
    usb_emu.vanish()
    opener.join(5)
    assert usb_emu.states[1] is True and t.health().state == "down"
    usb_emu.reappear()
    assert poll_until_ok(t)
    assert usb_emu.wait_for(lambda: not usb_emu.states[1])


def test_absent_port_at_start(usb, usb_emu):
    usb_emu.vanish()
    t = usb()
    assert t.health().state == "down"
    usb_emu.reappear()
    assert poll_until_ok(t)
