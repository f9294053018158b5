"""The city worker registry over HTTP (issue 5): persons across projects (masked IDs, scope),
and roster-down changes issued by the city / a district, plus the ``roster-down`` CLI.
Both dialects, fed through the real ingest path (signed RosterChanges)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time

import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cloud_receiver import auth
from cloud_receiver.api import make_app
from cloud_receiver.cli import main
from cloud_receiver.supervision.calendar import validate_project
from shared_schema.messages import FieldValue, RosterDownChange
from shared_schema.wire import decode, loads_strict
from supervision.conftest import Site, id_number

from .conftest import write_config

BOOT = "test-token-0123456789"


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def run(store, scenario):
    async def go():
        async with TestClient(TestServer(make_app(store, {BOOT},
                                                  auth_options=auth.AuthOptions(fail_limit=10000)))) as c:
            await scenario(c)
    asyncio.run(go())


@pytest.fixture
def city(store):
    """East (P-E1) and west (P-W1): 张三 on both (worker east, manager west), 李四 west only."""
    now = time.time()
    for code, district in (("P-E1", "东区"), ("P-W1", "西区")):
        store.upsert_project(validate_project({"project_code": code, "name": code, "district": district}), now)
    east, west = Site(store, "P-E1", "GW-E"), Site(store, "P-W1", "GW-W")
    zhang = east.enroll("WE1", name="张三")
    msg = west.gw.roster(zhang, worker_ref="WW1", role="manager", post="PM", team_code=None, work_type=None)
    msg = dataclasses.replace(msg, details=(FieldValue("phone", "13800138000"),))
    assert west.ingestor.handle(f"rn/v1/gw/{west.gw.gateway_id}/roster", west.gw.seal(msg)).verdict.ok
    li = west.enroll("WW2", name="李四", id_number=id_number(50))
    tokens = {"district": auth.issue_token(store, name="east", role="district", scope=["东区"])[0],
              "project": auth.issue_token(store, name="gc", role="project", scope=["P-E1"])[0],
              "city": auth.issue_token(store, name="city", role="city")[0],
              "city_ids": auth.issue_token(store, name="city-ids", role="city", full_ids=True)[0]}
    return {"zhang": zhang, "li": li, "tokens": tokens, "east": east, "west": west}


def test_person_across_projects_masked_unless_full_ids(store, city):
    tok, zhang = city["tokens"], city["zhang"]

    async def scenario(c):
        h = bearer(tok["city"])
        body = await (await c.get("/api/v1/persons", headers=h)).json()
        assert body["total"] == 2 and [p["name"] for p in body["persons"]] == ["张三", "李四"]
        assert zhang not in json.dumps(body, ensure_ascii=False)
        p0 = body["persons"][0]
        assert p0["id_number"].endswith(zhang[-4:]) and "*" in p0["id_number"]
        assert p0["active_projects"] == ["P-E1", "P-W1"]
        one = await (await c.get(f"/api/v1/persons/{p0['person_id']}?ids=full", headers=h)).json()
        assert zhang not in json.dumps(one, ensure_ascii=False)        # city token without --full-ids
        ms = {m["project_code"]: m for m in one["memberships"]}
        assert (ms["P-E1"]["role"], ms["P-W1"]["role"], ms["P-W1"]["post"]) == ("worker", "manager", "PM")
        assert "details" not in ms["P-W1"] and "13800138000" not in json.dumps(one)
        assert [(x["project_code"], x["action"], x["outcome"]) for x in one["history"]] == \
            [("P-E1", "enroll", "applied"), ("P-W1", "enroll", "applied")]
        hf = bearer(tok["city_ids"])
        full = await (await c.get(f"/api/v1/persons/{p0['person_id']}?ids=full", headers=hf)).json()
        assert full["id_number"] == zhang
        assert {m["project_code"]: m for m in full["memberships"]}["P-W1"]["details"] == {"phone": "13800138000"}
        masked = await (await c.get(f"/api/v1/persons/{p0['person_id']}", headers=hf)).json()
        assert masked["id_number"] != zhang                            # full only when asked
        found = await (await c.get(f"/api/v1/persons?id_number={zhang}", headers=h)).json()
        assert [p["person_id"] for p in found["persons"]] == [p0["person_id"]]
        found = await (await c.get("/api/v1/persons?name=李", headers=h)).json()
        assert [p["name"] for p in found["persons"]] == ["李四"]
        found = await (await c.get("/api/v1/persons?name=%25", headers=h)).json()   # a literal %, not a wildcard
        assert found["total"] == 0
    run(store, scenario)


def test_scoped_tokens_see_only_persons_and_memberships_in_scope(store, city):
    tok = city["tokens"]

    async def scenario(c):
        everyone = await (await c.get("/api/v1/persons", headers=bearer(tok["city"]))).json()
        ids = {p["name"]: p["person_id"] for p in everyone["persons"]}
        for role in ("district", "project"):
            h = bearer(tok[role])
            body = await (await c.get("/api/v1/persons", headers=h)).json()
            assert [p["name"] for p in body["persons"]] == ["张三"] and body["total"] == 1
            assert body["persons"][0]["active_projects"] == ["P-E1"]
            one = await (await c.get(f"/api/v1/persons/{ids['张三']}", headers=h)).json()
            assert [m["project_code"] for m in one["memberships"]] == ["P-E1"]
            assert {x["project_code"] for x in one["history"]} == {"P-E1"}
            hidden = await c.get(f"/api/v1/persons/{ids['李四']}", headers=h)
            missing = await c.get("/api/v1/persons/999999", headers=h)
            assert hidden.status == missing.status == 404
            assert await hidden.json() == await missing.json() == {"error": "no such person"}
            assert (await c.get("/api/v1/persons?project=P-W1", headers=h)).status == 404
            found = await (await c.get(f"/api/v1/persons?id_number={city['li']}", headers=h)).json()
            assert found["persons"] == []
        west = await (await c.get("/api/v1/persons?project=P-W1&active=true", headers=bearer(tok["city"]))).json()
        assert [p["name"] for p in west["persons"]] == ["张三", "李四"]
    run(store, scenario)


@pytest.mark.parametrize("query", ["name=" + "张" * 65, "id_type=99&id_number=1", "id_type=01", "id_number=1;2",
                                   "id_number=" + "1" * 33, "active=maybe", "limit=0", "limit=201", "offset=-1",
                                   "limit=x", "ids=all", "project=../x", "name=%00"])
def test_person_search_refuses_garbage(store, city, query):
    async def scenario(c):
        r = await c.get(f"/api/v1/persons?{query}", headers=bearer(city["tokens"]["city"]))
        assert r.status == 400 and "error" in await r.json()
    run(store, scenario)


@pytest.mark.parametrize("pid", ["abc", "0", "-1", "1" * 19, "１", "1e3"])
def test_person_by_a_malformed_id_is_no_such_person(store, city, pid):
    async def scenario(c):
        r = await c.get(f"/api/v1/persons/{pid}", headers=bearer(city["tokens"]["city"]))
        assert r.status == 404 and await r.json() == {"error": "no such person"}
        assert (await c.get("/api/v1/persons/1?ids=everything", headers=bearer(city["tokens"]["city"]))).status == 400
    run(store, scenario)


def _down(store, code="P-E1") -> list[RosterDownChange]:
    bodies, _ = store.roster_down_after(code, 0, 100)
    return [decode(RosterDownChange, loads_strict(b.encode())) for b in bodies]


def test_roster_down_issued_by_city_and_district_only(store, city):
    tok, zhang = city["tokens"], city["zhang"]

    async def scenario(c):
        url = "/api/v1/projects/P-E1/roster-down"
        r = await c.post(url, json={"action": "exit", "id_number": zhang, "exit_date": "2026-03-20",
                                    "operator": "市住建局", "reason": "违规清退"}, headers=bearer(tok["city"]))
        assert r.status == 201 and (await r.json())["version"] == 1
        r = await c.post(url, json={"action": "correct", "id_number": zhang, "corrections": {"team_code": "T9"},
                                    "operator": "东区"}, headers=bearer(tok["district"]))
        assert r.status == 201 and (await r.json())["version"] == 2
        r = await c.post(url, json={"action": "project_stopped", "operator": "东区", "reason": "停工整改"},
                         headers=bearer(tok["district"]))
        assert (await r.json())["version"] == 3
        assert (await c.post(url, json={"action": "project_resumed", "operator": "gc"},
                             headers=bearer(tok["project"]))).status == 403
        other = await c.post("/api/v1/projects/P-W1/roster-down", json={"action": "project_stopped", "operator": "x"},
                             headers=bearer(tok["district"]))
        assert other.status == 404
        nobody = await c.post(url, json={"action": "exit", "id_number": city["li"], "exit_date": "2026-03-20",
                                         "operator": "x"}, headers=bearer(tok["city"]))
        assert nobody.status == 409                    # 李四 is not on P-E1
    run(store, scenario)
    changes = _down(store)
    assert [(d.version, d.action) for d in changes] == [(1, "exit"), (2, "correct"), (3, "project_stopped")]
    assert (changes[0].id_number, changes[0].exit_date, changes[0].reason) == (zhang, "2026-03-20", "违规清退")
    assert _down(store, "P-W1") == []


def test_roster_down_listing_shows_what_each_gateway_made_of_each_change(store, city):
    """Pins ``GET /api/v1/projects/{code}/roster-down``: per change and gateway ``applied``,
    ``pending`` (never reported) or the reported ``failed`` / ``skipped`` with its detail; IDs
    masked and correction values left out unless ``ids=full`` with a --full-ids token; scoped
    like every project endpoint (another district's or project's: 404)."""
    from devtools.fake_gateway import FakeGateway
    from shared_schema.messages import RosterDownOutcome, RosterDownState
    from shared_schema.wire import utc_now
    tok, zhang, east = city["tokens"], city["zhang"], city["east"]
    FakeGateway("GW-E2", "P-E1").register(store)               # on the project, never reported

    async def scenario(c):
        url = "/api/v1/projects/P-E1/roster-down"
        h = bearer(tok["city"])
        assert (await c.post(url, json={"action": "exit", "id_number": zhang, "exit_date": "2026-03-20",
                                        "operator": "市住建局"}, headers=h)).status == 201
        assert (await c.post(url, json={"action": "correct", "id_number": zhang, "corrections": {"phone": "12"},
                                        "operator": "市住建局"}, headers=h)).status == 201
        state = RosterDownState(v=1, type="roster_down_state", gateway_id="GW-E", project_code="P-E1",
                                applied_version=2, sent_at=utc_now(),
                                outcomes=(RosterDownOutcome(2, "correct", "failed", "invalid: phone"),))
        for _ in range(3):                                      # reports repeat; the record does not
            assert east.ingestor.handle("rn/v1/gw/GW-E/roster", east.gw.seal(state)).verdict.ok
        r = await c.get(url, headers=h)
        assert r.status == 200
        body = await r.json()
        assert (body["latest_version"], body["total"]) == (2, 2)
        assert [(g["gateway_id"], g["applied_version"]) for g in body["gateways"]] == [("GW-E", 2), ("GW-E2", None)]
        v2, v1 = body["changes"]
        assert (v2["version"], v2["action"], v2["corrections"], v2["problems"]) == (2, "correct", ["phone"], 1)
        assert [(g["gateway_id"], g["status"], g.get("detail")) for g in v2["gateways"]] == \
            [("GW-E", "failed", "invalid: phone"), ("GW-E2", "pending", None)]
        assert [g["status"] for g in v1["gateways"]] == ["applied", "pending"] and v1["exit_date"] == "2026-03-20"
        assert zhang not in json.dumps(body) and "*" in v1["id_number"]
        page = await (await c.get(url + "?limit=1&offset=1", headers=h)).json()
        assert [x["version"] for x in page["changes"]] == [1] and page["total"] == 2
        full = await (await c.get(url + "?ids=full", headers=bearer(tok["city_ids"]))).json()
        assert full["changes"][0]["corrections"] == {"phone": "12"} and full["changes"][1]["id_number"] == zhang
        for who in ("district", "project"):
            assert (await c.get(url, headers=bearer(tok[who]))).status == 200
            assert (await c.get("/api/v1/projects/P-W1/roster-down", headers=bearer(tok[who]))).status == 404
        for bad in ("?limit=0", "?limit=x", "?offset=-1", "?ids=everything"):
            assert (await c.get(url + bad, headers=h)).status == 400, bad
        assert (await c.get("/api/v1/projects/P%20E1/roster-down", headers=h)).status == 400
        assert (await c.get(url)).status == 401
    run(store, scenario)
    assert len(store.roster_down_outcomes("P-E1", 1, 2)) == 1


@pytest.mark.parametrize("body", [
    b"not json", b"[1, 2]", b'{"action": "exit"}', b'{"action": "explode", "operator": "x"}',
    b'{"action": "project_stopped", "operator": ""}',
    b'{"action": "project_stopped", "operator": "x", "id_number": "1"}',
    b'{"action": "exit", "operator": "x", "id_number": "ZZ", "exit_date": "2026-02-30"}',
    b'{"action": "exit", "operator": "x", "id_number": "#1", "exit_date": "2026-03-01"}',
    b'{"action": "correct", "operator": "x", "id_number": "ZZ", "corrections": {"id_number": "1"}}',
    b'{"action": "correct", "operator": "x", "id_number": "ZZ", "corrections": {}}',
    b'{"action": "correct", "operator": "x", "id_number": "ZZ", "corrections": {"name": 5}}',
    b'{"action": "project_stopped", "operator": "x", "reason": "' + b"r" * 257 + b'"}',
    b'{"action": "project_stopped", "operator": "' + b"o" * 65 + b'"}',
    b'\xff\xfe garbage', b'{"action": "exit", "operator": "x", "id_number": "ZZ', ])
def test_roster_down_refuses_bad_bodies_and_stores_nothing(store, city, body):
    body = body.replace(b"ZZ", city["zhang"].encode())

    async def scenario(c):
        r = await c.post("/api/v1/projects/P-E1/roster-down", data=body,
                         headers={**bearer(city["tokens"]["city"]), "Content-Type": "application/json"})
        assert r.status == 400 and "error" in await r.json()
        assert city["zhang"] not in (await r.json())["error"]
    run(store, scenario)
    assert _down(store) == []


KEYS = ["action", "operator", "reason", "id_type", "id_number", "exit_date", "corrections"]
VALUES = st.one_of(st.none(), st.text(max_size=40), st.integers(), st.sampled_from(["exit", "correct", "2026-03-20"]),
                   st.dictionaries(st.text(max_size=8), st.text(max_size=8)))


@given(st.dictionaries(st.sampled_from(KEYS), VALUES))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_property_any_body_is_issued_or_refused_with_a_reason(store, city, body):
    from cloud_receiver import roster_down
    before = len(_down(store))
    try:
        roster_down.issue_request(store, "P-E1", body, time.time())
    except (ValueError, roster_down.NotMember):
        assert len(_down(store)) == before
        return
    assert len(_down(store)) == before + 1


def test_cli_roster_down(tmp_path, store, store_url, city, capsys):
    cfg = write_config(tmp_path, store_url=store_url)
    base = ["--config", str(cfg), "roster-down", "--project-code", "P-E1", "--operator", "市住建局"]
    assert main([*base, "--action", "correct", "--id-number", city["zhang"], "--set", "team_code=T7",
                 "--set", "team_leader="]) == 0
    assert "version 1" in capsys.readouterr().out
    assert main([*base, "--action", "exit", "--id-number", city["li"], "--exit-date", "2026-03-20"]) == 1
    assert main([*base, "--action", "exit", "--id-number", city["zhang"], "--exit-date", "2026-13-01"]) == 2
    assert main([*base, "--action", "correct", "--id-number", city["zhang"], "--set", "team_code"]) == 2
    err = capsys.readouterr().err
    assert "no active membership" in err and city["zhang"] not in err
    assert main([*base, "--action", "project_resumed", "--reason", "复工"]) == 0
    changes = _down(store)
    assert [(d.version, d.action) for d in changes] == [(1, "correct"), (2, "project_resumed")]
    assert {f.name: f.value for f in changes[0].corrections} == {"team_code": "T7", "team_leader": None}


def test_cli_roster_down_status(tmp_path, store, store_url, city, capsys):
    """``roster-down --status`` issues nothing and shows, per change, the gateways where it did
    not take effect (a reported failure with its detail; pending); IDs and values never."""
    from cloud_receiver import roster_down
    from shared_schema.messages import RosterDownOutcome, RosterDownState
    from shared_schema.wire import utc_now
    cfg = write_config(tmp_path, store_url=store_url)
    roster_down.issue_correction(store, "P-E1", "01", city["zhang"], {"phone": "12"}, operator="市住建局",
                                 reason=None, now=time.time())
    roster_down.issue_project_status(store, "P-E1", True, operator="市住建局", reason=None, now=time.time())
    east = city["east"]
    state = RosterDownState(v=1, type="roster_down_state", gateway_id="GW-E", project_code="P-E1", applied_version=2,
                            sent_at=utc_now(), outcomes=(RosterDownOutcome(1, "correct", "failed", "invalid: phone"),))
    assert east.ingestor.handle("rn/v1/gw/GW-E/roster", east.gw.seal(state)).verdict.ok
    assert main(["--config", str(cfg), "roster-down", "--project-code", "P-E1", "--status"]) == 0
    out = capsys.readouterr().out
    assert "latest version 2; gateways: GW-E v2" in out
    assert "v2 project_stopped by 市住建局: applied everywhere" in out
    assert "v1 correct (phone) by 市住建局: GW-E failed (invalid: phone)" in out
    assert city["zhang"] not in out and "12" not in out.replace("v2", "")
    assert main(["--config", str(cfg), "roster-down", "--project-code", "P-E1", "--action", "exit"]) == 2
    assert "--operator" in capsys.readouterr().err
    assert len(_down(store)) == 2


def test_migration_8_numbers_the_persons_already_stored(store_url, monkeypatch):
    """A registry filled before v8 (persons without a person_id) gets every person numbered."""
    from cloud_receiver.store import common, open_store
    full = dict(common.MIGRATIONS)
    monkeypatch.setattr(common, "MIGRATIONS", {d: [m for m in ms if m[0] < 8] for d, ms in full.items()})
    s = open_store(store_url, migrate=True)
    try:
        with s._write() as cur:
            for n, name in ((1, "甲"), (2, "乙")):
                s._x(cur, "INSERT INTO persons (id_type, id_number, name, first_seen, last_seen) "
                          "VALUES (?, ?, ?, ?, ?)",
                     ("01", id_number(n), name, float(n), float(n)))
        monkeypatch.setattr(common, "MIGRATIONS", full)
        assert s.migrate() == list(range(8, max(v for v, _, _ in full[s.dialect]) + 1))   # 8 and any later
        assert [s.person_by_id(i)["name"] for i in (1, 2)] == ["甲", "乙"]
        assert s.person_id("01", id_number(2)) == 2
    finally:
        s.close()


def test_migration_9_adds_outcomes_to_a_store_with_down_changes(store_url, monkeypatch):
    """A store from before v9 (down changes issued, a gateway's applied version recorded) gets
    the outcomes table; what was there stays, and outcomes are recorded from the next report."""
    from cloud_receiver import roster_down
    from cloud_receiver.store import common, open_store
    full = dict(common.MIGRATIONS)
    monkeypatch.setattr(common, "MIGRATIONS", {d: [m for m in ms if m[0] < 9] for d, ms in full.items()})
    s = open_store(store_url, migrate=True)
    try:
        roster_down.issue_project_status(s, "P-9", True, operator="city", reason=None, now=1.0)
        s.set_gateway_roster_down("GW-9", "P-9", 1, 2.0)
        monkeypatch.setattr(common, "MIGRATIONS", full)
        assert s.migrate() == list(range(9, max(v for v, _, _ in full[s.dialect]) + 1))   # 9 and any later
        assert s.migrate() == []
        assert [g["applied_version"] for g in s.gateway_roster_down("P-9")] == [1]
        assert s.record_roster_down_state("GW-9", "P-9", 1, [{"version": 1, "action": "project_stopped",
                                                               "status": "skipped", "detail": "x"}], 3.0) == []
        assert [(o["version"], o["status"]) for o in s.roster_down_outcomes("P-9", 1, 1)] == [(1, "skipped")]
    finally:
        s.close()
