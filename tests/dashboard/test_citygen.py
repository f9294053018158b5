"""The city generator (devtools.citygen) and the daily computation on both stores."""

from __future__ import annotations

import pytest

from cloud_receiver.dashboard import daily
from cloud_receiver.store import open_store
from cloud_receiver.supervision import service
from cloud_receiver.supervision.rules import DEFAULT_RULES
from cloud_receiver.supervision.warnings import evaluate_warnings
from devtools.citygen import CitySpec, generate
from devtools.citygen_store import ledger_rows, roster_rows, write_city
from shared_schema.chain import GENESIS_HASH, verify_run
from shared_schema.messages import LedgerEntry

TINY = dict(districts=3, projects=14, workers=16, first_date="2026-03-10", last_date="2026-03-24")
WIRE = ("type", "event_id", "gateway_id", "project_code", "gate_id", "seq", "prev_hash", "device_time", "monotonic_ns",
        "boot_id", "direction", "worker_ref", "kind", "match_score", "liveness_score", "liveness_cue", "snapshot_ref",
        "reject_reason", "manual_reason", "operator", "event_kind", "ref_seq")


def test_the_same_spec_makes_the_same_city_and_another_seed_another():
    spec = CitySpec(seed=3, **TINY)
    a, b = generate(spec), generate(spec)
    assert a.planted == b.planted
    for pa, pb in zip(a.projects, b.projects):
        assert ledger_rows(spec, pa) == ledger_rows(spec, pb)
        assert roster_rows(spec, pa) == roster_rows(spec, pb)
    other = generate(CitySpec(seed=4, **TINY))
    assert ledger_rows(spec, a.projects[5]) != ledger_rows(other.spec, other.projects[5])


def test_planting_needs_enough_days_and_projects():
    with pytest.raises(ValueError, match="14 days"):
        generate(CitySpec(seed=1, **{**TINY, "first_date": "2026-03-20"}))
    with pytest.raises(ValueError, match="8 projects"):
        generate(CitySpec(seed=1, **{**TINY, "projects": 6}))
    assert generate(CitySpec(seed=1, plant=False, **{**TINY, "projects": 6, "first_date": "2026-03-24"})).planted == []


def test_stored_chains_verify_and_ids_are_unique(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'r.db'}", migrate=True)
    city = generate(CitySpec(seed=5, **TINY))
    counts = write_city(store, city)
    assert counts["ledger"] == len(store.ledger())
    for gw in ("GW-P00002", "GW-P00009"):
        rows = store._read("SELECT * FROM ledger WHERE gateway_id = ? ORDER BY seq", (gw,))
        verify_run([LedgerEntry(**{k: r[k] for k in WIRE}) for r in rows], 0, GENESIS_HASH)
    ids = store._read("SELECT id_number, count(DISTINCT project_code) AS n FROM roster_changes GROUP BY id_number "
                      "HAVING count(DISTINCT project_code) > 1")
    shared = {r["id_number"] for r in ids}
    assert len(shared) == 2   # exactly the two planted cross-project people
    store.close()


def test_daily_figures_equal_the_per_project_api_on_both_stores(store_url):
    spec = CitySpec(seed=9, **TINY)
    store = open_store(store_url, migrate=True)
    city = generate(spec)
    write_city(store, city)
    for date in (spec.dates[3], spec.last_date):
        out = daily.compute_day(store, date, warnings=False)
        per = [service.attendance_day(store, p.code, date, DEFAULT_RULES)["totals"] for p in city.projects]
        totals = store.dash_totals(date)
        assert (totals["present"], totals["roster"]) == (sum(t["present"] for t in per), sum(t["roster"] for t in per))
        assert out["present"] == totals["present"]
    first = daily.compute_day(store, spec.last_date, warnings=False)
    again = daily.compute_day(store, spec.last_date, warnings=False)
    assert (first["present"], first["findings"]) == (again["present"], again["findings"])
    assert store.dash_dates()["days"] == 2
    store.close()


def test_dashboard_queries_on_both_stores(store_url):
    """Every aggregate query of store/dashboard.py runs on both dialects and agrees with the data."""
    spec = CitySpec(seed=9, **TINY)
    store = open_store(store_url, migrate=True)
    city = generate(spec)
    write_city(store, city)
    burst = next(p for p in city.planted if p.get("rule") == "punch_burst")
    for date in (burst["day"], spec.last_date):
        daily.compute_day(store, date, warnings=date == spec.last_date, now=spec.now())
    totals = store.dash_totals(spec.last_date)
    districts = store.dash_districts(spec.last_date)
    assert sum(d["present"] for d in districts) == totals["present"] and totals["projects"] == len(city.projects)
    total, rows = store.dash_projects(spec.last_date, sort="rate", desc=True, limit=5)
    assert total == len(city.projects) and len(rows) == 5
    rates = [r["rate"] for r in rows if r["rate"] is not None]
    assert rates == sorted(rates, reverse=True) and all(isinstance(r, float) for r in rates)
    scoped_total, _ = store.dash_projects(spec.last_date, ("district", [districts[0]["district"]]))
    assert scoped_total == districts[0]["projects"]
    series = store.dash_series(spec.first_date, spec.last_date)
    assert [s["date"] for s in series] == sorted({burst["day"], spec.last_date})
    n, found = store.dash_findings(burst["day"], burst["day"], rule="punch_burst")
    assert n == 1 and found[0]["gateway_id"] == burst["gateway_id"] and found[0]["evidence"]
    counts = store.dash_finding_counts(burst["day"], burst["day"])
    assert {"date": burst["day"], "rule": "punch_burst", "n": 1} in counts
    assert {w["rule"] for w in store.dash_warning_rows()} >= {"no_safety_officer", "gateway_silent"}
    w = city.projects[4].workers[6]
    assert all(e["worker_ref"] == w.ref for e in store.worker_entries(city.projects[4].code, w.ref, spec.first_date,
                                                                          spec.last_date))
    held = store.post_holder_punches([city.projects[4].code], spec.first_date, spec.last_date)
    posts = {x.ref for x in city.projects[4].workers if x.post}
    assert held and {r["worker_ref"] for r in held} <= posts
    store.close()


def test_bulk_reads_give_the_warnings_plain_evaluation_gives(store_url):
    """_BulkReads serves evaluate_warnings from bulk loads: the same warnings and evidence."""
    spec = CitySpec(seed=9, **TINY)
    store = open_store(store_url, migrate=True)
    write_city(store, generate(spec))
    plain = evaluate_warnings(store, spec.last_date, now=spec.now())
    before = {(w["rule"], w["subject"]): w["evidence"] for w in store.warnings(None, None, None, 1000, 0)}
    assert plain["opened"] == len(before) >= 3
    bulk = daily._BulkReads(store, store.list_projects(), store.all_rosters())
    bulk.PUNCH_CHUNK = 3   # several chunks
    again = evaluate_warnings(bulk, spec.last_date, now=spec.now() + 1)
    after = {(w["rule"], w["subject"]): w["evidence"] for w in store.warnings(None, None, None, 1000, 0)}
    assert again == {"opened": 0, "refreshed": len(before), "resolved": 0}
    assert after == before
    store.close()


def test_the_daily_hook_computes_today_at_most_every_interval(tmp_path):
    spec = CitySpec(seed=2, plant=False, **TINY)
    store = open_store(f"sqlite:///{tmp_path / 'r.db'}", migrate=True)
    write_city(store, generate(spec))
    hook = daily.DailyHook(store, interval_s=900.0)
    out = hook(now=spec.now())
    assert out["date"] == spec.last_date and out["projects"] == spec.projects and "warnings" not in out
    assert hook(now=spec.now() + 60) is None
    assert hook(now=spec.now() + 901)["date"] == spec.last_date
    assert store.dash_dates()["last"] == spec.last_date
    store.close()
