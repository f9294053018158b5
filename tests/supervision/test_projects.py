"""Projects and their calendar (both dialects): upsert, dated status periods (overlaps refused,
dates checked, an open-ended period closed by the next one), and stopped (停工) days left out
of every attendance rate while their punches are kept and shown."""

from __future__ import annotations

import pytest

from cloud_receiver.supervision import payroll, service
from cloud_receiver.supervision.calendar import (
    PeriodOverlap,
    status_on,
    validate_period,
    validate_project,
)
from cloud_receiver.supervision.rules import AttendanceRules

RULES = AttendanceRules()
NOW = 1_770_000_000.0


def project(code="P-100", **kw) -> dict:
    return validate_project({"project_code": code, "name": "佛山一号地块", "district": "禅城区",
                             "general_contractor": "中建X局", "supervisor": "某监理公司",
                             "lng": 113.12, "lat": 23.02, **kw})


def period(status, start, end=None, reason="资金问题", operator="住建局张三") -> dict:
    return validate_period({"status": status, "from_date": start, "to_date": end, "reason": reason,
                            "operator": operator})


def test_upsert_and_read_projects(store):
    assert store.upsert_project(project(), NOW) == "created"
    assert store.upsert_project(project(name="佛山一号地块(二期)", district=None), NOW + 1) == "updated"
    store.upsert_project(project("P-200", district="南海区"), NOW)
    p = store.get_project("P-100")
    assert (p["name"], p["district"], p["status"], p["lng"], p["periods"]) == ("佛山一号地块(二期)", None, "003",
                                                                               113.12, [])
    assert (p["created_at"], p["updated_at"]) == (NOW, NOW + 1)
    assert [x["project_code"] for x in store.list_projects()] == ["P-100", "P-200"]
    assert [x["project_code"] for x in store.list_projects("南海区")] == ["P-200"]
    assert store.get_project("P-404") is None


def test_status_periods_refuse_overlaps(store):
    store.upsert_project(project(), NOW)
    store.add_status_period("P-100", period("005", "2026-03-05", "2026-03-06"), NOW)
    for start, end in (("2026-03-06", "2026-03-08"), ("2026-03-01", "2026-03-05"), ("2026-03-01", "2026-03-31"),
                       ("2026-03-05", "2026-03-05"), ("2026-03-01", None)):
        with pytest.raises(PeriodOverlap):
            store.add_status_period("P-100", period("005", start, end), NOW)
    store.add_status_period("P-100", period("005", "2026-03-07", "2026-03-07"), NOW)   # touching: fine
    assert [(s["from_date"], s["to_date"]) for s in store.get_project("P-100")["periods"]] == [
        ("2026-03-05", "2026-03-06"), ("2026-03-07", "2026-03-07")]
    with pytest.raises(LookupError):
        store.add_status_period("P-404", period("005", "2026-03-05"), NOW)


def test_open_period_is_closed_by_the_next_one(store):
    """Pins: resuming work must not need a manual edit of the open stop. ``005`` from 3-20 (open),
    then ``003`` from 3-25 closes the stop on 3-24; a later period inside it is still refused,
    and a second open period starting the same day as the open one is an overlap."""
    store.upsert_project(project(), NOW)
    stop = store.add_status_period("P-100", period("005", "2026-03-20"), NOW)
    with pytest.raises(PeriodOverlap):
        store.add_status_period("P-100", period("003", "2026-03-20"), NOW)
    resumed = store.add_status_period("P-100", period("003", "2026-03-25", reason=None), NOW)
    assert resumed["closed"] == stop["period_id"]
    periods = store.get_project("P-100")["periods"]
    assert [(s["status"], s["from_date"], s["to_date"]) for s in periods] == [
        ("005", "2026-03-20", "2026-03-24"), ("003", "2026-03-25", None)]
    with pytest.raises(PeriodOverlap):
        store.add_status_period("P-100", period("005", "2026-03-22", "2026-03-23"), NOW)
    assert [status_on(d, "003", periods) for d in ("2026-03-19", "2026-03-20", "2026-03-24", "2026-03-25")] == [
        "003", "005", "005", "003"]


@pytest.mark.parametrize("body, message", [
    ({"status": "006", "from_date": "2026-03-01", "operator": "x"}, "status"),
    ({"status": "005", "from_date": "2026-02-30", "operator": "x", "reason": "r"}, "calendar date"),
    ({"status": "005", "from_date": "2026-3-1", "operator": "x", "reason": "r"}, "YYYY-MM-DD"),
    ({"status": "005", "from_date": "1999-12-31", "operator": "x", "reason": "r"}, "between"),
    ({"status": "005", "from_date": "2026-03-05", "to_date": "2026-03-04", "operator": "x", "reason": "r"},
     "before from_date"),
    ({"status": "005", "from_date": "2026-03-05", "operator": " ", "reason": "r"}, "operator"),
    ({"status": "005", "from_date": "2026-03-05", "operator": "x"}, "reason"),
    ({"status": "003", "from_date": "2026-03-05", "operator": "x", "color": "red"}, "unknown field"),
])
def test_period_validation(body, message):
    with pytest.raises(ValueError, match=message):
        validate_period(body)


def test_project_validation():
    for body, message in (({"project_code": "bad code", "name": "x"}, "project_code"),
                          ({"project_code": "P-1"}, "name"),
                          ({"project_code": "P-1", "name": "x", "lng": 200, "lat": 0}, "lng"),
                          ({"project_code": "P-1", "name": "x", "lng": 113.0}, "together"),
                          ({"project_code": "P-1", "name": "x", "status": "3"}, "status")):
        with pytest.raises(ValueError, match=message):
            validate_project(body)


def _stopped_site(site):
    site.store.upsert_project(project(site.project_code), NOW)
    site.store.add_status_period(site.project_code, period("005", "2026-03-05", "2026-03-05"), NOW)
    site.enroll("W1")
    site.enroll("W2", team="T2")
    site.workday("W1", "2026-03-02")
    site.workday("W1", "2026-03-05")     # worked on the stopped day: kept, shown, paid; not rated
    site.flush()


def test_stopped_day_is_flagged_and_has_no_rate(site):
    _stopped_site(site)
    day = service.attendance_day(site.store, site.project_code, "2026-03-05", RULES)
    assert day["stopped"] is True and day["totals"]["rate"] is None
    assert (day["totals"]["roster"], day["totals"]["present"]) == (2, 1)
    w1 = {w["worker_ref"]: w for w in day["workers"]}["W1"]
    assert w1["present"] and w1["punches"] == 2
    assert all(g["rate"] is None for g in day["companies"] + day["teams"])
    normal = service.attendance_day(site.store, site.project_code, "2026-03-02", RULES)
    assert normal["stopped"] is False and normal["totals"]["rate"] == 0.5


def test_stopped_days_left_out_of_the_monthly_rate(site):
    """Pins: the month's rate counted stopped days (roster and present) as ordinary days."""
    _stopped_site(site)
    rep = service.attendance_month(site.store, site.project_code, "2026-03", RULES)
    t = rep["totals"]
    assert (t["roster_days"], t["present_days"], t["stopped_days"]) == (62, 2, 1)
    assert (t["rated_roster_days"], t["rated_present_days"], t["rate"]) == (60, 1, round(1 / 60, 4))
    stopped = [d for d in rep["days"] if d["stopped"]]
    assert [(d["date"], d["present"], d["rate"]) for d in stopped] == [("2026-03-05", 1, None)]
    w1 = {w["worker_ref"]: w for w in rep["workers"]}["W1"]
    assert (w1["days_present"], w1["stopped_days_present"], w1["hours"]) == (2, 1, 18.0)
    rows, _ = payroll.payroll_rows(site.store, site.project_code, "2026-03", RULES)
    assert {r["workerRef"]: r["days"] for r in rows} == {"W1": 2, "W2": 0}
    assert len(site.store.punches(site.project_code, "2026-03-05", 100, 0)) == 2


def test_project_registered_as_stopped_is_stopped_where_no_period_says_otherwise(site):
    """Pins: a project registered with status 005 and no periods had no stopped days at all."""
    site.store.upsert_project(project(site.project_code, status="005"), NOW)
    site.store.add_status_period(site.project_code, period("003", "2026-03-10", "2026-03-31", reason=None), NOW)
    site.enroll("W1")
    site.flush()
    rep = service.attendance_month(site.store, site.project_code, "2026-03", RULES)
    assert [d["date"] for d in rep["days"] if d["stopped"]] == [f"2026-03-0{i}" for i in range(1, 10)]
