"""IdCardReader against the SAM emulator over a real pty byte stream: swipes, faults, reconnection."""

from __future__ import annotations

import logging
import time

import pytest

from edge_agent.drivers.idcard_protocol import CardRejected, IdCardReaderError
from edge_agent.drivers.idcard_reader import IdCardReader
from tests.drivers.helpers import wait
from tests.idcard.cards import ID_A, ID_B, card_a, card_b
from tests.idcard.test_frames import FIND, READ, SAM_ID, SAM_STATUS, SELECT


def test_no_card_returns_none_and_sends_only_find(reader, emu):
    r = reader()
    assert r.health().state == "ok"
    assert r.poll() is None
    assert emu.commands() == [SAM_STATUS, FIND]


def test_swipe_fills_a_record_with_golden_frames(reader, emu):
    r = reader()
    emu.insert(card_a())
    rec = r.poll()
    assert rec.id_number == ID_A and rec.name == "王小测" and rec.nation_label == "汉族"
    assert len(rec.photo_wlt) == 1024 and rec.photo_wlt == card_a().photo
    assert emu.commands() == [SAM_STATUS, FIND, SELECT, READ]
    emu.remove()
    assert r.poll() is None
    emu.insert(card_b())
    assert r.poll().id_number == ID_B


def test_sam_id(reader, emu):
    r = reader()
    assert len(r.sam_id()) == 16
    assert emu.commands()[-1] == SAM_ID


def test_invalid_id_number_rejected_and_not_logged(reader, emu, caplog):
    """Pins: a card whose number fails GB 11643 is refused with a reason, the reader stays ok,
    and neither the number nor the name reaches the log (PIPL)."""
    caplog.set_level(logging.DEBUG)
    r = reader()
    bad = ID_A[:17] + "8"
    emu.insert(card_a(id_number=bad))
    with pytest.raises(CardRejected, match="check character") as exc:
        r.poll()
    assert bad not in str(exc.value) and r.health().state == "ok"
    emu.insert(card_a())
    r.poll()
    assert "card rejected" in caplog.text and "card read" in caplog.text
    for secret in (bad, ID_A, bad[:14], "王小测", "样例路"):
        assert secret not in caplog.text


@pytest.mark.parametrize("fault", ["no_reply", "corrupt_checksum", "truncate", "oversize"])
def test_one_bad_reply_is_retried(reader, emu, fault):
    r = reader()
    emu.insert(card_a())
    setattr(emu, fault, 1)
    assert r.poll().id_number == ID_A
    assert r.health().state == "ok"


@pytest.mark.parametrize("fault, reason", [("no_reply", "no_reply"), ("corrupt_checksum", "checksum"),
                                           ("truncate", "truncated"), ("oversize", "oversize")])
def test_persistent_bad_replies_fail_bounded_and_degrade(reader, emu, fault, reason):
    r = reader(retries=1)
    emu.insert(card_a())
    setattr(emu, fault, 1000)
    t0 = time.monotonic()
    with pytest.raises(IdCardReaderError, match=reason):
        r.poll()
    assert time.monotonic() - t0 < 3.0
    assert r.health().state == "degraded"
    for _ in range(2):
        with pytest.raises(IdCardReaderError):
            r.poll()
    assert r.health().state == "down"
    setattr(emu, fault, 0)
    assert r.poll().id_number == ID_A and r.health().state == "ok"


def test_truncated_read_reply(reader, emu):
    r = reader(retries=0)
    emu.insert(card_a())
    emu.fault_commands = {(0x30, 0x01)}
    emu.truncate = 1
    with pytest.raises(IdCardReaderError, match="truncated"):
        r.poll()
    assert emu.commands()[-3:] == [FIND, SELECT, READ]
    assert r.poll().id_number == ID_A


def test_late_reply_does_not_answer_the_next_command(reader, emu):
    """Pins the stale-reply bug: after a timeout, the late reply to the previous command arrived
    while waiting for the next one and was taken as its answer (a find reply as the select reply),
    failing the swipe. The driver now flushes before sending and skips replies whose shape cannot
    answer the command it sent."""
    r = reader(retries=1, timeout_ms=100)
    emu.insert(card_a())
    emu.fault_commands = {(0x20, 0x02)}
    for _ in range(3):
        emu.delay_next, emu.reply_delay_s = 1, 0.15     # the select reply comes after the timeout ...
        assert r.poll().id_number == ID_A               # ... while the retry waits for its find reply


def test_garbage_before_replies_is_skipped(reader, emu):
    r = reader()
    emu.insert(card_a())
    emu.garbage_before = b"\x00\xff\xAA\xAA\x13noise"
    assert r.poll().id_number == ID_A


def test_garbage_only_is_reported_as_garbage(reader, emu):
    r = reader(retries=0)
    emu.babble = b"\x55" * 50
    with pytest.raises(IdCardReaderError, match="garbage: 50 bytes without a frame"):
        r.poll()


def test_endless_garbage_is_bounded(reader, emu):
    """Pins: a reader spewing bytes without a preamble cannot keep poll() reading forever."""
    r = reader(retries=0)
    emu.babble = b"\x00" * 5000
    t0 = time.monotonic()
    with pytest.raises(IdCardReaderError, match="garbage"):
        r.poll()
    assert time.monotonic() - t0 < 1.0


@pytest.mark.parametrize("cmd, sw3, expect", [
    ((0x20, 0x01), 0x80, None),               # no card
    ((0x20, 0x02), 0x81, None),               # lifted between find and select
])
def test_no_card_statuses(reader, emu, cmd, sw3, expect):
    r = reader()
    emu.insert(card_a())
    emu.status[cmd] = sw3
    assert r.poll() is expect and r.health().state == "ok"


def test_card_side_read_failure_keeps_reader_healthy(reader, emu):
    r = reader()
    emu.insert(card_a())
    emu.status[(0x30, 0x01)] = 0x41
    with pytest.raises(IdCardReaderError, match="SW3 41"):
        r.poll()
    assert r.health().state == "ok"
    del emu.status[(0x30, 0x01)]
    assert r.poll().id_number == ID_A


def test_reader_side_error_status_degrades(reader, emu):
    r = reader()
    emu.insert(card_a())
    emu.status[(0x20, 0x01)] = 0x60
    with pytest.raises(IdCardReaderError, match="SW3 60"):
        r.poll()
    assert r.health().state == "degraded"


def test_failing_sam_self_check_is_reported(reader, emu):
    emu.sam_sw3 = 0x66
    r = reader()
    assert r.health().state == "degraded" and "SW3 66" in r.health().detail


def test_port_vanishes_and_returns(reader, emu):
    r = reader()
    emu.insert(card_a())
    assert r.poll() is not None
    emu.vanish()
    with pytest.raises(IdCardReaderError, match="ttySAM"):
        r.poll()
    assert r.health().state == "down"
    with pytest.raises(IdCardReaderError):
        r.poll()
    emu.reappear()

    def back():
        try:
            return r.poll() is not None
        except IdCardReaderError:
            return False
    assert wait(back, 3.0)
    assert r.health().state == "ok"


def test_absent_port_at_start(reader, emu):
    emu.vanish()
    r = reader()
    assert r.health().state == "down"
    emu.reappear()
    emu.insert(card_a())
    assert wait(lambda: _quiet_poll(r) is not None, 3.0)


def test_closed_reader_refuses(reader, emu):
    r = reader()
    r.close()
    r.close()
    assert r.health().detail == "closed"
    with pytest.raises(IdCardReaderError, match="closed"):
        r.poll()


def test_config_is_strict():
    from shared_schema.wire import DecodeError
    with pytest.raises(DecodeError, match="edge.idcard_reader: unknown field 'baud'"):
        IdCardReader({"port": "/nonexistent", "baud": 9600})
    with pytest.raises(DecodeError, match="baudrate"):
        IdCardReader({"port": "/nonexistent", "baudrate": 4800})
    r = IdCardReader({"port": "/nonexistent/ttyX"})
    assert r.health().state == "down" and r.cfg.baudrate == 115200
    r.close()


def _quiet_poll(r):
    try:
        return r.poll()
    except IdCardReaderError:
        return None
