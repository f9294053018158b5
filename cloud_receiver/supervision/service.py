"""Store queries + pure computations → JSON-ready reports (what the API serves).

Ingest files every entry under its China-local ``device_date``; with the default rules
(UTC+8) the attendance day *is* that date. With another ``utc_offset_minutes`` the query
widens by a day on each side and :func:`~.attendance.punches_by_worker_day` re-files
each punch by the rules' time zone.

Stopped days (停工, :mod:`.calendar`) come from the project's status periods: they are
flagged and left out of every rate.
"""

from __future__ import annotations

import datetime as _dt

from .attendance import month_days, project_day, project_month, punches_by_worker_day
from .calendar import project_stopped_dates
from .onduty import on_duty
from .roster import current_roster
from .rules import CST_OFFSET_MINUTES, AttendanceRules


def _query_range(first: str, last: str, rules: AttendanceRules) -> tuple[str, str]:
    if rules.utc_offset_minutes == CST_OFFSET_MINUTES:
        return first, last
    one = _dt.timedelta(days=1)
    return ((_dt.date.fromisoformat(first) - one).isoformat(), (_dt.date.fromisoformat(last) + one).isoformat())


def _load(store, project_code: str, first: str, last: str, rules: AttendanceRules):
    roster = current_roster(store, project_code, rules)
    punches = store.attendance_punches(project_code, *_query_range(first, last, rules))
    return roster, punches_by_worker_day(punches, rules)


def local_today(rules: AttendanceRules) -> str:
    return _dt.datetime.now(rules.tz).date().isoformat()


def attendance_day(store, project_code: str, date: str, rules: AttendanceRules) -> dict:
    """Per worker rows + totals per project, company and team for one day (no ID numbers)."""
    roster, grouped = _load(store, project_code, date, date, rules)
    stopped = date in project_stopped_dates(store, project_code, date, date)
    day = project_day(date, roster, grouped, rules, stopped=stopped)
    return {"project_code": project_code, "rules": rules.as_dict(), **day,
            "workers": [w.as_dict() for w in day["workers"]]}


def attendance_month(store, project_code: str, month: str, rules: AttendanceRules) -> dict:
    """Monthly totals per worker, company, team and the daily series (no ID numbers)."""
    report, _ = month_with_roster(store, project_code, month, rules)
    return {"project_code": project_code, "rules": rules.as_dict(), **report}


def month_with_roster(store, project_code: str, month: str, rules: AttendanceRules):
    """(monthly report, roster by worker_ref) for the payroll export, which needs ID numbers."""
    days = month_days(month)
    roster, grouped = _load(store, project_code, days[0], days[-1], rules)
    stopped = project_stopped_dates(store, project_code, days[0], days[-1])
    return project_month(month, roster, grouped, rules, stopped), {m.worker_ref: m for m in roster}


def on_duty_month(store, project_code: str, month: str, rules: AttendanceRules, today: str | None = None) -> dict:
    """Key-post on-duty rates (到岗率) of the month up to ``today`` (China-local today by default)."""
    today = today or local_today(rules)
    days = month_days(month)
    roster, grouped = _load(store, project_code, days[0], days[-1], rules)
    stopped = project_stopped_dates(store, project_code, days[0], days[-1])
    return {"project_code": project_code, **on_duty(month, roster, grouped, rules, stopped, today)}
