"""Down changes apply once and in order whatever the network does: batches lost, repeated,
reordered, cut short by the receiver's page limit (the receiver's real ``answer`` on a real
store, the gateway's real downlink and registry; only the transport is left out)."""

from __future__ import annotations

import random
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cloud_receiver import roster_down
from cloud_receiver.ingest import Ingestor
from cloud_receiver.store import open_store
from devtools.fake_gateway import FakeGateway
from edge_agent.roster import WorkerRegistry
from edge_agent.roster.downlink import RosterDownlink
from roster_helpers import record, resident_id
from shared_schema import topics
from shared_schema.envelope import generate_key
from shared_schema.messages import RosterDownState
from shared_schema.wire import utc_now


def state(reg) -> RosterDownState:
    return RosterDownState(v=1, type="roster_down_state", gateway_id=reg.gateway_id, project_code=reg.project_code,
                           applied_version=reg.down_applied_version(), sent_at=utc_now())


@given(n=st.integers(1, 12), limit=st.integers(1, 5), seed=st.integers(0, 2**16))
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_property_each_version_applies_once_in_order(tmp_path_factory, n, limit, seed):
    d = tmp_path_factory.mktemp("down")
    store = open_store(f"sqlite:///{d / 'rx.db'}", migrate=True)
    reg = WorkerRegistry(d / "roster.db", "GW-D", "P-D")
    try:
        people = [reg.enroll(record(id_number=resident_id(order=i + 1)), operator="op") for i in range(3)]
        for v in range(n):
            who = resident_id(order=v % 3 + 1)
            roster_down.issue_correction(store, "P-D", "01", who, {"team_code": f"T{v}"}, operator="city",
                                         reason=None, now=time.time())
        link = RosterDownlink(reg, generate_key())
        rng = random.Random(seed)
        delivered = []
        for _ in range(200):
            if reg.down_applied_version() == n:
                break
            batch = roster_down.answer(store, state(reg), time.time(), limit=limit)
            delivered.append(batch)
            fate = rng.random()
            if fate < 0.2:
                continue                                           # lost
            if fate < 0.4 and len(delivered) > 1:
                link.handle(rng.choice(delivered))                 # an old one arrives (again)
            link.handle(batch)
        log = reg.down_log()
        assert [x["version"] for x in log] == list(range(1, n + 1))
        assert all(x["status"] == "applied" for x in log)
        for i, w in enumerate(people):                             # the last correction of each person won
            mine = [v for v in range(n) if v % 3 == i]
            if mine:
                assert reg.get(w.worker_ref).record["team_code"] == f"T{mine[-1]}"
    finally:
        reg.close()
        store.close()


@pytest.fixture
def store(tmp_path):
    s = open_store(f"sqlite:///{tmp_path / 'rx.db'}", migrate=True)
    yield s
    s.close()


def test_forged_truncated_and_foreign_state_reports_get_no_changes(store):
    gw = FakeGateway("GW-D", "P-D")
    gw.register(store)
    roster_down.issue_project_status(store, "P-D", True, operator="city", reason=None, now=time.time())
    ing = Ingestor(store, "rx", cache_s=0.0)
    good = RosterDownState(v=1, type="roster_down_state", gateway_id="GW-D", project_code="P-D",
                           applied_version=0, sent_at=utc_now())
    out = ing.handle(topics.roster("GW-D"), gw.seal(good))
    assert out.ack is not None and [c.version for c in out.ack.changes] == [1]
    sealed = gw.seal(good)
    assert ing.handle(topics.roster("GW-D"), sealed[:-5]).ack is None                 # truncated
    assert ing.handle(topics.roster("GW-D"), gw.seal(good, generate_key())).ack is None   # forged
    assert ing.handle(topics.roster("GW-D"), b"\x00" * 2_000_000).ack is None         # oversize garbage
    other = RosterDownState(v=1, type="roster_down_state", gateway_id="GW-D", project_code="P-OTHER",
                            applied_version=0, sent_at=utc_now())
    out = ing.handle(topics.roster("GW-D"), gw.seal(other))                            # another project's changes
    assert out.ack is None and out.verdict.reason == "project_mismatch"
    assert [g["applied_version"] for g in store.gateway_roster_down("P-D")] == [0]
