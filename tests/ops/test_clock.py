"""The clock guard (edge_agent.clock): suspect wall-clock readings never become a punch's
device_time, the punch is still committed, ordering stays by seq; the city's time from signed acks
is the reference; heartbeat and doctor report it."""

from __future__ import annotations

import logging
import subprocess

from hypothesis import given, settings
from hypothesis import strategies as st

from edge_agent.clock import ClockConfig, ClockGuard, epoch_of, ntp_status, stamp_text
from edge_agent.doctor import check_ntp
from edge_agent.ledger import PunchLedger

NOW = 1_790_000_000.0          # 2026-09-21


class FakeTime:
    """The two clocks the guard reads, moved by the test."""

    def __init__(self, wall=NOW, mono=1000.0):
        self.wall, self.mono = wall, mono

    def tick(self, s):
        self.wall += s
        self.mono += s


def guard(t: FakeTime, **cfg) -> ClockGuard:
    return ClockGuard(ClockConfig(**cfg), wall=lambda: t.wall, mono=lambda: t.mono, ntp=lambda: "unknown")


def ledger_with(tmp_path, g: ClockGuard, name="l.db") -> PunchLedger:
    return PunchLedger(tmp_path / name, "GW-C1", "P-1", clock=g)


def punch(ledger, ref="W1"):
    return ledger.append(gate_id="G1", direction="in", worker_ref=ref, kind="work")


def test_believable_clock_is_stamped_as_is(tmp_path):
    t = FakeTime()
    led = ledger_with(tmp_path, guard(t))
    e = punch(led)
    assert epoch_of(e.device_time) == NOW and led.clock.corrected == 0
    assert led.clock.status().state == "unchecked"          # no receiver time yet


def test_clock_going_back_is_not_stamped_but_the_punch_is_committed(tmp_path, caplog):
    t = FakeTime()
    led = ledger_with(tmp_path, guard(t))
    first = punch(led)
    t.wall -= 3600                                          # RTC reset by an hour
    t.mono += 1
    with caplog.at_level(logging.WARNING, logger="edge_agent.clock"):
        second, third = punch(led, "W2"), punch(led, "W3")
    assert [e.seq for e in (first, second, third)] == [1, 2, 3]
    assert epoch_of(second.device_time) == epoch_of(first.device_time)     # the floor, not 1 h earlier
    assert led.clock.corrected == 2 and led.states() == {1: "pending", 2: "pending", 3: "pending"}
    alarms = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(alarms) == 1 and "CLOCK ALARM" in alarms[0].getMessage()    # once per episode
    assert led.clock.status().state == "suspect"
    assert led.verify().ok


def test_small_step_back_within_tolerance_is_truthful(tmp_path):
    t = FakeTime()
    led = ledger_with(tmp_path, guard(t, max_backward_s=5.0))
    punch(led)
    t.wall -= 2
    assert epoch_of(punch(led).device_time) == NOW - 2 and led.clock.corrected == 0


def test_receiver_time_from_acks_outranks_a_clock_far_in_the_future(tmp_path):
    t = FakeTime(wall=NOW + 7 * 86400)                      # a week ahead (hand-set, wrong)
    g = guard(t, max_skew_s=300.0)
    led = ledger_with(tmp_path, g)
    g.observe_reference(NOW)                                # a verified ack says: it is NOW
    t.tick(10)
    e = punch(led)
    assert abs(epoch_of(e.device_time) - (NOW + 10)) < 1e-3
    st_ = g.status()
    assert st_.state == "suspect" and round(st_.offset_s) == 7 * 86400 and "ahead of" in st_.detail


def test_a_floor_set_by_a_bad_clock_does_not_pin_later_stamps(tmp_path):
    """Regression: a box that stamped a future time offline must not stamp that time forever once
    the city's time says the clock is right again."""
    t = FakeTime(wall=NOW + 86400)
    g = guard(t)
    led = ledger_with(tmp_path, g)
    punch(led)                                              # offline, stamped a day ahead: no reference
    t.wall = NOW + 5                                        # NTP fixed the clock
    g.observe_reference(NOW + 5)
    e = punch(led)
    assert epoch_of(e.device_time) == NOW + 5 and g.status().state == "ok"


def test_implausible_year_without_any_reference_keeps_the_floor(tmp_path):
    t = FakeTime()
    led = ledger_with(tmp_path, guard(t))
    punch(led)
    t.wall = 946684800.0                                    # 2000-01-01: flat RTC battery
    e = punch(led)
    assert epoch_of(e.device_time) == NOW and led.clock.status().state == "suspect"


def test_floor_survives_a_restart(tmp_path):
    t = FakeTime()
    led = ledger_with(tmp_path, guard(t))
    punch(led)
    led.close()
    t.wall -= 86400
    led = ledger_with(tmp_path, guard(t))
    assert led.head_time == NOW
    assert epoch_of(punch(led).device_time) == NOW
    led.close()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(-1e6, 1e6), st.booleans()), min_size=1, max_size=25))
def test_every_stamp_is_plausible_and_seq_order_is_kept(tmp_path_factory, steps):
    """Whatever the wall clock does, entries commit in seq order with plausible, valid stamps, and
    never before the last entry while there is no receiver reference."""
    t = FakeTime()
    led = ledger_with(tmp_path_factory.mktemp("h"), guard(t))
    try:
        last = None
        for jump, with_ref in steps:
            t.wall += jump
            t.mono += 1
            if with_ref:
                led.clock.observe_reference(NOW + (t.mono - 1000.0))
            e = punch(led)
            assert e.seq == (last.seq + 1 if last else 1)
            assert 2024 <= int(e.device_time[:4]) <= 2099
            last = e
        assert led.verify().ok
    finally:
        led.close()


def test_ack_listener_reads_the_signed_acks_time_only_from_prompt_acks():
    t = FakeTime(wall=NOW + 3600)
    g = guard(t)

    class Ack:
        acked_at = stamp_text(NOW - 7200)
    g.observe_ack(Ack(), None)                  # a batch of an earlier connection: no reference
    g.observe_ack(Ack(), 600.0)                 # queued in the broker for 10 min: no reference
    assert g.estimate() is None
    Ack.acked_at = stamp_text(NOW)
    g.observe_ack(Ack(), 0.05)
    assert abs(g.estimate() - NOW) < 1e-6
    Ack.acked_at = "garbage"
    g.observe_ack(Ack(), 0.05)                  # ignored, keeps the last good reference
    assert abs(g.estimate() - NOW) < 1e-6


def test_heartbeat_device_reports_the_clock():
    t = FakeTime()
    g = guard(t)
    g.observe_reference(NOW + 1000)
    h = g.health()
    assert (h.id, h.kind, h.state) == ("_clock", "clock", "degraded") and "behind" in h.detail
    g.observe_reference(NOW)
    assert g.health().state == "ok" and "offset +0.0s" in g.health().detail


def test_ntp_status_reads_the_daemons(monkeypatch):
    import edge_agent.clock as clock
    monkeypatch.setattr(clock, "TIMESYNCD_FLAG", clock.Path("/nonexistent/flag"))
    monkeypatch.setattr(clock.timesync.shutil, "which", lambda exe: f"/usr/bin/{exe}")

    def runner(answers):
        def run(cmd, **kw):
            out = answers.get(cmd[0])
            if out is None:
                raise FileNotFoundError(cmd[0])
            return subprocess.CompletedProcess(cmd, 0, out, "")
        return run
    assert ntp_status(runner({"timedatectl": "yes\n"})) == "synchronized"
    assert ntp_status(runner({"timedatectl": "no\n"})) == "not synchronized"
    assert ntp_status(runner({"chronyc": "Reference ID : 0\nLeap status     : Not synchronised\n"})) == \
        "not synchronized"
    assert ntp_status(runner({"chronyc": "Leap status     : Normal\n"})) == "synchronized"
    assert ntp_status(runner({})) == "unknown"


def test_doctor_ntp_row():
    assert check_ntp("synchronized")[0].status == "PASS"
    assert check_ntp("not synchronized")[0].status == "FAIL"
    assert check_ntp("unknown")[0].status == "SKIP"
