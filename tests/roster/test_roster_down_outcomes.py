"""What the city learns of down changes that did not take effect at the gate: the gateway's
``skipped`` / ``failed`` outcomes travel in every signed ``RosterDownState`` and are recorded
once per gateway and version at the receiver.

The gateway's real registry and downlink (real SQLite file), the receiver's real ingest and
store (SQLite and PostgreSQL via ``store_url``); only MQTT is left out here, except in the last
test (real Mosquitto, receiver consumer and gateway agent)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import time

import pytest

from cloud_receiver import roster_down
from cloud_receiver.ingest import Ingestor
from cloud_receiver.store import open_store
from devtools import wait_for
from edge_agent.agent import EdgeAgent
from edge_agent.roster.downlink import RosterDownlink, encode_state, wire_detail
from roster_helpers import TODAY, record, resident_id
from shared_schema import envelope, topics
from shared_schema.envelope import generate_key, public_key_text
from shared_schema.messages import RosterDownState, decode_message
from shared_schema.wire import canonical_json, to_wire, utc_now
from test_roster_sync_mqtt import PROJECT, acked_all, city, edge_cfg  # noqa: F401  (fixtures)

SKIPPED_DETAIL = "no active record of this person on the gateway"


@pytest.fixture
def rx(store_url, registry):
    """(receiver store, the gateway's downlink with its registered key, the receiver's ingestor)."""
    store = open_store(store_url, migrate=True)
    key = generate_key()
    store.register_gateway(registry.gateway_id, public_key_text(key), registry.project_code, "TestVendor", "北门",
                           now=time.time())
    yield store, RosterDownlink(registry, key, poll_s=3600), Ingestor(store, "rx-test", cache_s=0.0)
    store.close()


def exchange(link: RosterDownlink, ing: Ingestor):
    """One state report as the downlink publishes it, handled by the receiver, its answer applied
    by the gateway; → (the receiver's outcome, the signed bytes sent)."""
    sent = []
    link._want = True
    link.pump(lambda topic, payload: sent.append((topic, payload)) or True)
    topic, payload = sent[-1]
    out = ing.handle(topic, payload)
    if out.ack is not None:
        link.handle(out.ack)
    return out, payload


def outcomes(store, project: str) -> list[tuple]:
    return [(o["gateway_id"], o["version"], o["action"], o["status"], o["detail"])
            for o in store.roster_down_outcomes(project, 1, 2**62)]


def test_a_failed_correction_and_a_skipped_exit_reach_the_city(rx, registry):
    """Pins the compliance fix: a correction the gateway refuses shows up at the city as
    ``failed`` with the field names, an exit of a person the gateway does not have as
    ``skipped``; the project's view says so per gateway and leaks neither ID nor values."""
    store, link, ing = rx
    registry.enroll(record(), operator="op")
    p, now = registry.project_code, time.time()
    roster_down.issue_correction(store, p, "01", resident_id(), {"phone": "not-a-phone", "team_code": "T9"},
                                 operator="住建局", reason=None, now=now)
    roster_down.issue_exit(store, p, "01", resident_id(order=999), TODAY.isoformat(), operator="住建局",
                           reason="清退", now=now)
    roster_down.issue_project_status(store, p, True, operator="住建局", reason=None, now=now)
    exchange(link, ing)                                  # the gateway gets v1..v3 and applies them
    assert registry.down_applied_version() == 3
    out, payload = exchange(link, ing)                   # and reports how far it is, with what did not apply
    assert out.verdict.ok and [o.version for o in decode_message(envelope.split(payload)[1]).outcomes] \
        == [1, 2]
    gw = registry.gateway_id
    assert outcomes(store, p) == [(gw, 1, "correct", "failed", "invalid: phone"),
                                  (gw, 2, "exit", "skipped", SKIPPED_DETAIL)]
    view = roster_down.project_view(store, p, limit=10, offset=0, full=False)
    assert view["latest_version"] == 3 and view["gateways"][0]["applied_version"] == 3
    by_version = {c["version"]: c for c in view["changes"]}
    assert [c["version"] for c in view["changes"]] == [3, 2, 1]
    assert by_version[1]["gateways"] == [{"gateway_id": gw, "status": "failed", "detail": "invalid: phone",
                                          "reported_at": by_version[1]["gateways"][0]["reported_at"]}]
    assert by_version[2]["gateways"][0]["status"] == "skipped" and by_version[3]["gateways"][0]["status"] == "applied"
    assert [c["problems"] for c in view["changes"]] == [0, 1, 1]
    assert by_version[1]["corrections"] == ["phone", "team_code"]      # names only without ids=full
    text = json.dumps(view, ensure_ascii=False)
    assert resident_id() not in text and "not-a-phone" not in text
    full = roster_down.project_view(store, p, limit=10, offset=0, full=True)
    assert {c["version"]: c for c in full["changes"]}[1]["corrections"] == {"phone": "not-a-phone", "team_code": "T9"}


def test_repeated_reports_do_not_duplicate_or_rewrite(rx, registry):
    """Every report resends the outcomes: the city keeps one row per gateway and version, and
    does not even rewrite it while it is unchanged (reported_at stays the first one)."""
    store, link, ing = rx
    roster_down.issue_exit(store, registry.project_code, "01", resident_id(order=7), TODAY.isoformat(),
                           operator="city", reason=None, now=time.time())
    exchange(link, ing)
    exchange(link, ing)
    first = store.roster_down_outcomes(registry.project_code, 1, 1)
    for _ in range(4):
        out, _ = exchange(link, ing)
        assert out.verdict.ok
    again = store.roster_down_outcomes(registry.project_code, 1, 1)
    assert len(again) == 1 and again == first


def test_an_old_style_state_without_outcomes_still_works(rx, registry):
    """A gateway that predates ``outcomes`` (and a new one with nothing to report: the field is
    left out, so older receivers still read it) gets its changes; the absence clears nothing."""
    store, link, ing = rx
    p = registry.project_code
    roster_down.issue_exit(store, p, "01", resident_id(order=7), TODAY.isoformat(), operator="city", reason=None,
                           now=time.time())
    roster_down.issue_project_status(store, p, True, operator="city", reason=None, now=time.time())
    old = RosterDownState(v=1, type="roster_down_state", gateway_id=registry.gateway_id, project_code=p,
                          applied_version=0, sent_at=utc_now())
    payload = encode_state(old)
    assert b"outcomes" not in payload and payload == canonical_json({k: v for k, v in to_wire(old).items()
                                                                     if k != "outcomes"})
    out = ing.handle(topics.roster(registry.gateway_id), envelope.seal(payload, link.key))
    assert out.verdict.ok and [c.version for c in out.ack.changes] == [1, 2]
    link.handle(out.ack)
    exchange(link, ing)
    assert len(outcomes(store, p)) == 1
    out = ing.handle(topics.roster(registry.gateway_id),
                     envelope.seal(encode_state(RosterDownState(**{**old.__dict__, "applied_version": 2})), link.key))
    assert out.verdict.ok and out.ack.changes == () and len(outcomes(store, p)) == 1
    assert store.gateway_roster_down(p)[0]["applied_version"] == 2


def _state_bytes(registry, applied: int, outs: list) -> bytes:
    return canonical_json({"v": 1, "type": "roster_down_state", "gateway_id": registry.gateway_id,
                           "project_code": registry.project_code, "applied_version": applied, "sent_at": utc_now(),
                           "outcomes": outs})


def _o(version: int, **over) -> dict:
    return {"version": version, "action": "exit", "status": "skipped", "detail": SKIPPED_DETAIL, **over}


@pytest.mark.parametrize("applied, outs, reason", [
    (1, [_o(2)], "bad_value"),                                          # an outcome of a change not yet processed
    (3, [_o(2), _o(1)], "bad_value"),                                   # out of order
    (60, [_o(v) for v in range(1, 52)], "oversize"),                    # more than 50
    (1, [_o(1, detail="张三 110105199001011234")], "bad_value"),           # personal data in the detail
    (1, [_o(1, detail="x" * 129)], "oversize"),
    (1, [_o(1, status="applied")], "bad_value"),
    (1, [_o(1, secret="x")], "unknown_field"),
    (1, "garbage", "wrong_type"),
    (1, [[1, "exit", "skipped", "x"]], "wrong_type"),
])
def test_a_garbage_oversize_or_forged_outcome_list_is_rejected_with_a_reason(rx, registry, applied, outs, reason):
    """Pins the receiver's refusal: the signed state is rejected as a whole (no answer, nothing
    recorded, the applied version untouched) with the decoder's stable reason, counted."""
    store, link, ing = rx
    roster_down.issue_exit(store, registry.project_code, "01", resident_id(order=7), TODAY.isoformat(),
                           operator="city", reason=None, now=time.time())
    out = ing.handle(topics.roster(registry.gateway_id), envelope.seal(_state_bytes(registry, applied, outs),
                                                                       link.key))
    assert out.ack is None and out.verdict.reason == reason and "outcomes" in out.verdict.detail
    assert "张三" not in out.verdict.detail
    assert outcomes(store, registry.project_code) == [] and store.gateway_roster_down(registry.project_code) == []
    assert store.counters().get(f"rejected:{reason}") == 1


def test_outcomes_signed_with_another_key_are_rejected(rx, registry):
    store, link, ing = rx
    roster_down.issue_exit(store, registry.project_code, "01", resident_id(order=7), TODAY.isoformat(),
                           operator="city", reason=None, now=time.time())
    out = ing.handle(topics.roster(registry.gateway_id), envelope.seal(_state_bytes(registry, 1, [_o(1)]),
                                                                       generate_key()))
    assert out.ack is None and out.verdict.reason == "bad_signature"
    assert outcomes(store, registry.project_code) == []


def test_outcomes_of_changes_the_city_never_issued_are_ignored_not_stored(rx, registry, caplog):
    """A well-formed report naming a version the project does not have, or with another action
    (e.g. the city's store restored from an old backup), is answered but not recorded."""
    store, link, ing = rx
    roster_down.issue_exit(store, registry.project_code, "01", resident_id(order=7), TODAY.isoformat(),
                           operator="city", reason=None, now=time.time())
    with caplog.at_level(logging.WARNING, logger="cloud_receiver.roster_down"):
        out = ing.handle(topics.roster(registry.gateway_id), envelope.seal(
            _state_bytes(registry, 5, [_o(1, action="correct", status="failed", detail="invalid: phone"), _o(4)]),
            link.key))
    assert out.verdict.ok and out.ack is not None
    assert outcomes(store, registry.project_code) == []
    assert "2 down versions" in caplog.text


def test_more_than_fifty_failures_are_all_reported(rx, registry):
    """A report carries the last 50 only, so the gateway stops after 50 non-applied changes in a
    batch and reports before going on: the city records every one of 55."""
    store, link, ing = rx
    registry.enroll(record(), operator="op")
    for _ in range(55):
        roster_down.issue_correction(store, registry.project_code, "01", resident_id(), {"phone": "bad"},
                                     operator="city", reason=None, now=time.time())
    exchange(link, ing)
    assert registry.down_applied_version() == 50
    assert [o.version for o in link.state().outcomes] == list(range(1, 51))
    exchange(link, ing)
    exchange(link, ing)
    assert registry.down_applied_version() == 55
    assert [o[1] for o in outcomes(store, registry.project_code)] == list(range(1, 56))
    assert len(link.state().outcomes) == 50


def test_wire_detail_is_bounded_ascii():
    assert wire_detail("invalid: phone") == "invalid: phone"
    long = wire_detail("invalid: " + ", ".join(f"field_{i}" for i in range(40)))
    assert len(long) == 128 and long.endswith("...")
    assert wire_detail("该人员已退场") == wire_detail(None) == "see the gateway's roster down log"


def test_the_city_learns_of_failures_over_mqtt(city, edge_cfg):  # noqa: F811
    """End to end (Mosquitto, consumer, agent): decisions taken while the gateway is offline;
    when it returns, the city sees the failed correction and the skipped exit."""
    store, _ = city
    agent = EdgeAgent(edge_cfg).start()
    reg = agent.roster.registry
    month_ago = (dt.date.today() - dt.timedelta(days=30)).isoformat()
    reg.enroll(record(id_number=resident_id(order=1), entry_date=month_ago), operator="op")
    assert wait_for(lambda: acked_all(agent) and len(store.project_memberships(PROJECT, "active")) == 1, timeout=20)
    agent.stop()
    now = time.time()
    roster_down.issue_correction(store, PROJECT, "01", resident_id(order=1), {"phone": "12"}, operator="住建局",
                                 reason=None, now=now)
    roster_down.issue_exit(store, PROJECT, "01", resident_id(order=2), TODAY.isoformat(), operator="住建局",
                           reason=None, now=now)
    agent = EdgeAgent(edge_cfg).start()
    try:
        assert wait_for(lambda: len(outcomes(store, PROJECT)) == 2, timeout=20)
        gw = agent.roster.registry.gateway_id
        assert outcomes(store, PROJECT) == [(gw, 1, "correct", "failed", "invalid: phone"),
                                            (gw, 2, "exit", "skipped", SKIPPED_DETAIL)]
        assert wait_for(lambda: [g["applied_version"] for g in store.gateway_roster_down(PROJECT)] == [2], timeout=20)
    finally:
        agent.stop()
