"""Every anomaly and warning citygen plants is found through the API (the live anomaly query and
the dashboard's stored findings); nothing else is; a clean generated city raises nothing."""

from __future__ import annotations

import datetime as dt

from devtools.citygen import CitySpec


def _chunks(spec: CitySpec, days: int = 31):
    d, last = dt.date.fromisoformat(spec.first_date), dt.date.fromisoformat(spec.last_date)
    while d <= last:
        e = min(last, d + dt.timedelta(days=days - 1))
        yield d.isoformat(), e.isoformat()
        d = e + dt.timedelta(days=1)


def _all_findings(server, spec) -> list[dict]:
    out = []
    for a, b in _chunks(spec):
        out += server.get(f"/api/v1/anomalies?from={a}&to={b}")["findings"]
    return out


def _explained(f: dict, planted: list[dict]) -> bool:
    for p in planted:
        rules = [p.get("rule"), *p.get("also", [])]
        if f["rule"] in rules and f["day"] == p["day"] and set(f["projects"]) <= set(p["projects"]):
            return True
    return False


def _matches(f: dict, p: dict) -> bool:
    if f["rule"] != p["rule"] or f["day"] != p["day"] or sorted(f["projects"]) != sorted(p["projects"]):
        return False
    if "worker_ref" in p and p["worker_ref"] not in (f.get("worker_ref"), *f.get("worker_refs", [])):
        return False
    if "gateway_id" in p and f.get("gateway_id") != p["gateway_id"]:
        return False
    if "reason" in p and f.get("reason") != p["reason"]:
        return False
    return "team_code" not in p or f.get("scope") == "project" or f.get("team_code") == p["team_code"]


def test_every_planted_anomaly_is_found_live_and_in_the_dashboard(city):
    server, c = city
    planted = [p for p in c.planted if "rule" in p]
    assert {p["rule"] for p in planted} == {"impossible_travel", "multi_project_day", "punch_burst",
                                            "off_roster_punch", "manual_share", "liveness_spike"}
    for p in planted:
        live = server.get(f"/api/v1/anomalies?date={p['day']}&project={p['projects'][0]}&rule={p['rule']}")
        assert any(_matches(f, p) for f in live["findings"]), (p, live["findings"])
        stored = server.get(f"/api/v1/dashboard/findings?from={p['day']}&to={p['day']}&project="
                            f"{p['projects'][-1]}&rule={p['rule']}")
        assert any(_matches(f, p) for f in stored["findings"]), (p, stored["findings"])
        assert all(f["evidence"] for f in stored["findings"])


def test_nothing_but_the_planted_anomalies_is_found(city):
    server, c = city
    planted = [p for p in c.planted if "rule" in p]
    findings = _all_findings(server, c.spec)
    assert findings
    unexplained = [f for f in findings if not _explained(f, planted)]
    assert unexplained == [], unexplained


def test_every_planted_warning_is_open_and_no_other(city):
    server, c = city
    expected = {(p["warning"], p.get("subject") or p.get("gateway_id") or p["project_code"])
                for p in c.planted if "warning" in p}
    assert {w for w, _ in expected} == {"no_safety_officer", "on_duty_below_norm", "gateway_silent"}
    live = server.get("/api/v1/warnings?state=open&limit=1000")["warnings"]
    assert {(w["rule"], w["subject"]) for w in live} == expected
    low = next(w for w in live if w["rule"] == "on_duty_below_norm")
    assert low["evidence"]["rate"] < low["evidence"]["norm"]
    overview = server.get("/api/v1/dashboard/overview")
    assert sum(overview["open_warnings"].values()) == len(expected)


def test_a_clean_city_raises_no_warning_and_no_anomaly(clean_city):
    """No false alarm on realistic clean data (shift changes, lunch breaks, rest days, rain,
    repeat punches, background liveness failures and manual punches, joins and exits, 停工)."""
    server, c = clean_city
    assert c.planted == []
    assert _all_findings(server, c.spec) == []
    assert server.get("/api/v1/warnings?limit=1000")["warnings"] == []
    stored = server.get(f"/api/v1/dashboard/findings?from={c.spec.first_date}&to={c.spec.last_date}")
    assert stored["total"] == 0
    overview = server.get("/api/v1/dashboard/overview")
    assert overview["totals"]["present"] > 0 and sum(overview["open_warnings"].values()) == 0
