"""The down direction: roster changes decided at the city, applied once and in order at the
gateway, caught up after being offline (real Mosquitto, receiver consumer and gateway agent),
plus the downlink's ordering rules on their own."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from cloud_receiver import roster_down
from devtools import wait_for
from edge_agent.agent import EdgeAgent
from edge_agent.roster.downlink import RosterDownlink
from roster_helpers import TODAY, record, resident_id
from shared_schema.envelope import generate_key
from shared_schema.messages import FieldValue, RosterDownBatch, RosterDownChange
from shared_schema.wire import utc_now
from test_roster_sync_mqtt import PROJECT, acked_all, city, edge_cfg  # noqa: F401  (fixtures)


def change(version, action="exit", number=None, **kw) -> RosterDownChange:
    person = action in ("exit", "correct")
    return RosterDownChange(version=version, issued_at=utc_now(), action=action,
                            id_type="01" if person else None, id_number=(number or resident_id()) if person else None,
                            exit_date=kw.pop("exit_date", TODAY.isoformat()) if action == "exit" else None,
                            corrections=kw.pop("corrections", ()), reason=kw.pop("reason", None), operator="city-op")


def batch(reg, changes, latest=None) -> RosterDownBatch:
    return RosterDownBatch(v=1, type="roster_down_batch", gateway_id=reg.gateway_id, project_code=reg.project_code,
                           changes=tuple(changes), latest_version=latest or (changes[-1].version if changes else 0),
                           sent_at=utc_now())


@pytest.fixture
def downlink(registry):
    return RosterDownlink(registry, generate_key(), poll_s=3600)


def test_changes_apply_once_in_order_and_gaps_ask_again(registry, downlink):
    a = registry.enroll(record(id_number=resident_id(order=1)), operator="op")
    b = registry.enroll(record(id_number=resident_id(order=2)), operator="op")
    downlink._want = False
    c1 = change(1, "correct", resident_id(order=2), corrections=(FieldValue("team_code", "T77"),))
    c2 = change(2, "exit", resident_id(order=1), reason="违规清退")
    c3 = change(3, "project_stopped")
    assert downlink.handle(batch(registry, [c2, c3]))          # v2 before v1: a gap, nothing applied
    assert registry.down_applied_version() == 0 and downlink._want
    downlink._want = False
    assert downlink.handle(batch(registry, [c1, c2], latest=3))
    assert registry.down_applied_version() == 2 and downlink._want      # v3 is still to come
    assert registry.get(b.worker_ref).record["team_code"] == "T77"
    ex = registry.get(a.worker_ref)
    assert ex.status == "exited" and ex.exit["wage_settled"] is None and ex.exit["operator"] == "city:city-op"
    assert downlink.handle(batch(registry, [c1, c2, c3]))      # a redelivery: v1, v2 ignored, v3 applied
    assert registry.project_status() == "stopped"
    assert [d["status"] for d in registry.down_log()] == ["applied", "applied", "applied"]
    assert downlink.counters["already_applied"] == 2
    assert [c.action for c in __import__("test_roster_registry").outbox_changes(registry)][-2:] == ["update", "exit"]


def test_a_change_that_cannot_apply_is_logged_and_does_not_block(registry, downlink):
    w = registry.enroll(record(), operator="op")
    bad = change(1, "correct", corrections=(FieldValue("phone", "not-a-phone"),))
    stranger = change(2, "exit", resident_id(order=999))
    early = change(3, "exit", exit_date="2000-01-01")
    ok = change(4, "project_resumed")
    downlink.handle(batch(registry, [bad, stranger, early, ok]))
    log = registry.down_log()
    assert [(d["version"], d["status"]) for d in log] == [(1, "failed"), (2, "skipped"), (3, "failed"), (4, "applied")]
    assert log[0]["detail"] == "invalid: phone" and resident_id() not in str(log)
    assert registry.get(w.worker_ref).status == "active" and registry.get(w.worker_ref).record["phone"] == "13800138000"


def test_a_batch_for_another_gateway_or_project_is_ignored(registry, downlink):
    registry.enroll(record(), operator="op")
    other = RosterDownBatch(v=1, type="roster_down_batch", gateway_id="GW-OTHER", project_code=registry.project_code,
                            changes=(change(1),), latest_version=1, sent_at=utc_now())
    assert downlink.handle(other) and registry.down_applied_version() == 0


def test_the_city_refuses_what_it_may_not_correct(city):
    store, _ = city
    with pytest.raises(ValueError, match="id_number"):
        roster_down.issue_correction(store, PROJECT, "01", resident_id(), {"id_number": "x"}, operator="o",
                                     reason=None, now=time.time())
    with pytest.raises(ValueError):
        roster_down.issue_exit(store, PROJECT, "01", resident_id(), "2026-13-01", operator="o", reason=None,
                               now=time.time())
    assert store.roster_down_after(PROJECT, 0, 10) == ([], 0)


def test_city_decisions_reach_an_offline_gateway_when_it_returns(city, edge_cfg):
    store, _ = city
    agent = EdgeAgent(edge_cfg).start()
    reg = agent.roster.registry
    month_ago = (dt.date.today() - dt.timedelta(days=30)).isoformat()
    a = reg.enroll(record(id_number=resident_id(order=1), entry_date=month_ago), operator="op")
    b = reg.enroll(record(id_number=resident_id(order=2), entry_date=month_ago), operator="op")
    assert wait_for(lambda: acked_all(agent) and len(store.project_memberships(PROJECT, "active")) == 2, timeout=20)
    agent.stop()                                     # the gateway is offline while the city decides
    now = time.time()
    yesterday = (dt.date.today() - dt.timedelta(days=1)).isoformat()
    v1 = roster_down.issue_exit(store, PROJECT, "01", resident_id(order=1), yesterday, operator="住建局", reason="清退",
                                now=now)
    v2 = roster_down.issue_correction(store, PROJECT, "01", resident_id(order=2), {"team_code": "T88"},
                                      operator="住建局", reason="班组更正", now=now)
    v3 = roster_down.issue_project_status(store, PROJECT, True, operator="住建局", reason="停工整改", now=now)
    assert (v1, v2, v3) == (1, 2, 3)
    agent = EdgeAgent(edge_cfg).start()
    try:
        reg = agent.roster.registry
        assert wait_for(lambda: reg.down_applied_version() == 3, timeout=20)
        assert reg.get(a.worker_ref).status == "exited" and reg.get(a.worker_ref).exit["exit_date"] == yesterday
        assert reg.get(b.worker_ref).record["team_code"] == "T88"
        assert reg.project_status() == "stopped"
        # the gateway's own exit and update went back up: the city registry follows the gateway
        assert wait_for(lambda: acked_all(agent) and len(store.project_memberships(PROJECT, "active")) == 1,
                        timeout=20)
        assert store.project_memberships(PROJECT, "exited")[0]["exit_date"] == yesterday
        assert wait_for(lambda: [g["applied_version"] for g in store.gateway_roster_down(PROJECT)] == [3], timeout=20)
        assert [d["status"] for d in reg.down_log()] == ["applied"] * 3
    finally:
        agent.stop()
