"""Projects and their calendar: validation of project records and dated status periods, and
which days are stopped (停工). Pure functions; the SQL is in :mod:`cloud_receiver.store.projects`.

Status codes are the national table (``../shared/reference/national-interface.md``):
``001`` preparing, ``002`` approved, ``003`` under construction, ``004`` completed,
``005`` stopped (停工).

A project has a *registered* status (``projects.status``, default ``003``) and dated status
periods ``[from_date, to_date]`` (China-local dates, both ends included; ``to_date`` ``None`` =
open-ended). The status of a day is that of the period covering it, else the registered
status. Periods of one project never overlap, with one convenience: a new period starting
after the start of the project's single open-ended period closes that period the day before
(``005`` from 3-10 open, then ``003`` from 3-20 → the stop is 3-10..3-19). Anything else that
overlaps is refused (:class:`PeriodOverlap`).

A *stopped* day is a day whose status is ``005``: it is excluded from every rate (daily and
monthly attendance, key-post on-duty rates); punches on it are kept and shown.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from collections.abc import Iterable, Mapping

STATUS_CODES = {"001": "preparing", "002": "approved", "003": "under_construction", "004": "completed",
                "005": "stopped"}
UNDER_CONSTRUCTION, COMPLETED, STOPPED = "003", "004", "005"
CODE_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$", re.ASCII)
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$", re.ASCII)
MIN_DATE, MAX_DATE = "2000-01-01", "2099-12-31"
PROJECT_TEXT = {"name": 200, "district": 64, "address": 500, "general_contractor": 200, "supervisor": 200}


class PeriodOverlap(ValueError):
    """A status period overlapping another period of the same project."""


def _date(value, name: str) -> str:
    if not isinstance(value, str) or not DATE_RE.fullmatch(value):
        raise ValueError(f"{name} must be YYYY-MM-DD")
    try:
        _dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{name} is not a calendar date") from None
    if not MIN_DATE <= value <= MAX_DATE:
        raise ValueError(f"{name} must be between {MIN_DATE} and {MAX_DATE}")
    return value


def _text(body: Mapping, name: str, *, required: bool = False) -> str | None:
    v = body.get(name)
    if v is None or (isinstance(v, str) and not v.strip() and not required):
        if required:
            raise ValueError(f"{name} is required")
        return None
    if not isinstance(v, str) or not v.strip():
        raise ValueError(f"{name} must be a non-empty string")
    if len(v) > PROJECT_TEXT.get(name, 200):
        raise ValueError(f"{name} is longer than {PROJECT_TEXT.get(name, 200)} characters")
    return v.strip()


def _coord(body: Mapping, name: str, bound: float) -> float | None:
    v = body.get(name)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or abs(v) > bound:
        raise ValueError(f"{name} must be a number within ±{bound:g}")
    return float(v)


def validate_project(body) -> dict:
    """A JSON object → the project row to upsert; raises ValueError naming the field."""
    if not isinstance(body, Mapping):
        raise ValueError("body must be a JSON object")  # noqa: TRY004 - a 400, not a TypeError
    unknown = set(body) - {"project_code", "status", "lng", "lat", *PROJECT_TEXT}
    if unknown:
        raise ValueError(f"unknown field {min(unknown)}")
    code = body.get("project_code")
    if not isinstance(code, str) or not CODE_RE.fullmatch(code):
        raise ValueError("project_code must be 1-64 of A-Z a-z 0-9 _ . -")
    status = body.get("status", UNDER_CONSTRUCTION)
    if status not in STATUS_CODES:
        raise ValueError(f"status must be one of {', '.join(STATUS_CODES)}")
    row = {"project_code": code, "name": _text(body, "name", required=True)}
    for k in ("district", "address", "general_contractor", "supervisor"):
        row[k] = _text(body, k)
    row["lng"], row["lat"] = _coord(body, "lng", 180.0), _coord(body, "lat", 90.0)
    if (row["lng"] is None) != (row["lat"] is None):
        raise ValueError("lng and lat go together")
    row["status"] = status
    return row


def validate_period(body) -> dict:
    """A JSON object → a status period (status, from_date, to_date, reason, operator)."""
    if not isinstance(body, Mapping):
        raise ValueError("body must be a JSON object")  # noqa: TRY004 - a 400, not a TypeError
    unknown = set(body) - {"status", "from_date", "to_date", "reason", "operator"}
    if unknown:
        raise ValueError(f"unknown field {min(unknown)}")
    status = body.get("status")
    if status not in STATUS_CODES:
        raise ValueError(f"status must be one of {', '.join(STATUS_CODES)}")
    start = _date(body.get("from_date"), "from_date")
    end = None if body.get("to_date") is None else _date(body.get("to_date"), "to_date")
    if end is not None and end < start:
        raise ValueError("to_date is before from_date")
    operator = body.get("operator")
    if not isinstance(operator, str) or not operator.strip() or len(operator) > 64:
        raise ValueError("operator is required (1-64 characters)")
    reason = body.get("reason")
    if reason is not None and (not isinstance(reason, str) or len(reason) > 500):
        raise ValueError("reason must be a string of at most 500 characters")
    reason = reason.strip() if reason else None
    if status == STOPPED and not reason:
        raise ValueError("a stop (005) needs a reason")
    return {"status": status, "from_date": start, "to_date": end, "reason": reason, "operator": operator.strip()}


def _day_before(d: str) -> str:
    return (_dt.date.fromisoformat(d) - _dt.timedelta(days=1)).isoformat()


def plan_period(new: Mapping, existing: Iterable[Mapping]) -> int | None:
    """Check ``new`` against the project's stored periods. → the id of the open-ended period to
    close the day before ``new`` starts (see module doc), or ``None``; raises :class:`PeriodOverlap`."""
    close = None
    start, end = new["from_date"], new["to_date"] or "9999-12-31"
    for p in existing:
        p_end = p["to_date"] or "9999-12-31"
        if p["to_date"] is None and p["from_date"] < start:
            close = p["period_id"]  # becomes from_date..start-1, which ends before `new` starts
            continue
        if p["from_date"] <= end and start <= p_end:
            raise PeriodOverlap(f"overlaps the {p['status']} period {p['from_date']}..{p['to_date'] or ''} "
                                f"(id {p['period_id']})")
    return close


def status_on(date: str, base_status: str, periods: Iterable[Mapping]) -> str:
    for p in periods:
        if p["from_date"] <= date and (p["to_date"] is None or date <= p["to_date"]):
            return p["status"]
    return base_status


def stopped_dates(periods: Iterable[Mapping], first: str, last: str) -> set[str]:
    """The stopped (``005``) dates within ``first..last``."""
    out: set[str] = set()
    for p in periods:
        if p["status"] != STOPPED:
            continue
        a = max(p["from_date"], first)
        b = min(p["to_date"] or last, last)
        d = _dt.date.fromisoformat(a) if a <= b else None
        while d is not None and d.isoformat() <= b:
            out.add(d.isoformat())
            d += _dt.timedelta(days=1)
    return out


def project_stopped_dates(store, project_code: str, first: str, last: str) -> set[str]:
    """Stopped dates from the store; the registered status counts too (a project registered as
    ``005`` with no periods is stopped on every day no period covers)."""
    project = store.get_project(project_code)
    if project is None:
        return set()
    periods = project["periods"]
    if project["status"] != STOPPED:
        return stopped_dates(periods, first, last)
    days, d = set(), _dt.date.fromisoformat(first)
    while d.isoformat() <= last:
        if status_on(d.isoformat(), STOPPED, periods) == STOPPED:
            days.add(d.isoformat())
        d += _dt.timedelta(days=1)
    return days
