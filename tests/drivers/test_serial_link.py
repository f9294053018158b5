"""SerialLink (the connect / drop / retry / health loop every serial driver shares) over a real pty.

The device here is a minimal line protocol (``PING`` → ``PONG``) on the emulators' PtyDevice,
so the tests are about the link, not any one device: bounded attempts, reconnection with
backoff when the port vanishes and comes back, health degraded then down after repeated
failures, failures that blame the far end only (benign) not counted.
"""

from __future__ import annotations

import os
import termios
import time

import pytest
import serial

from edge_agent.drivers.base import CLOSED, HealthTracker
from edge_agent.drivers.emulators import PtyDevice
from edge_agent.drivers.serial_link import (
    DOWN_AFTER_FAILURES,
    LinkClosed,
    LinkError,
    LinkFailed,
    PortError,
    SerialLink,
)
from tests.drivers.helpers import wait


class PingDevice(PtyDevice):
    def __init__(self, link):
        self.silent = False
        self.answer = b"PONG\n"
        self.received: list[bytes] = []
        super().__init__(link)

    def on_frame(self, data: bytes, t: float) -> None:
        self.received.append(data)
        if not self.silent:
            self.write(self.answer if data == b"PING\n" else b"?\n")


class CardSideError(Exception):
    """The device answered properly; the failure is on the far side (a card, a badge)."""


class PingDriver:
    """A driver in the shape of the real ones: hooks + one SerialLink."""

    def __init__(self, port: str, *, retries=2, interval=0.2, on_connect=None):
        self.port = port
        self.ser: serial.Serial | None = None
        self.opens = 0
        self.tracker = HealthTracker("P1", "down", "not connected yet", what="ping device")
        self.link = SerialLink(port, self.tracker, retries=retries, reconnect_interval_s=interval,
                               open_port=self.open_port, close_port=self.close_port, on_connect=on_connect)

    def open_port(self):
        if not os.path.exists(self.port):
            raise PortError(f"{self.port} does not exist")
        try:
            self.ser = serial.Serial(self.port, 9600, timeout=0.1, exclusive=True)
        except (serial.SerialException, OSError) as exc:
            raise PortError(str(exc)) from None
        self.opens += 1

    def close_port(self):
        ser, self.ser = self.ser, None
        if ser is not None:
            ser.close()

    def check(self):
        if not os.path.exists(self.port):
            raise PortError(f"{self.port} disappeared")

    def ping_once(self) -> bytes:
        if self.ser is None:
            raise PortError("port closed")
        try:
            self.ser.reset_input_buffer()
            self.ser.write(b"PING\n")
            reply = self.ser.readline()
        except (serial.SerialException, OSError, termios.error) as exc:
            raise PortError(str(exc)) from None
        if reply == b"CARD?\n":
            raise CardSideError("no card")
        if reply != b"PONG\n":
            raise LinkError(f"bad or no reply {reply!r}")
        return reply

    def ping(self, **kw):
        result = self.link.run(self.ping_once, "ping", **kw)
        self.tracker.set("ok", "fine")
        return result


@pytest.fixture
def dev(tmp_path):
    with PingDevice(tmp_path / "ttyPING") as d:
        yield d


@pytest.fixture
def drv(dev):
    made = []

    def make(**kw):
        d = PingDriver(dev.port, **kw)
        made.append(d)
        return d
    yield make
    for d in made:
        d.link.close()


def test_run_returns_the_answer_and_keeps_failures_at_zero(dev, drv):
    d = drv()
    d.link.connect()
    assert d.ping() == b"PONG\n"
    assert d.link.failures == 0 and d.tracker.get().state == "ok"


def test_attempts_are_bounded_then_degraded_then_down(dev, drv):
    d = drv(retries=2)
    d.link.connect()
    dev.silent = True
    for n in range(1, DOWN_AFTER_FAILURES + 1):
        before = len(dev.received)
        with pytest.raises(LinkFailed, match="bad or no reply") as exc:
            d.ping()
        assert isinstance(exc.value.last, LinkError)
        assert wait(lambda: len(dev.received) - before == 3)   # 1 + retries
        time.sleep(0.05)
        assert len(dev.received) - before == 3                 # and no more
        h = d.tracker.get()
        assert d.link.failures == n
        assert h.state == ("down" if n >= DOWN_AFTER_FAILURES else "degraded")
        assert h.detail.startswith("ping: bad or no reply")
    dev.silent = False
    assert d.ping() == b"PONG\n" and d.link.failures == 0


def test_garbage_answer_is_a_link_error_not_a_port_error(dev, drv):
    d = drv(retries=0)
    d.link.connect()
    dev.answer = b"\x00\xff garbage\n"
    with pytest.raises(LinkFailed, match="bad or no reply"):
        d.ping()
    assert d.link.connected and d.tracker.get().state == "degraded"


def test_benign_failure_is_not_counted(dev, drv):
    d = drv(retries=1)
    d.link.connect()
    d.tracker.set("ok", "fine")
    dev.answer = b"CARD?\n"

    def ping_card_side():
        try:
            return d.ping_once()
        except CardSideError as exc:          # the driver maps the far-end verdict to a LinkError
            raise LinkError("card side") from exc

    with pytest.raises(LinkFailed):
        d.link.run(ping_card_side, "ping", benign=lambda e: str(e) == "card side")
    assert d.link.failures == 0 and d.tracker.get().state == "ok"
    with pytest.raises(LinkFailed):
        d.link.run(ping_card_side, "ping")
    assert d.link.failures == 1 and d.tracker.get().state == "degraded"


def test_other_exceptions_propagate_untouched(dev, drv):
    d = drv()
    d.link.connect()
    dev.answer = b"CARD?\n"
    with pytest.raises(CardSideError):
        d.ping()
    assert d.link.failures == 0 and d.link.connected


def test_port_vanishes_down_backoff_then_reconnects_by_tick(dev, drv):
    connects = []
    d = drv(interval=0.3, on_connect=lambda: connects.append(time.monotonic()))
    d.link.connect()
    assert len(connects) == 1
    dev.vanish()
    with pytest.raises(LinkFailed) as exc:
        d.ping()
    assert isinstance(exc.value.last, PortError)
    assert not d.link.connected
    h = d.tracker.get()
    assert h.state == "down" and "ttyPING" in h.detail
    # while the backoff runs, a call fails at once without touching the port
    started = time.monotonic()
    with pytest.raises(LinkFailed, match="next reconnect attempt pending"):
        d.ping()
    assert time.monotonic() - started < 0.1
    dev.reappear()
    assert wait(lambda: (d.link.tick(d.check), d.link.connected)[1], timeout=3)
    assert len(connects) == 2 and connects[1] - connects[0] >= 0.3
    assert d.ping() == b"PONG\n"


def test_tick_notices_a_vanished_port(dev, drv):
    d = drv(interval=0.05)
    d.link.connect()
    dev.vanish()
    d.link.tick(d.check)
    assert not d.link.connected and d.tracker.get().state == "down"
    assert "disappeared" in d.tracker.get().detail or "does not exist" in d.tracker.get().detail
    time.sleep(0.06)
    d.link.tick(d.check)                 # still gone: stays down, no exception
    assert not d.link.connected
    dev.reappear()
    assert wait(lambda: (d.link.tick(d.check), d.link.connected)[1], timeout=3)


def test_port_lost_mid_call_is_reopened_within_the_same_call(dev, drv):
    """A transient port error (EIO on one read) does not fail the call when the port is still there."""
    d = drv(retries=2, interval=5.0)
    d.link.connect()
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) == 1:
            raise PortError("EIO")
        return d.ping_once()
    assert d.link.run(flaky, "ping") == b"PONG\n"
    assert d.opens == 2 and d.link.connected


def test_on_connect_port_error_leaves_the_link_down(dev, drv):
    def fail():
        raise PortError("self-check: port failed")
    d = drv(on_connect=fail)
    with pytest.raises(PortError):
        d.link.connect()
    d.link.drop(PortError("self-check: port failed"))
    assert not d.link.connected and d.ser is None
    assert d.tracker.get().state == "down"


def test_closed_link_refuses_and_tick_does_not_reopen(dev, drv):
    d = drv(interval=0.05)
    d.link.connect()
    d.link.close()
    d.tracker.set("down", CLOSED)
    assert d.ser is None
    with pytest.raises(LinkClosed, match="ping device P1 is closed"):
        d.ping()
    time.sleep(0.06)
    d.link.tick(d.check)
    assert not d.link.connected and d.ser is None and d.opens == 1


def test_absent_port_at_start(tmp_path):
    d = PingDriver(str(tmp_path / "nothing"), interval=0.05)
    with pytest.raises(PortError, match="does not exist"):
        d.link.connect()
    with pytest.raises(LinkFailed, match="pending"):
        d.ping()
    time.sleep(0.06)
    with pytest.raises(LinkFailed, match="does not exist"):
        d.ping()
    assert d.link.failures == 2 and d.tracker.get().state == "down"
