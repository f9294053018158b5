"""Gate events at the receiver (issue 4): stored in the ledger chain, counted, never listed as
punches; a ``not_passed`` event shows on its punch as ``passage``; ``/api/v1/gate-events`` (both dialects);
a fire hold's ``manual_release`` / ``release_ended`` pair from a real gateway ledger."""

from __future__ import annotations

import time

from devtools import wait_for
from edge_agent.config import GateConfig, GateTimingConfig
from edge_agent.drivers import open_turnstile
from edge_agent.drivers.emulators.modbus_relay import ModbusRelayEmulator
from edge_agent.gate import GateRecorder
from edge_agent.gate_controller import GateController, GateControllers
from edge_agent.gate_release import FIRE_OPERATOR
from edge_agent.ledger import PunchLedger

from .helpers import FakeGateway, topic
from .test_api import AUTH, run_api

DATE = "2026-03-02"


def _traffic(gw: FakeGateway) -> None:
    """seq 1-4 punches, 5 not_passed about 2, 6 tailgating about 3, 7 door_held, 8 manual release,
    9 punch, 10 rejected (every 10th), 11 fault."""
    gw.add(4)
    gw.add_event("not_passed", ref_seq=2, direction="out")
    gw.add_event("tailgating", ref_seq=3)
    gw.add_event("door_held")
    gw.add_event("manual_release", direction="in", operator="安全员", reason="消防疏散演练")
    gw.add(2, rejected_every=10)
    gw.add_event("fault")


def test_gate_events_stored_counted_and_not_punches(store, gw, ingestor):
    _traffic(gw)
    out = ingestor.handle(topic(gw), gw.sealed_batch(gw.entries))
    assert out.verdict.ok and out.result.new == list(range(1, 12)) and out.ack.acked_through_seq == 11
    rows = store.ledger(gw.gateway_id)
    assert all(r["chain_status"] == "verified" for r in rows)
    assert [r["type"] for r in rows].count("gate_event") == 5
    st = store.stats()
    assert (st["punches"], st["rejected_attempts"], st["gate_events"]) == (5, 1, 5)
    punches = store.punches(gw.project_code, DATE, 100, 0)
    assert [p["seq"] for p in punches] == [1, 2, 3, 4, 9]
    assert {p["seq"]: p["passage"] for p in punches} == {1: None, 2: "not_passed", 3: None, 4: None, 9: None}
    events = store.gate_events(gw.gateway_id, DATE, None, 100, 0)
    assert [(e["seq"], e["event_kind"], e["ref_seq"]) for e in events] == [
        (5, "not_passed", 2), (6, "tailgating", 3), (7, "door_held", None), (8, "manual_release", None),
        (11, "fault", None)]
    release = events[3]
    assert (release["operator"], release["manual_reason"], release["direction"]) == ("安全员", "消防疏散演练", "in")
    assert events[2]["direction"] is None  # door_held without a direction: nullable column
    assert store.gate_events(None, None, "tailgating", 100, 0)[0]["seq"] == 6
    assert store.gate_events(None, "2026-03-03", None, 100, 0) == []
    assert store.gate_events("GW-OTHER", None, None, 100, 0) == []


def test_gate_event_with_null_direction_is_stored(store, gw, ingestor):
    """Regression: ``ledger.direction`` was NOT NULL, a gate event without one must still store."""
    gw.add(1)
    gw.add_event("door_held", direction=None)
    assert gw.entries[-1].direction is None
    out = ingestor.handle(topic(gw), gw.sealed_batch(gw.entries))
    assert out.result.new == [1, 2]
    assert store.gate_events(gw.gateway_id, None, None, 10, 0)[0]["direction"] is None


def test_passage_only_from_a_not_passed_event_of_the_same_gateway(store, gw, ingestor):
    """Another gateway's not_passed about *its* seq 1 must not mark this gateway's seq 1."""
    other = FakeGateway("GW-2", gw.project_code)
    other.register(store)
    gw.add(2)
    other.add(1)
    other.add_event("not_passed", ref_seq=1)
    other.add_event("tailgating", ref_seq=1)   # not a not_passed: no passage mark
    ingestor.handle(topic(gw), gw.sealed_batch(gw.entries))
    ingestor.handle(topic(other), other.sealed_batch(other.entries))
    marks = {(p["gateway_id"], p["seq"]): p["passage"] for p in store.punches(gw.project_code, DATE, 100, 0)}
    assert marks == {("GW-1", 1): None, ("GW-1", 2): None, ("GW-2", 1): "not_passed"}


def test_not_passed_arriving_later_marks_the_stored_punch(store, gw, ingestor):
    gw.add(3)
    ingestor.handle(topic(gw), gw.sealed_batch(gw.entries))
    assert all(p["passage"] is None for p in store.punches(gw.project_code, DATE, 100, 0))
    ev = gw.add_event("not_passed", ref_seq=3)
    ingestor.handle(topic(gw), gw.sealed_batch([ev]))
    assert {p["seq"]: p["passage"] for p in store.punches(gw.project_code, DATE, 100, 0)}[3] == "not_passed"


def test_gate_event_resend_is_a_duplicate_and_changes_nothing(store, gw, ingestor):
    _traffic(gw)
    payload = gw.sealed_batch(gw.entries)
    ingestor.handle(topic(gw), payload)
    before = store.ledger(gw.gateway_id)
    again = ingestor.handle(topic(gw), payload)
    assert again.result.new == [] and again.result.duplicates == list(range(1, 12))
    assert again.ack.stored_ranges == [[1, 11]]
    assert store.ledger(gw.gateway_id) == before
    st = store.stats()
    assert st["gate_events"] == 5 and st["duplicates_dropped"] == 11 and st["seq_conflicts"] == 0


def test_schema_has_gate_events_view_and_ref_index(store):
    if store.dialect == "sqlite":
        rows = store._read("SELECT name FROM sqlite_master WHERE type IN ('view', 'index')")
        plan = store._read("EXPLAIN QUERY PLAN SELECT 1 FROM ledger g WHERE g.type = 'gate_event' "
                           "AND g.gateway_id = 'GW-1' AND g.ref_seq = 5 AND g.event_kind = 'not_passed'")
        assert any("ledger_gate_event_ref" in r["detail"] for r in plan)
    else:
        rows = store._read("SELECT viewname AS name FROM pg_views WHERE schemaname = 'public' "
                           "UNION SELECT indexname FROM pg_indexes WHERE schemaname = 'public'")
    names = {r["name"] for r in rows}
    assert {"punches", "rejected_attempts", "gate_events", "ledger_gate_event_ref"} <= names


def test_api_gate_events_and_punch_passage(store, gw, ingestor):
    _traffic(gw)
    ingestor.handle(topic(gw), gw.sealed_batch(gw.entries))

    async def scenario(c):
        assert (await c.get("/api/v1/gate-events")).status == 401
        r = await c.get(f"/api/v1/gate-events?gateway_id={gw.gateway_id}&date={DATE}", headers=AUTH)
        body = await r.json()
        assert r.status == 200 and [e["seq"] for e in body["gate_events"]] == [5, 6, 7, 8, 11]
        assert body["gate_events"][0]["received_at"].endswith("Z")
        r = await c.get("/api/v1/gate-events?kind=not_passed", headers=AUTH)
        assert [(e["seq"], e["ref_seq"]) for e in (await r.json())["gate_events"]] == [(5, 2)]
        r = await c.get("/api/v1/gate-events?limit=2&offset=2", headers=AUTH)
        assert [e["seq"] for e in (await r.json())["gate_events"]] == [7, 8]
        for bad in ("kind=bogus", "date=2026-02-30", "date=today", "gateway_id=a/b", "limit=0", "offset=-1"):
            r = await c.get(f"/api/v1/gate-events?{bad}", headers=AUTH)
            assert r.status == 400 and "error" in await r.json(), bad
        r = await c.get(f"/api/v1/projects/{gw.project_code}/punches?date={DATE}", headers=AUTH)
        punches = (await r.json())["punches"]
        assert [p["seq"] for p in punches] == [1, 2, 3, 4, 9]
        assert [p["passage"] for p in punches] == [None, "not_passed", None, None, None]
        st = await (await c.get("/api/v1/stats", headers=AUTH)).json()
        assert st["gate_events"] == 5 and st["punches"] == 5
    run_api(store, scenario)


def test_gate_events_pending_link_then_sweep(store, gw, ingestor):
    """A gate event arriving before its predecessor is a pending link like any entry."""
    gw.add(2)
    gw.add_event("door_held")
    ingestor.handle(topic(gw), gw.sealed_batch(gw.entries[2:]))
    assert {r["seq"]: r["chain_status"] for r in store.ledger(gw.gateway_id)} == {3: "pending"}
    ingestor.handle(topic(gw), gw.sealed_batch(gw.entries[:2]))
    store.sweep(time.time(), 60)
    assert {r["chain_status"] for r in store.ledger(gw.gateway_id)} == {"verified"}


def _fire_hold_on_a_real_gateway(tmp_path, gw: FakeGateway) -> list:
    """One fire activation on a real gate (Modbus relay emulator on a pty, real ledger of ``gw``):
    the ledger's entries once the hold has ended."""
    timing = GateTimingConfig(poll_interval_s=0.02, fire_clear_s=0.2, fault_clear_s=0.2)
    ledger = PunchLedger(tmp_path / "ledger.db", gw.gateway_id, gw.project_code)
    with ModbusRelayEmulator(tmp_path / "ttyRS485", device_id=1) as emu:
        emu.set_input(2, True)                                     # NC fault contact closed: healthy
        turnstile = open_turnstile({"id": "T1", "type": "modbus_rtu", "port": emu.port, "timeout_ms": 100,
                                    "retries": 1, "reconnect_interval_s": 0.05, "input_fire": 3,
                                    "fire_contact": "no"})
        gates = GateControllers()
        gate = gates["G1"] = GateController(GateConfig("G1", "both", "T1"), GateRecorder(ledger, gates.open),
                                            turnstile, timing).start()
        try:
            emu.set_input(3, True)
            wait_for(lambda: gate._fire.confirmed and emu.coils[0] and emu.coils[1], what="fire hold")
            emu.set_input(3, False)
            wait_for(lambda: not gate.fire_active and not emu.coils[0], what="hold ended")
        finally:
            gate.stop()
            turnstile.close()
    try:
        return ledger.entries()
    finally:
        ledger.close()


def test_fire_hold_end_from_a_real_gateway_is_stored_and_listed(store, gw, ingestor, tmp_path):
    """End to end: the release_ended a real gate commits when its fire hold ends reaches the
    receiver's store and ``/api/v1/gate-events?kind=release_ended`` with the ref_seq of its
    manual_release, operator fire_alarm and the hold's duration in the reason."""
    entries = _fire_hold_on_a_real_gateway(tmp_path, gw)
    out = ingestor.handle(topic(gw), gw.sealed_batch(entries))
    assert out.verdict.ok and out.ack.acked_through_seq == entries[-1].seq
    assert all(r["chain_status"] == "verified" for r in store.ledger(gw.gateway_id))
    events = store.gate_events(gw.gateway_id, None, None, 100, 0)
    fire = [(e["event_kind"], e["ref_seq"], e["operator"]) for e in events if e["operator"] == FIRE_OPERATOR]
    rel = next(e["seq"] for e in events if e["event_kind"] == "manual_release")
    assert fire == [("manual_release", None, FIRE_OPERATOR), ("release_ended", rel, FIRE_OPERATOR)]

    async def scenario(c):
        r = await c.get(f"/api/v1/gate-events?gateway_id={gw.gateway_id}&kind=release_ended", headers=AUTH)
        [end] = (await r.json())["gate_events"]
        assert r.status == 200 and (end["ref_seq"], end["operator"], end["direction"]) == (rel, FIRE_OPERATOR, None)
        assert "fire input cleared after" in end["manual_reason"]
    run_api(store, scenario)


def test_release_ended_is_a_listed_kind(store, gw, ingestor):
    gw.add(1)
    rel = gw.add_event("manual_release", operator=FIRE_OPERATOR, reason="火警输入动作")
    gw.add_event("release_ended", ref_seq=rel.seq, operator=FIRE_OPERATOR, reason="fire input cleared after 95 s")
    assert ingestor.handle(topic(gw), gw.sealed_batch(gw.entries)).result.new == [1, 2, 3]
    assert [(e["seq"], e["ref_seq"]) for e in store.gate_events(None, None, "release_ended", 10, 0)] == [(3, 2)]
    assert store.stats()["gate_events"] == 2
