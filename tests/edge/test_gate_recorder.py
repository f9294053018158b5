"""Gate events on the gateway (issue 4): ledger round trip, mixed chains, GateRecorder.record_event
(never opens) and GateRecorder.manual_release (commit first, then open; fail-safe)."""

from __future__ import annotations

import sqlite3

import pytest

from edge_agent.gate import GateDecision, GateRecorder
from edge_agent.ledger import PunchLedger
from shared_schema.chain import GENESIS_HASH, entry_hash, verify_run


def _committed_json(path, seq):
    """What an independent connection sees: only committed rows."""
    conn = sqlite3.connect(path)
    try:
        row = conn.execute("SELECT entry_json FROM entries WHERE seq = ?", (seq,)).fetchone()
        return row[0] if row else None
    finally:
        conn.close()


class Recorder:
    def __init__(self, ledger: PunchLedger, opener=None):
        self.opened: list[tuple[str, str]] = []
        self.live: list[int] = []
        self.rec = GateRecorder(ledger, opener or (lambda g, d: self.opened.append((g, d))))
        self.rec.on_live(self.live.append)


def test_ledger_round_trip_of_gate_events(tmp_path):
    path = tmp_path / "l.db"
    led = PunchLedger(path, "GW-T1", "P-TEST")
    p = led.append(gate_id="G1", direction="in", worker_ref="W0001", kind="work", match_score=0.9)
    ev = led.append(gate_id="G1", direction=None, type="gate_event", event_kind="not_passed", ref_seq=p.seq)
    assert (ev.type, ev.event_kind, ev.ref_seq, ev.direction) == ("gate_event", "not_passed", 1, None)
    assert _committed_json(path, 2).encode() == ev.canonical_bytes()
    led.close()
    led = PunchLedger(path, "GW-T1", "P-TEST")
    assert led.ledger_ok and led.entries() == [p, ev]
    led.close()


def test_chain_verifies_over_mixed_entries(tmp_path):
    path = tmp_path / "l.db"
    led = PunchLedger(path, "GW-T1", "P-TEST")
    r = Recorder(led)
    r.rec.record(GateDecision(gate_id="G1", direction="in", worker_ref="W1", kind="work"))
    r.rec.record(GateDecision(gate_id="G1", direction="in", type="rejected", reject_reason="no_match"))
    r.rec.record_event("G1", "not_passed", ref_seq=1)
    r.rec.record_event("G1", "tailgating", direction="in")
    r.rec.record_event("G1", "door_held")
    r.rec.manual_release("G1", "out", "值班员", "supervisor override")
    r.rec.record_event("G1", "fault", reason=None)
    r.rec.record_event("G1", "fault_cleared")
    r.rec.record(GateDecision(gate_id="G1", direction="out", worker_ref="W1", kind="work"))
    entries = led.entries()
    assert [e.type for e in entries].count("gate_event") == 6
    assert verify_run(entries, 0, GENESIS_HASH) == entry_hash(entries[-1])
    led.close()
    led = PunchLedger(path, "GW-T1", "P-TEST")
    assert led.ledger_ok and led.verify_result.checked == 9
    led.close()


def test_record_event_commits_notifies_live_and_never_opens(ledger):
    r = Recorder(ledger)
    committed = []
    r.rec.on_committed(committed.append)
    p = r.rec.record(GateDecision(gate_id="G1", direction="in", worker_ref="W1", kind="work"))
    assert r.opened == [("G1", "in")]
    ev = r.rec.record_event("G1", "not_passed", direction="in", ref_seq=p.seq)
    assert r.opened == [("G1", "in")]  # the event did not open anything
    assert r.live == [1, 2] and committed == [p, ev]
    assert ev.event_kind == "not_passed" and ev.ref_seq == 1 and ledger.states()[2] == "pending"


@pytest.mark.parametrize("kind, kw", [
    ("not_passed", {}),                        # needs the punch it is about
    ("not_passed", {"ref_seq": 1}),            # ref_seq must be earlier than the event itself
    ("door_held", {"ref_seq": 1}),
    ("manual_release", {"operator": "o", "reason": "r"}),   # only via manual_release()
    ("opened", {}),
    ("fault", {"operator": "o"}),
])
def test_invalid_events_are_not_committed(ledger, kind, kw):
    r = Recorder(ledger)
    with pytest.raises(ValueError):
        r.rec.record_event("G1", kind, **kw)
    assert ledger.head_seq == 0 and r.live == [] and r.opened == []


def test_manual_release_commits_before_opening(tmp_path):
    """The release is in the ledger (committed, visible to another connection) before the gate moves."""
    path = tmp_path / "l.db"
    led = PunchLedger(path, "GW-T1", "P-TEST")
    seen = []

    def opener(gate_id, direction):
        text = _committed_json(path, 1)
        assert text is not None, "gate opened before the release was committed"
        assert '"event_kind":"manual_release"' in text and '"operator":"安全员"' in text
        seen.append((gate_id, direction))

    r = Recorder(led, opener)
    e = r.rec.manual_release("G1", "out", "安全员", "火警疏散")
    assert seen == [("G1", "out")] and r.live == [1]
    assert (e.type, e.event_kind, e.operator, e.manual_reason, e.direction) == (
        "gate_event", "manual_release", "安全员", "火警疏散", "out")
    led.close()


@pytest.mark.parametrize("operator, reason", [("", "fire"), ("op", ""), (None, "fire"), ("op", None)])
def test_manual_release_without_who_or_why_opens_nothing(ledger, operator, reason):
    r = Recorder(ledger)
    with pytest.raises(ValueError):
        r.rec.manual_release("G1", "in", operator, reason)
    assert r.opened == [] and ledger.head_seq == 0


def test_manual_release_opens_even_if_the_ledger_fails(ledger, monkeypatch):
    """Fail-safe: a broken disk must not keep people in; the failure is still raised."""
    r = Recorder(ledger)

    def broken(**kw):
        raise sqlite3.OperationalError("disk I/O error")
    monkeypatch.setattr(ledger, "append", broken)
    with pytest.raises(sqlite3.OperationalError):
        r.rec.manual_release("G1", "in", "op", "fire")
    assert r.opened == [("G1", "in")] and r.live == []


def test_manual_release_opener_failure_is_raised_but_logged_and_sent(ledger):
    r = Recorder(ledger)

    def jammed(gate_id, direction):
        raise OSError("relay does not answer")
    r.rec.opener = jammed
    with pytest.raises(OSError):
        r.rec.manual_release("G1", "in", "op", "fire")
    assert ledger.head_seq == 1 and r.live == [1]  # the release stands and goes out live
