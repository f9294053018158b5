"""Attendance days, rates and the roster, computed from the store (both dialects), with data
that went through the real ingest path (signed batches → ``Ingestor.handle``)."""

from __future__ import annotations

from cloud_receiver.supervision import service
from cloud_receiver.supervision.roster import current_roster
from cloud_receiver.supervision.rules import AttendanceRules

from .conftest import cst

RULES = AttendanceRules()
DAY = "2026-03-02"


def _by_ref(report: dict) -> dict:
    return {w["worker_ref"]: w for w in report["workers"]}


def test_one_day_rules_end_to_end(site):
    for ref in ("W1", "W2", "W3", "W4", "W5"):
        site.enroll(ref, team="T1", company="C1")
    for ref in ("W6", "W7", "W8"):
        site.enroll(ref, team="T2", company="C2")
    gw = site.gw
    site.workday("W1", DAY, "08:00", "17:30")                      # present: in + out, 9.5 h
    gw.punch("W2", cst(DAY, "08:00"), "in")                        # one punch: absent
    site.workday("W3", DAY, "08:00", "11:00")                      # 3 h: span too short
    gw.punch("W4", cst(DAY, "08:00"), "in")                        # repeats within 5 min count once
    gw.punch("W4", cst(DAY, "08:01"), "in")
    gw.punch("W4", cst(DAY, "08:04:59"), "in")
    gw.punch("W4", cst(DAY, "17:00"), "out")
    gw.punch("W4", cst(DAY, "17:02"), "out")
    gw.punch("W5", cst(DAY, "08:00"), "in")                        # the out is a non-work passage
    gw.punch("W5", cst(DAY, "17:00"), "out", kind="non_work")
    gw.punch("W6", cst(DAY, "08:00"), "in")                        # the out was rejected
    gw.reject("W6", cst(DAY, "17:00"), "out")
    gw.punch("W7", cst(DAY, "08:00"), "in")                        # the out punch: nobody passed
    out = gw.punch("W7", cst(DAY, "17:00"), "out")
    gw.add_event("not_passed", ref_seq=out.seq, direction="out")
    gw.punch("W8", cst(DAY, "08:00"), "in", kind="manual", reason="人脸设备故障", operator="劳资员李四")
    gw.punch("W8", cst(DAY, "17:00"), "out")                       # manual in (补卡) + out: present
    site.flush()

    rep = service.attendance_day(site.store, site.project_code, DAY, RULES)
    w = _by_ref(rep)
    assert {r for r, x in w.items() if x["present"]} == {"W1", "W4", "W8"}
    assert w["W1"]["span_hours"] == 9.5 and w["W1"]["first"] == "2026-03-02T08:00:00+08:00"
    assert w["W1"]["last"] == "2026-03-02T17:30:00+08:00" and w["W1"]["reasons"] == []
    assert w["W2"]["reasons"] == ["too_few_punches", "no_out_punch"] and w["W2"]["punches"] == 1
    assert w["W3"]["reasons"] == ["span_too_short"] and w["W3"]["span_hours"] == 3.0
    assert (w["W4"]["punches"], w["W4"]["duplicates"], w["W4"]["span_hours"]) == (2, 3, 9.0)
    assert w["W5"]["excluded"] == {"non_work": 1} and not w["W5"]["present"]
    assert w["W6"]["punches"] == 1 and not w["W6"]["present"]     # rejected attempts are not even read
    assert w["W7"]["excluded"] == {"not_passed": 1} and w["W7"]["reasons"] == ["too_few_punches", "no_out_punch"]
    assert (w["W8"]["manual"], w["W8"]["punches"]) == (1, 2)
    assert all(x["on_roster"] for x in w.values())
    assert rep["totals"] == {"roster": 8, "present": 3, "rate": 0.375, "manual_punches": 1,
                             "off_roster_present": 0, "off_roster_punching": 0}
    assert rep["companies"] == [
        {"company_code": "C1", "roster": 5, "present": 2, "manual_punches": 0, "rate": 0.4},
        {"company_code": "C2", "roster": 3, "present": 1, "manual_punches": 1, "rate": 0.3333}]
    assert [(t["team_code"], t["present"], t["roster"]) for t in rep["teams"]] == [("T1", 2, 5), ("T2", 1, 3)]
    assert "id_number" not in str(rep)


def test_roster_latest_change_wins_and_exit_leaves_the_roster(site):
    site.enroll("W1", team="T1", entry_date="2026-03-01", changed_at=cst("2026-03-01", "09:00"))
    site.roster("W1", action="update", team_code="T2", entry_date="2026-03-01",
                changed_at=cst("2026-03-01", "10:00"))
    site.enroll("W2", entry_date="2026-03-01", changed_at=cst("2026-03-01", "09:00"))
    site.roster("W2", action="exit", entry_date="2026-03-01", exit_date="2026-03-02",
                changed_at=cst("2026-03-02", "18:00"))
    site.roster("W3", action="exit", entry_date="2026-03-01", exit_date=None,   # exit with no date: its day
                changed_at=cst("2026-03-02", "20:00"))
    roster = {m.worker_ref: m for m in current_roster(site.store, site.project_code)}
    assert roster["W1"].team_code == "T2" and roster["W1"].status == "active"
    assert (roster["W2"].status, roster["W2"].exit_date) == ("exited", "2026-03-02")
    assert (roster["W3"].status, roster["W3"].exit_date) == ("exited", "2026-03-02")
    for day in ("2026-03-02", "2026-03-03"):
        site.workday("W2", day)
    site.flush()
    on_exit_day = _by_ref(service.attendance_day(site.store, site.project_code, "2026-03-02", RULES))
    after = service.attendance_day(site.store, site.project_code, "2026-03-03", RULES)
    assert on_exit_day["W2"]["on_roster"] and on_exit_day["W2"]["present"]
    assert after["totals"]["roster"] == 1 and after["totals"]["off_roster_present"] == 1
    assert _by_ref(after)["W2"]["on_roster"] is False
    before_entry = service.attendance_day(site.store, site.project_code, "2026-02-28", RULES)
    assert before_entry["totals"]["roster"] == 0


def test_older_roster_change_arriving_late_does_not_win(site):
    """Pins: the roster must take the latest change by ``changed_at``, not by arrival. A gateway
    draining a backlog can deliver an old enrollment after the exit that followed it."""
    site.enroll("W1", team="T1", entry_date="2026-03-01", exit_date="2026-03-05",
                changed_at=cst("2026-03-05", "18:00"), action="exit")
    site.enroll("W1", team="T1", entry_date="2026-03-01", changed_at=cst("2026-03-01", "08:00"))
    (m,) = current_roster(site.store, site.project_code)
    assert (m.status, m.last_action, m.exit_date) == ("exited", "exit", "2026-03-05")


def test_attendance_day_is_china_local_not_utc(site):
    """Pins: the attendance day is the China-local (UTC+8) date. 23:30 UTC on 2 March is 07:30 on
    3 March in China: that in punch and a 17:00 out punch make one present day, 3 March."""
    site.enroll("W1")
    site.gw.punch("W1", cst("2026-03-03", "07:30"), "in")      # 2026-03-02T23:30Z
    site.gw.punch("W1", cst("2026-03-03", "17:00"), "out")     # 2026-03-03T09:00Z
    site.gw.punch("W2", cst("2026-03-02", "23:59:59"), "in")   # 15:59:59Z: still 2 March in China
    site.flush()
    assert site.gw.entries[0].device_time.startswith("2026-03-02T23:30")
    mar2 = _by_ref(service.attendance_day(site.store, site.project_code, "2026-03-02", RULES))
    mar3 = _by_ref(service.attendance_day(site.store, site.project_code, "2026-03-03", RULES))
    assert mar2["W1"]["reasons"] == ["no_punches"] and "W2" in mar2
    assert mar3["W1"]["present"] and mar3["W1"]["span_hours"] == 9.5 and "W2" not in mar3
    # Under a UTC day (another rules time zone) the same punches split across two days.
    utc = AttendanceRules(utc_offset_minutes=0)
    u2 = _by_ref(service.attendance_day(site.store, site.project_code, "2026-03-02", utc))
    u3 = _by_ref(service.attendance_day(site.store, site.project_code, "2026-03-03", utc))
    assert u2["W1"]["punches"] == 1 and u3["W1"]["punches"] == 1
    assert not u2["W1"]["present"] and not u3["W1"]["present"]


def test_monthly_totals(site):
    site.enroll("W1", team="T1")
    site.enroll("W2", team="T2", company="C2")
    site.workday("W1", "2026-03-02", "08:00", "17:00")
    site.workday("W1", "2026-03-03", "08:00", "12:30")
    site.gw.punch("W1", cst("2026-03-04", "08:00"), "in", kind="manual", reason="设备离线", operator="劳资员")
    site.gw.punch("W1", cst("2026-03-04", "18:00"), "out")
    site.gw.punch("W2", cst("2026-03-02", "08:00"), "in")
    site.workday("W1", "2026-04-01")                            # next month: not counted
    site.flush()
    rep = service.attendance_month(site.store, site.project_code, "2026-03", RULES)
    w = _by_ref(rep)
    assert (w["W1"]["days_present"], w["W1"]["hours"], w["W1"]["manual_punches"], w["W1"]["manual_days"]) == (
        3, 23.5, 1, 1)
    assert (w["W2"]["days_present"], w["W2"]["hours"]) == (0, 0.0)
    assert len(rep["days"]) == 31 and rep["days"][0]["date"] == "2026-03-01"
    assert rep["days"][1] == {"date": "2026-03-02", "stopped": False, "roster": 2, "present": 1, "rate": 0.5, "manual_punches": 0,
                              "off_roster_present": 0, "off_roster_punching": 0}
    assert rep["totals"]["present_days"] == 3 and rep["totals"]["roster_days"] == 62
    assert [(c["company_code"], c["days_present"], c["hours"]) for c in rep["companies"]] == [
        ("C1", 3, 23.5), ("C2", 0, 0.0)]


def test_monthly_counts_only_days_on_the_roster(site):
    """Pins: an exited worker who kept punching after the exit date was counted in the month's
    days, hours and team totals (and so in the payroll export). Off-roster days are reported
    apart (``off_roster_days_present``) and never paid or rated."""
    site.enroll("W1", team="T1", entry_date="2026-03-01", exit_date="2026-03-02", action="exit")
    site.enroll("W2", team="T1")
    for day in ("2026-03-02", "2026-03-03", "2026-03-04"):
        site.workday("W1", day)
    site.flush()
    rep = service.attendance_month(site.store, site.project_code, "2026-03", RULES)
    w1 = _by_ref(rep)["W1"]
    assert (w1["roster_days"], w1["days_present"], w1["hours"], w1["off_roster_days_present"]) == (2, 1, 9.0, 2)
    assert rep["teams"] == [{"company_code": "C1", "team_code": "T1", "workers": 2, "days_present": 1,
                             "hours": 9.0, "manual_punches": 0}]
    assert rep["totals"]["off_roster_days_present"] == 2 and rep["totals"]["hours"] == 9.0
