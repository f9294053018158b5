"""The city worker registry: one person across projects, one role per project at a time.

Run against both stores (SQLite and a private PostgreSQL) through the real ingest path:
signed RosterChanges in, signed-able RosterAcks out."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cloud_receiver.ingest import Ingestor
from cloud_receiver.registry import decide
from cloud_receiver.store import open_store
from devtools.fake_gateway import FakeGateway
from shared_schema import topics
from shared_schema.messages import RosterAck, decode_message, encode_message

ID = "11010519491231002X"


@pytest.fixture
def store(store_url):
    s = open_store(store_url, migrate=True)
    yield s
    s.close()


@pytest.fixture
def gws(store):
    a, b, c = FakeGateway("GW-A", "P-1"), FakeGateway("GW-B", "P-1"), FakeGateway("GW-C", "P-2")
    for g in (a, b, c):
        g.register(store)
    return a, b, c


def send(ingestor, gw, msg, key=None):
    out = ingestor.handle(topics.roster(gw.gateway_id), gw.seal(msg, key))
    ack = out.ack
    if ack is not None:
        assert decode_message(encode_message(ack), RosterAck) == ack
    return out


def test_one_person_across_projects_with_history(store, gws):
    a, _, c = gws
    ing = Ingestor(store, "rx-t", cache_s=0.0)
    e1 = a.roster(ID, worker_ref="WA1")
    out = send(ing, a, e1)
    assert (out.ack.status, out.ack.outcome, out.ack.change_id) == ("stored", "applied", e1.change_id)
    assert send(ing, c, c.roster(ID, worker_ref="WC1", role="manager", post="PM")).ack.outcome == "applied"
    assert send(ing, a, a.roster(ID, worker_ref="WA1", action="update", team_code="T9")).ack.outcome == "applied"
    assert send(ing, a, a.roster(ID, worker_ref="WA1", action="exit", exit_date="2026-03-05", team_code="T9")).ack.outcome == "applied"
    p = store.person("01", ID)
    assert p["name"] == "张三" and p["active_projects"] == ["P-2"]
    ms = {m["project_code"]: m for m in p["memberships"]}
    assert ms["P-1"]["status"] == "exited" and ms["P-1"]["team_code"] == "T9" and ms["P-1"]["exit_date"] == "2026-03-05"
    assert ms["P-2"]["role"] == "manager" and ms["P-2"]["post"] == "PM"
    assert [h["action"] for h in p["history"]] == ["enroll", "enroll", "update", "exit"]
    assert len(store.roster("P-1")) == 1          # supervision's roster still sees the changes


def test_a_resend_is_a_duplicate_and_changes_nothing(store, gws):
    a = gws[0]
    ing = Ingestor(store, "rx-t", cache_s=0.0)
    m = a.roster(ID)
    assert send(ing, a, m).ack.outcome == "applied"
    assert send(ing, a, m).ack.outcome == "duplicate"
    p = store.person("01", ID)
    assert len(p["memberships"]) == 1 and len(p["history"]) == 1


def test_one_role_per_project_at_a_time(store, gws):
    a, b, _ = gws
    ing = Ingestor(store, "rx-t", cache_s=0.0)
    assert send(ing, a, a.roster(ID, worker_ref="WA1")).ack.outcome == "applied"
    # the other gateway of the same project enrolls the same person as a manager: conflict, kept as history
    out = send(ing, b, b.roster(ID, worker_ref="WB1", role="manager", post="SO"))
    assert (out.ack.status, out.ack.outcome) == ("stored", "conflict")
    # ... as a worker again: the same membership (one person, one role)
    assert send(ing, b, b.roster(ID, worker_ref="WB2")).ack.outcome == "applied"
    # an exit that names another record of the person is a conflict too
    assert send(ing, a, a.roster(ID, worker_ref="WA-OLD", action="exit")).ack.outcome == "conflict"
    p = store.person("01", ID)
    active = [m for m in p["memberships"] if m["status"] == "active"]
    assert len(active) == 1 and active[0]["role"] == "worker"
    assert [h["outcome"] for h in p["history"]] == ["applied", "conflict", "applied", "conflict"]
    assert len(store.project_memberships("P-1", "active")) == 1


def test_a_change_for_another_project_is_rejected_and_not_stored(store, gws):
    a, _, c = gws
    ing = Ingestor(store, "rx-t", cache_s=0.0)
    m = c.roster(ID)                 # P-2's change ...
    forged = FakeGateway("GW-A", "P-2", key=a.key).roster(ID)
    out = send(ing, a, forged)       # ... signed by GW-A, registered on P-1
    assert (out.ack.status, out.ack.reason, out.ack.outcome) == ("rejected", "project_mismatch", None)
    assert store.person("01", ID) is None
    assert m.project_code == "P-2"


def test_unsigned_or_wrongly_signed_changes_get_no_ack(store, gws):
    a = gws[0]
    ing = Ingestor(store, "rx-t", cache_s=0.0)
    out = ing.handle(topics.roster("GW-A"), FakeGateway("GW-A", "P-1").seal(a.roster(ID)))   # another key
    assert out.ack is None and store.person("01", ID) is None
    out = ing.handle(topics.roster("GW-A"), b"\x00garbage")
    assert out.ack is None


@given(st.lists(st.tuples(st.sampled_from(["enroll", "update", "exit"]), st.sampled_from(["worker", "manager"]),
                          st.sampled_from(["W1", "W2"])), max_size=10))
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_property_decide_never_leaves_two_active_roles(changes):
    """Model check of the pure decision: at most one active membership, and it only ever
    changes through an applied decision."""
    active = None
    for action, role, ref in changes:
        d = decide({"action": action, "role": role, "worker_ref": ref}, active)
        if d.op == "insert":
            assert active is None
            active = {"role": role, "worker_ref": ref}
        elif d.op == "update":
            assert active is not None and (action != "enroll" or active["role"] == role)
            active = {"role": role, "worker_ref": ref}
        elif d.op == "close":
            assert active is not None and active["worker_ref"] == ref
            active = None
        else:
            assert d.outcome == "conflict"


def test_down_changes_are_numbered_per_project_and_answered_in_order(store, gws):
    """The down direction's SQL on both stores (version numbering, paging, gateway state)."""
    import time

    from cloud_receiver import roster_down
    from shared_schema.messages import RosterDownState
    from shared_schema.wire import utc_now

    now = time.time()
    assert roster_down.issue_exit(store, "P-1", "01", ID, "2026-03-05", operator="city", reason="r", now=now) == 1
    assert roster_down.issue_project_status(store, "P-2", True, operator="city", reason=None, now=now) == 1
    assert roster_down.issue_correction(store, "P-1", "01", ID, {"name": "张三丰"}, operator="city", reason=None,
                                        now=now) == 2
    st = RosterDownState(v=1, type="roster_down_state", gateway_id="GW-A", project_code="P-1", applied_version=0,
                         sent_at=utc_now())
    b = roster_down.answer(store, st, now, limit=1)
    assert [c.version for c in b.changes] == [1] and b.latest_version == 2 and b.changes[0].action == "exit"
    b = roster_down.answer(store, RosterDownState(**{**st.__dict__, "applied_version": 1}), now)
    assert [(c.version, c.action, c.corrections[0].value) for c in b.changes] == [(2, "correct", "张三丰")]
    assert [(g["gateway_id"], g["applied_version"]) for g in store.gateway_roster_down("P-1")] == [("GW-A", 1)]
