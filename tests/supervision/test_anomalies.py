"""Abnormal attendance (异常考勤): one planted case per rule is found with its evidence, an ordinary
day yields nothing, filters, the API (auth, 400s, no ID numbers), the rules as typed config, and
properties of the pure detectors (hypothesis). Store tests run on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cloud_receiver.supervision.anomalies import (
    DEFAULT_ANOMALY_RULES,
    AnomalyRules,
    detect_range,
    haversine_km,
    punch_bursts,
)
from cloud_receiver.supervision.calendar import validate_project
from shared_schema.typed_config import ConfigError, decode_config
from shared_schema.wire import format_utc

from .conftest import CST, Site, cst, id_number
from .test_api import AUTH, run_api

DAY = "2026-03-02"
# P-100 in Foshan, P-200 in Guangzhou: about 20 km apart
COORDS = {"P-100": (113.12, 23.02), "P-200": (113.26, 23.13)}


def project(store, code: str, coords=True) -> None:
    body = {"project_code": code, "name": f"项目{code}"}
    if coords:
        body["lng"], body["lat"] = COORDS[code]
    store.upsert_project(validate_project(body), 0.0)


def second_site(store, coords=True) -> Site:
    s = Site(store, "P-200", "GW-2")
    s.n = 500                                        # its own ID numbers: nobody is linked by accident
    project(store, "P-200", coords)
    return s


def found(store, first=DAY, last=None, **kw) -> list[dict]:
    return detect_range(store, first, last or first, **kw)["findings"]


def rules_found(store, **kw) -> list[tuple]:
    return sorted((f["rule"], f["project_code"], f.get("worker_ref"), f["day"]) for f in found(store, **kw))


def ordinary_day(site: Site, day: str = DAY, workers: int = 30, prefix: str = "W") -> None:
    """30 people: in at shift change, a lunch passage (non-work) spread over half an hour, out at
    shift change; one liveness retry; one manual punch with reason and operator."""
    for i in range(workers):
        ref = f"{prefix}{i:02d}"
        site.enroll(ref, team=f"T{i % 3}")
        site.gw.punch(ref, cst(day, "07:20") + dt.timedelta(seconds=25 * i), "in", snapshot_ref=f"snap-{ref}-in")
        site.gw.punch(ref, cst(day, "12:00") + dt.timedelta(seconds=60 * i), "out", kind="non_work")
        site.gw.punch(ref, cst(day, "12:40") + dt.timedelta(seconds=50 * i), "in", kind="non_work")
        if i == 7:
            site.gw.punch(ref, cst(day, "17:35"), "out", kind="manual", reason="设备故障补卡", operator="劳资员")
        else:
            site.gw.punch(ref, cst(day, "17:10") + dt.timedelta(seconds=30 * i), "out")
    site.gw.reject(f"{prefix}03", cst(day, "07:21"))
    site.gw.reject(None, cst(day, "10:05"), reason="not_enrolled")
    site.flush()


def test_ordinary_day_yields_nothing(site):
    """No false positives: two projects' ordinary days (in/out punches of 30 workers each, lunch
    passages, a retry, a manual punch), the next day too."""
    project(site.store, "P-100")
    ordinary_day(site)
    ordinary_day(site, "2026-03-03")
    other = second_site(site.store)
    ordinary_day(other, prefix="V")
    out = detect_range(site.store, DAY, "2026-03-03")
    assert out["findings"] == []
    assert out["skipped"] == {"projects_without_coordinates": []}


def test_impossible_travel_and_two_projects(site):
    st_ = site.store
    project(st_, "P-100")
    other = second_site(st_)
    number = site.enroll("W1")
    other.enroll("W1", id_number=number)
    site.gw.punch("W1", cst(DAY, "08:00"), "in", snapshot_ref="snap-a")
    other.gw.punch("W1", cst(DAY, "08:10"), "in", snapshot_ref="snap-b")   # ~19 km in 10 min
    site.flush()
    other.flush()
    km = haversine_km(*COORDS["P-100"], *COORDS["P-200"])
    assert 15 < km < 25
    (travel,) = found(st_, rule="impossible_travel")
    assert (travel["project_code"], travel["projects"], travel["worker_ref"], travel["day"]) == (
        "P-200", ["P-100", "P-200"], "W1", DAY)
    assert travel["speed_kmh"] > 60 and travel["distance_km"] == round(km, 3) and travel["minutes_between"] == 10
    a, b = travel["evidence"]
    assert (a["gateway_id"], a["seq"], a["gate_id"], a["snapshot_ref"], a["match_score"], a["liveness_score"]) == (
        "GW-1", 1, "gate-1", "snap-a", 0.93, 0.99)
    assert (b["gateway_id"], b["seq"], b["snapshot_ref"]) == ("GW-2", 1, "snap-b")
    assert b["device_time"] == format_utc(cst(DAY, "08:10"))
    (multi,) = found(st_, rule="multi_project_day")
    assert multi["projects"] == ["P-100", "P-200"] and multi["punches"] == {"P-100": 1, "P-200": 1}
    # both rules seen from either project
    assert {f["rule"] for f in found(st_, project="P-100")} == {"impossible_travel", "multi_project_day"}
    assert {f["rule"] for f in found(st_, project="P-200")} == {"impossible_travel", "multi_project_day"}


def test_enough_time_between_sites_is_no_travel_anomaly(site):
    project(site.store, "P-100")
    other = second_site(site.store)
    number = site.enroll("W1")
    other.enroll("W1", id_number=number)
    site.gw.punch("W1", cst(DAY, "08:00"), "in")
    other.gw.punch("W1", cst(DAY, "09:00"), "in")                           # ~19 km/h
    site.flush()
    other.flush()
    assert rules_found(site.store) == [("multi_project_day", "P-200", "W1", DAY)]


def test_project_without_coordinates_is_skipped_and_said(site):
    project(site.store, "P-100")
    other = second_site(site.store, coords=False)
    number = site.enroll("W1")
    other.enroll("W1", id_number=number)
    site.gw.punch("W1", cst(DAY, "08:00"), "in")
    other.gw.punch("W1", cst(DAY, "08:01"), "in")
    site.flush()
    other.flush()
    out = detect_range(site.store, DAY, DAY)
    assert [f["rule"] for f in out["findings"]] == ["multi_project_day"]
    assert out["skipped"] == {"projects_without_coordinates": ["P-200"]}


def test_person_linked_by_id_number_not_by_worker_ref(site):
    """Regression: two projects' worker_refs are their own; one person is one ID number (different
    refs, same person: found; same ref, different people: not)."""
    project(site.store, "P-100")
    other = second_site(site.store)
    number = site.enroll("W1")
    other.enroll("X9", id_number=number)            # the same person under another project's ref
    site.enroll("W2")
    other.enroll("W2")                              # the same ref, another person
    for s, ref in ((site, "W1"), (other, "X9"), (site, "W2"), (other, "W2")):
        s.workday(ref, DAY)
    site.flush()
    other.flush()
    (multi,) = found(site.store, rule="multi_project_day")
    assert multi["worker_refs"] == ["W1", "X9"]
    assert found(site.store, worker_ref="W2") == []
    # same hours at both sites: impossible travel too
    assert [f["rule"] for f in found(site.store, worker_ref="X9")] == ["impossible_travel", "multi_project_day"]


def burst(site, start: dt.datetime, n: int, spacing_s: float, gate_id: str = "gate-1") -> None:
    for i in range(n):
        ref = f"B{i:02d}"
        site.gw.punch(ref, start + dt.timedelta(seconds=spacing_s * i), "in", gate_id=gate_id,
                      snapshot_ref=f"snap-{ref}")


def test_burst_outside_shift_change_found(site):
    project(site.store, "P-100")
    for i in range(25):
        site.enroll(f"B{i:02d}")
    burst(site, cst(DAY, "10:00"), 25, 2.0)            # 25 punches in 48 s on one gate
    burst(site, cst(DAY, "07:45"), 25, 2.0)            # the same at shift change: normal
    burst(site, cst(DAY, "14:00"), 19, 1.0)            # below the count
    burst(site, cst(DAY, "15:00"), 25, 3.0)            # 20 punches need 57 s: just a burst
    burst(site, cst(DAY, "16:00"), 25, 3.2)            # 20 punches need 60.8 s: not one
    site.flush()
    bursts = found(site.store, rule="punch_burst")
    assert [(f["start"][11:19], f["punches"], f["workers"], f["gate_id"]) for f in bursts] == [
        ("10:00:00", 25, 25, "gate-1"), ("15:00:00", 25, 25, "gate-1")]
    b = bursts[0]
    assert b["gateway_id"] == "GW-1" and b["evidence_total"] == 25 and b["seconds"] == 48.0
    assert [e["snapshot_ref"] for e in b["evidence"]][:2] == ["snap-B00", "snap-B01"]
    assert found(site.store, rule="punch_burst", gateway_id="GW-9") == []


def test_burst_per_gate_not_per_gateway(site):
    """Regression: two gates of one gateway each busy but neither bursting are not one burst."""
    project(site.store, "P-100")
    for i in range(12):
        site.enroll(f"B{i:02d}")
    burst(site, cst(DAY, "10:00"), 12, 2.0, "gate-1")
    burst(site, cst(DAY, "10:00:01"), 12, 2.0, "gate-2")
    site.flush()
    assert found(site.store) == []


def test_off_roster_punches(site):
    project(site.store, "P-100")
    site.enroll("W1", entry_date="2026-02-01", exit_date="2026-03-01")     # exited the day before
    site.enroll("W2", entry_date="2026-02-01", exit_date=DAY)              # exits today: may punch out
    site.enroll("W3")
    site.workday("W1", DAY)
    site.workday("W2", DAY)
    site.workday("W3", DAY)
    site.gw.punch("GHOST", cst(DAY, "09:00"), "in", snapshot_ref="snap-ghost")
    site.flush()
    rows = sorted(found(site.store, rule="off_roster_punch"), key=lambda f: f["worker_ref"])
    assert [(f["worker_ref"], f["reason"], f["punches"]) for f in rows] == [("GHOST", "unknown", 1),
                                                                           ("W1", "exited", 2)]
    assert rows[1]["exit_date"] == "2026-03-01" and rows[0]["evidence"][0]["snapshot_ref"] == "snap-ghost"
    assert [f["worker_ref"] for f in found(site.store, worker_ref="GHOST")] == ["GHOST"]


def test_manual_share(site):
    project(site.store, "P-100")
    for i in range(10):
        site.enroll(f"W{i}", team="T1" if i < 5 else "T2")
        site.gw.punch(f"W{i}", cst(DAY, "07:30"), "in")
        if i in (0, 1, 2):                          # 3 of 20 project punches (15%); 3 of 10 of T1 (30%)
            site.gw.punch(f"W{i}", cst(DAY, "17:30"), "out", kind="manual", reason="忘记打卡", operator="劳资员")
        else:
            site.gw.punch(f"W{i}", cst(DAY, "17:30"), "out")
    site.flush()
    (f,) = found(site.store, rule="manual_share")
    assert (f["scope"], f["team_code"], f["punches"], f["manual_punches"], f["share"]) == ("team", "T1", 10, 3, 0.3)
    assert f["operators"] == ["劳资员"] and [e["manual_reason"] for e in f["evidence"]] == ["忘记打卡"] * 3
    site.gw.punch("W5", cst(DAY, "18:00"), "out", kind="manual", reason="忘记打卡", operator="劳资员")
    site.gw.punch("W6", cst(DAY, "18:00"), "out", kind="manual", reason="忘记打卡", operator="劳资员")
    site.flush()                                    # 5 of 22 ≈ 23% of the project's punches
    assert sorted((f["scope"], f.get("team_code")) for f in found(site.store, rule="manual_share")) == [
        ("project", None), ("team", "T1")]         # T2: 2 of 12 (17%)


def test_liveness_spike(site):
    project(site.store, "P-100")
    site.enroll("W1")
    for h in ("08", "09", "11", "13", "15"):        # an ordinary failure in most hours
        site.gw.reject("W1", cst(DAY, f"{h}:10"))
    for i in range(6):                              # 6 in one hour at gate-2
        site.gw.reject(None, cst(DAY, "10:05") + dt.timedelta(minutes=5 * i), gate_id="gate-2",
                       snapshot_ref=f"snap-r{i}")
    for i in range(4):                              # 4 in one hour: below the minimum
        site.gw.reject(None, cst(DAY, "14:05") + dt.timedelta(minutes=5 * i))
    for i in range(9):                              # not liveness
        site.gw.reject(None, cst(DAY, "16:05") + dt.timedelta(minutes=5 * i), reason="not_enrolled")
    site.flush()
    (f,) = found(site.store, rule="liveness_spike")
    assert (f["gate_id"], f["failures"], f["hour_start"][11:16], f["baseline_per_hour"]) == ("gate-2", 6, "10:00", 1.0)
    assert [e["snapshot_ref"] for e in f["evidence"]] == [f"snap-r{i}" for i in range(6)]
    assert {(e["reject_reason"], e["liveness_score"], e["liveness_cue"]) for e in f["evidence"]} == {
        ("liveness_failed", 0.2, "blink")}


def test_liveness_baseline_from_earlier_days(site):
    """A gate whose ordinary hour has 6 failures (baseline) is not a spike at 6, but is at 18."""
    project(site.store, "P-100")
    for d in ("2026-02-27", "2026-02-28", "2026-03-01"):
        for h in ("08", "09", "10"):
            for i in range(6):
                site.gw.reject(None, cst(d, f"{h}:0{i}"))
    for i in range(6):
        site.gw.reject(None, cst(DAY, f"09:0{i}"))
    for i in range(18):
        site.gw.reject(None, cst(DAY, "11:00") + dt.timedelta(seconds=90 * i))
    site.flush()
    (f,) = found(site.store, rule="liveness_spike")
    assert (f["failures"], f["baseline_per_hour"], f["hour_start"][11:16]) == (18, 6.0, "11:00")


def test_filters_and_range(site):
    project(site.store, "P-100")
    other = second_site(site.store)
    number = site.enroll("W1")
    other.enroll("W1", id_number=number)
    site.gw.punch("W1", cst(DAY, "08:00"), "in")
    other.gw.punch("W1", cst(DAY, "08:05"), "in")
    site.gw.punch("GHOST", cst("2026-03-03", "09:00"), "in")
    other.gw.punch("NOBODY", cst("2026-03-03", "09:00"), "in")
    site.flush()
    other.flush()
    assert rules_found(site.store, first=DAY, last="2026-03-03") == [
        ("impossible_travel", "P-200", "W1", DAY), ("multi_project_day", "P-200", "W1", DAY),
        ("off_roster_punch", "P-100", "GHOST", "2026-03-03"), ("off_roster_punch", "P-200", "NOBODY", "2026-03-03")]
    assert rules_found(site.store, first="2026-03-03") == [("off_roster_punch", "P-100", "GHOST", "2026-03-03"),
                                                          ("off_roster_punch", "P-200", "NOBODY", "2026-03-03")]
    assert [f["worker_ref"] for f in found(site.store, last="2026-03-03", project="P-100",
                                           rule="off_roster_punch")] == ["GHOST"]
    assert [f["worker_ref"] for f in found(site.store, last="2026-03-03", gateway_id="GW-2",
                                           rule="off_roster_punch")] == ["NOBODY"]
    assert {f["rule"] for f in found(site.store, last="2026-03-03", gateway_id="GW-1")} == {
        "impossible_travel", "multi_project_day", "off_roster_punch"}
    assert found(site.store, last="2026-03-03", worker_ref="W9") == []
    assert found(site.store, first="2026-03-04") == []


# ---- API ----------------------------------------------------------------------------------------

def test_api_auth_and_bad_parameters(store):
    bad = ["", "?date=2026-3-2", "?date=2026-02-30", "?date=2026-03-02&from=2026-03-01&to=2026-03-02",
           "?from=2026-03-02", "?from=2026-03-05&to=2026-03-01", "?from=2026-03-01&to=2026-04-01",
           "?date=2026-03-02&rule=nope", "?date=2026-03-02&project=bad%20code", "?date=2026-03-02&worker_ref=a/b",
           "?date=2026-03-02&gateway_id=%00", "?date=2026-03-02&limit=5"]

    async def scenario(c):
        for headers in ({}, {"Authorization": "Bearer wrong-token-000000"}):
            assert (await c.get("/api/v1/anomalies?date=2026-03-02", headers=headers)).status == 401
        for q in bad:
            r = await c.get("/api/v1/anomalies" + q, headers=AUTH)
            assert r.status == 400, q
            assert "error" in await r.json()
        r = await c.get("/api/v1/anomalies?from=2026-03-01&to=2026-03-31", headers=AUTH)
        assert r.status == 200 and (await r.json())["findings"] == []
    run_api(store, scenario)


def test_api_findings_with_evidence_and_no_id_numbers(site):
    project(site.store, "P-100")
    other = second_site(site.store)
    number = site.enroll("W1")
    other.enroll("W1", id_number=number)
    site.gw.punch("W1", cst(DAY, "08:00"), "in", snapshot_ref="snap-a")
    other.gw.punch("W1", cst(DAY, "08:05"), "in", snapshot_ref="snap-b")
    site.flush()
    other.flush()

    async def scenario(c):
        r = await c.get(f"/api/v1/anomalies?date={DAY}&project=P-100&rule=impossible_travel", headers=AUTH)
        assert r.status == 200
        text = await r.text()
        assert number not in text and "id_number" not in text
        body = json.loads(text)
        assert (body["from"], body["to"], body["counts"]["impossible_travel"]) == (DAY, DAY, 1)
        (f,) = body["findings"]
        assert [(e["gateway_id"], e["seq"], e["gate_id"], e["snapshot_ref"], e["match_score"], e["liveness_score"])
                for e in f["evidence"]] == [("GW-1", 1, "gate-1", "snap-a", 0.93, 0.99),
                                            ("GW-2", 1, "gate-1", "snap-b", 0.93, 0.99)]
        assert body["rules"]["max_speed_kmh"] == 60.0
        r = await c.get(f"/api/v1/anomalies?from={DAY}&to={DAY}&worker_ref=W1", headers=AUTH)
        assert (await r.json())["counts"] == {"impossible_travel": 1, "multi_project_day": 1, "punch_burst": 0,
                                              "off_roster_punch": 0, "manual_share": 0, "liveness_spike": 0}
    run_api(site.store, scenario)


def test_api_uses_configured_rules(site):
    from cloud_receiver.api import make_app
    from cloud_receiver.api_anomalies import ANOMALY_RULES_KEY, configure
    app = make_app(site.store, {"test-token-0123456789"})
    configure(app, AnomalyRules(max_range_days=3))
    assert app[ANOMALY_RULES_KEY].max_range_days == 3


# ---- rules as configuration, pure properties ---------------------------------------------------

def test_rules_decode_and_validate():
    r = decode_config(AnomalyRules, {"max_speed_kmh": 80, "shift_change_windows": ["06:00-09:00"]}, "receiver.anomalies")
    assert r.max_speed_kmh == 80.0 and r.shift_windows() == [(360, 540)]
    assert DEFAULT_ANOMALY_RULES.shift_windows() == [(390, 510), (1020, 1140)]
    for table in ({"max_speed_kmh": 0}, {"bogus": 1}, {"liveness_reason_prefix": "Liveness!"}):
        with pytest.raises(ConfigError):
            decode_config(AnomalyRules, table, "receiver.anomalies")
    for w in ("9:00-10:00", "10:00-09:00", "24:00-24:30"):
        with pytest.raises(ValueError):
            AnomalyRules(shift_change_windows=(w,))


def _row(seq: int, t: dt.datetime, gate: str) -> dict:
    return {"type": "punch", "gateway_id": "GW-1", "seq": seq, "project_code": "P-100", "gate_id": gate,
            "device_time": format_utc(t), "direction": "in", "worker_ref": f"W{seq}", "kind": "work"}


@settings(max_examples=60, deadline=None)
@given(offsets=st.lists(st.integers(min_value=0, max_value=1800), min_size=0, max_size=80),
       gates=st.lists(st.sampled_from(["g1", "g2"]), min_size=80, max_size=80), seed=st.integers(0, 2**16))
def test_bursts_order_independent_and_exact(offsets, gates, seed):
    """Bursts do not depend on row order; a burst exists iff some 20 punches of one gate lie within
    60 s (outside shift change); every burst holds at least 20 punches."""
    start = dt.datetime(2026, 3, 2, 10, 0, tzinfo=CST)
    rows = [_row(i + 1, start + dt.timedelta(seconds=o), gates[i]) for i, o in enumerate(offsets)]
    shuffled = rows[:]
    random.Random(seed).shuffle(shuffled)
    a, b = punch_bursts(rows, DEFAULT_ANOMALY_RULES, CST), punch_bursts(shuffled, DEFAULT_ANOMALY_RULES, CST)
    assert a == b
    expected = False
    for g in ("g1", "g2"):
        ts = sorted(o for o, gg in zip(offsets, gates) if gg == g)
        expected |= any(ts[i + 19] - ts[i] <= 60 for i in range(len(ts) - 19))
    assert bool(a) == expected
    assert all(f["punches"] >= 20 for f in a)
    assert sum(f["punches"] for f in a) <= len(rows)


@settings(max_examples=60, deadline=None)
@given(lng1=st.floats(73, 135), lat1=st.floats(18, 53), lng2=st.floats(73, 135), lat2=st.floats(18, 53))
def test_haversine_symmetric_and_bounded(lng1, lat1, lng2, lat2):
    d = haversine_km(lng1, lat1, lng2, lat2)
    assert d == pytest.approx(haversine_km(lng2, lat2, lng1, lat1), abs=1e-9)
    assert 0 <= d <= 3.1416 * 6371.01


def test_id_number_helper_is_distinct_per_site():
    assert id_number(1) != id_number(501)
