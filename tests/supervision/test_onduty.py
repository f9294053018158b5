"""Key-post on-duty rate (到岗率), computed from the store (both dialects): working days are the
month's days up to today, not stopped, on the person's roster period; the post table."""

from __future__ import annotations

from cloud_receiver.supervision import service
from cloud_receiver.supervision.calendar import validate_period, validate_project
from cloud_receiver.supervision.posts import KEY_POST_KEYS, POST_TABLE_VERSION, key_post
from cloud_receiver.supervision.rules import AttendanceRules

RULES = AttendanceRules()
TODAY = "2026-03-10"


def _days(*nums) -> list[str]:
    return [f"2026-03-{n:02d}" for n in nums]


def fill(site):
    st = site.store
    st.upsert_project(validate_project({"project_code": site.project_code, "name": "一号地块"}), 0.0)
    st.add_status_period(site.project_code, validate_period(
        {"status": "005", "from_date": "2026-03-05", "to_date": "2026-03-06", "reason": "整改", "operator": "x"}), 0.0)
    site.enroll("PM1", role="manager", post="PM", team=None, entry_date="2026-03-01")
    site.enroll("SO1", role="manager", post="安全员", team=None, entry_date="2026-03-01",
                exit_date="2026-03-07", action="exit")
    site.enroll("TL1", role="manager", post=" 技术负责人 ", team=None, entry_date="2026-03-03")
    site.enroll("CS1", role="manager", post="cs", team=None, entry_date="2026-02-01")
    site.enroll("MAT", role="manager", post="材料员", team=None, entry_date="2026-03-01")   # not a key post
    site.enroll("W1", entry_date="2026-03-01")
    for d in _days(1, 2, 3, 4, 5, 7, 8, 10, 11):     # absent 9; 5 is stopped; 11 is after today
        site.workday("PM1", d)
    for d in _days(1, 2, 8, 9):                       # 8 and 9 are after the exit
        site.workday("SO1", d)
    for d in _days(3, 4, 7, 8, 9, 10):
        site.workday("TL1", d)
    site.workday("W1", "2026-03-02")
    site.flush()


def test_on_duty_rates(site):
    fill(site)
    rep = service.on_duty_month(site.store, site.project_code, "2026-03", RULES, TODAY)
    assert (rep["as_of"], rep["stopped_dates"], rep["post_table_version"]) == (TODAY, _days(5, 6), POST_TABLE_VERSION)
    people = {p["worker_ref"]: p for p in rep["people"]}
    assert set(people) == {"PM1", "SO1", "TL1", "CS1"}
    pm, so, tl, cs = people["PM1"], people["SO1"], people["TL1"], people["CS1"]
    # PM: 10 days to date - 2 stopped = 8 working; present 7 (the stopped 5th does not count), absent 9th
    assert (pm["working_days"], pm["present_days"], pm["rate"], pm["absent_dates"]) == (8, 7, 0.875, _days(9))
    assert pm["stopped_days_on_roster"] == 2 and pm["key_post"] == "project_manager"
    # SO exited on the 7th: on the roster 1..7, stopped 5, 6 → 5 working days, present 1, 2 (not 8, 9)
    assert (so["working_days"], so["present_days"], so["rate"]) == (5, 2, 0.4)
    assert so["absent_dates"] == _days(3, 4, 7)
    # TL entered on the 3rd: 3..10 less 5, 6 → 6 working days, all present
    assert (tl["working_days"], tl["present_days"], tl["rate"], tl["key_post"]) == (6, 6, 1.0, "technical_lead")
    assert (cs["working_days"], cs["present_days"], cs["rate"]) == (8, 0, 0.0)
    posts = {p["key_post"]: p for p in rep["posts"]}
    assert list(posts) == list(KEY_POST_KEYS)
    assert posts["quality_lead"] == {"key_post": "quality_lead", "code": "QL", "name": "质量负责人", "people": 0,
                                     "working_days": 0, "present_days": 0, "rate": None}
    assert (posts["safety_officer"]["rate"], posts["chief_supervisor"]["rate"]) == (0.4, 0.0)


def test_on_duty_whole_past_month_and_future_month(site):
    fill(site)
    past = service.on_duty_month(site.store, site.project_code, "2026-03", RULES, "2026-04-15")
    pm = {p["worker_ref"]: p for p in past["people"]}["PM1"]
    assert (past["as_of"], pm["working_days"], pm["present_days"]) == ("2026-03-31", 29, 8)
    future = service.on_duty_month(site.store, site.project_code, "2026-04", RULES, TODAY)
    assert future["as_of"] is None and future["people"] == [] and all(p["rate"] is None for p in future["posts"])


def test_on_duty_pools_several_people_of_one_post(site):
    """Pins: a post held by two people (e.g. two safety officers) is rated over both, not the last seen."""
    site.enroll("SO1", role="manager", post="SO", team=None, entry_date="2026-03-01")
    site.enroll("SO2", role="manager", post="专职安全员", team=None, entry_date="2026-03-01")
    for d in _days(1, 2, 3, 4):
        site.workday("SO1", d)
    site.flush()
    rep = service.on_duty_month(site.store, site.project_code, "2026-03", RULES, "2026-03-04")
    so = {p["key_post"]: p for p in rep["posts"]}["safety_officer"]
    assert (so["people"], so["working_days"], so["present_days"], so["rate"]) == (2, 8, 4, 0.5)


def test_post_table():
    assert [key_post(p) for p in ("PM", "pm", " 项目经理 ", "项目负责人", "TL", "项目技术负责人", "SO", "专职安全生产管理人员",
                                  "QL", "质量员", "CS", "总监")] == [
        "project_manager"] * 4 + ["technical_lead"] * 2 + ["safety_officer"] * 2 + ["quality_lead"] * 2 + [
        "chief_supervisor"] * 2
    assert key_post(None) is key_post("") is key_post("材料员") is key_post("worker") is None
