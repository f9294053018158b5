"""Attendance days from punch rows: pure functions, no store, no I/O.

A punch row is a mapping with at least ``worker_ref``, ``device_time`` (UTC wire text),
``direction``, ``kind``; optionally ``type`` (default ``"punch"``), ``passage``
(``"not_passed"`` when a gate event says nobody passed), ``manual_reason``,
``operator``, ``gateway_id``, ``seq``. The store's punch query returns exactly these.

Every function here is independent of the order of its input rows, and
:func:`dedupe` is idempotent (its output de-duplicated again is itself).
"""

from __future__ import annotations

import datetime as _dt
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Iterable, Mapping

from shared_schema.wire import parse_utc

from .roster import RosterEntry
from .rules import AttendanceRules

# Why a punch does not count (the key of ``WorkerDay.excluded``).
EXCLUDED_KINDS = ("rejected", "non_work", "not_passed", "manual_incomplete", "manual_not_counted", "unknown_kind")
# Why a day is not a present day (``WorkerDay.reasons``).
REASONS = ("no_punches", "too_few_punches", "no_in_punch", "no_out_punch", "span_too_short")


def _key(p: Mapping) -> tuple:
    """Total order on punches: time, then the ledger identity (stable across input orders)."""
    return (parse_utc(p["device_time"]), p.get("gateway_id") or "", p.get("seq") or 0, p.get("direction") or "")


def local_day(device_time: str, rules: AttendanceRules) -> str:
    return parse_utc(device_time).astimezone(rules.tz).date().isoformat()


def exclusion(p: Mapping, rules: AttendanceRules) -> str | None:
    """``None`` if the punch may count, else why not (one of :data:`EXCLUDED_KINDS`)."""
    if (p.get("type") or "punch") != "punch":
        return "rejected"
    if p.get("passage") == "not_passed":
        return "not_passed"
    kind = p.get("kind")
    if kind == "work":
        return None
    if kind == "non_work":
        return "non_work"
    if kind == "manual":
        if not (p.get("manual_reason") or "").strip() or not (p.get("operator") or "").strip():
            return "manual_incomplete"
        return None if rules.count_manual else "manual_not_counted"
    return "unknown_kind"


def dedupe(punches: Iterable[Mapping], window_s: float) -> tuple[list[Mapping], list[Mapping]]:
    """→ (counted, dropped). Per direction, a punch less than ``window_s`` after the last
    *counted* punch of that direction is dropped (a repeat); the earliest always counts."""
    counted: list[Mapping] = []
    dropped: list[Mapping] = []
    last: dict[str | None, _dt.datetime] = {}
    for p in sorted(punches, key=_key):
        t = parse_utc(p["device_time"])
        d = p.get("direction")
        prev = last.get(d)
        if prev is not None and (t - prev).total_seconds() < window_s:
            dropped.append(p)
        else:
            counted.append(p)
            last[d] = t
    return counted, dropped


@dataclass
class WorkerDay:
    worker_ref: str
    date: str
    present: bool
    first: str | None = None            # local time (ISO with offset) of the first counted punch
    last: str | None = None
    span_hours: float = 0.0
    punches: int = 0                    # counted, after de-duplication
    duplicates: int = 0
    manual: int = 0                     # counted manual (补卡) punches, reported apart
    excluded: dict[str, int] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)
    # from the roster (None when the person is not on it that day)
    on_roster: bool = False
    name: str | None = None
    company_code: str | None = None
    team_code: str | None = None
    role: str | None = None
    post: str | None = None

    @property
    def hours(self) -> float:
        """Hours credited for the day: the span when present, else 0."""
        return self.span_hours if self.present else 0.0

    def as_dict(self) -> dict:
        return asdict(self)


def worker_day(worker_ref: str, date: str, punches: Iterable[Mapping], rules: AttendanceRules) -> WorkerDay:
    """One worker's attendance day from their punch rows of that day (already filtered by day)."""
    excluded: dict[str, int] = defaultdict(int)
    eligible = []
    for p in punches:
        why = exclusion(p, rules)
        if why is None:
            eligible.append(p)
        else:
            excluded[why] += 1
    counted, dropped = dedupe(eligible, rules.dedupe_window_s)
    wd = WorkerDay(worker_ref, date, False, punches=len(counted), duplicates=len(dropped),
                   manual=sum(1 for p in counted if p.get("kind") == "manual"),
                   excluded={k: excluded[k] for k in EXCLUDED_KINDS if excluded.get(k)})
    if not counted:
        wd.reasons = ["no_punches"]
        return wd
    tz = rules.tz
    t0, t1 = parse_utc(counted[0]["device_time"]), parse_utc(counted[-1]["device_time"])
    wd.first, wd.last = t0.astimezone(tz).isoformat(), t1.astimezone(tz).isoformat()
    wd.span_hours = round((t1 - t0).total_seconds() / 3600.0, 4)
    reasons = []
    if len(counted) < rules.min_punches:
        reasons.append("too_few_punches")
    if rules.require_in_and_out:
        dirs = {p.get("direction") for p in counted}
        if "in" not in dirs:
            reasons.append("no_in_punch")
        if "out" not in dirs:
            reasons.append("no_out_punch")
    # a single punch has no span to speak of: its reason is too_few_punches (unless one is enough)
    if wd.span_hours < rules.min_span_hours and (len(counted) > 1 or rules.min_punches <= 1):
        reasons.append("span_too_short")
    wd.reasons = reasons
    wd.present = not reasons
    return wd


def punches_by_worker_day(punches: Iterable[Mapping], rules: AttendanceRules) -> dict[tuple[str, str], list]:
    """Group rows by (worker_ref, local attendance day); rows without a worker are skipped."""
    out: dict[tuple[str, str], list] = defaultdict(list)
    for p in punches:
        ref = p.get("worker_ref")
        if ref:
            out[(ref, local_day(p["device_time"], rules))].append(p)
    return out


def _rate(present: int, roster: int) -> float | None:
    return round(present / roster, 4) if roster else None


def _key_dict(k: tuple) -> dict:
    """(company_code,) or (company_code, team_code) → the named fields."""
    return dict(zip(("company_code", "team_code"), k))


def _group(rows: list[WorkerDay], key, rated: bool = True) -> list[dict]:
    groups: dict[tuple, dict] = {}
    for wd in rows:
        if not wd.on_roster:
            continue
        k = key(wd)
        g = groups.setdefault(k, {"roster": 0, "present": 0, "manual_punches": 0})
        g["roster"] += 1
        g["present"] += wd.present
        g["manual_punches"] += wd.manual
    out = []
    for k in sorted(groups, key=lambda t: tuple("" if v is None else v for v in t)):
        g = groups[k]
        out.append({**_key_dict(k), **g, "rate": _rate(g["present"], g["roster"]) if rated else None})
    return out


def project_day(date: str, roster: Iterable[RosterEntry], grouped: Mapping[tuple[str, str], list],
                rules: AttendanceRules, punching: Iterable[str] | None = None, stopped: bool = False) -> dict:
    """Per worker rows + totals for one project and day. ``grouped`` is
    :func:`punches_by_worker_day` of the project's punches (any days; only ``date`` is used).
    The rate counts roster members active that day; people who punched without being on the
    roster are listed (``on_roster`` false) and counted apart, never in the rate.
    On a ``stopped`` (停工) day every rate is ``None``; rows and counts are still computed and shown."""
    members = {m.worker_ref: m for m in roster if m.active_on(date)}
    if punching is None:  # who punched that day (project_month passes it, indexed once)
        punching = {ref for (ref, d) in grouped if d == date}
    refs = set(members) | set(punching)
    rows = []
    for ref in sorted(refs):
        wd = worker_day(ref, date, grouped.get((ref, date), ()), rules)
        m = members.get(ref)
        if m is not None:
            wd.on_roster = True
            wd.name, wd.company_code, wd.team_code, wd.role, wd.post = (
                m.name, m.company_code, m.team_code, m.role, m.post)
        rows.append(wd)
    on = [w for w in rows if w.on_roster]
    totals = {"roster": len(on), "present": sum(w.present for w in on),
              "manual_punches": sum(w.manual for w in rows),
              "off_roster_present": sum(1 for w in rows if w.present and not w.on_roster),
              "off_roster_punching": sum(1 for w in rows if not w.on_roster)}
    totals["rate"] = None if stopped else _rate(totals["present"], totals["roster"])
    return {"date": date, "stopped": stopped, "totals": totals,
            "companies": _group(rows, lambda w: (w.company_code,), not stopped),
            "teams": _group(rows, lambda w: (w.company_code, w.team_code), not stopped),
            "workers": rows}


def month_days(month: str) -> list[str]:
    """``"2026-03"`` → every ISO date of that month."""
    first = _dt.date.fromisoformat(month + "-01")
    nxt = (first.replace(day=28) + _dt.timedelta(days=4)).replace(day=1)
    return [(first + _dt.timedelta(days=i)).isoformat() for i in range((nxt - first).days)]


def project_month(month: str, roster: Iterable[RosterEntry], grouped: Mapping[tuple[str, str], list],
                  rules: AttendanceRules, stopped: Iterable[str] = ()) -> dict:
    """Monthly totals per worker (days present, hours, manual punches), per company and team,
    and the daily rate series, from the same per-day computation as :func:`project_day`.

    ``stopped`` dates (停工) are flagged in the series and left out of the month's ``rate``
    (``rated_roster_days`` / ``rated_present_days``); days present on them still count in the
    workers' days and hours (people who entered worked: payroll pays them) and are also shown
    apart (``stopped_days_present``)."""
    stopped = frozenset(stopped)
    roster = list(roster)
    by_ref = {m.worker_ref: m for m in roster}
    workers: dict[str, dict] = {}
    days = []
    punching: dict[str, set[str]] = defaultdict(set)
    for ref, d in grouped:
        punching[d].add(ref)
    for date in month_days(month):
        day = project_day(date, roster, grouped, rules, punching.get(date, ()), date in stopped)
        days.append({"date": date, "stopped": day["stopped"], **day["totals"]})
        for wd in day["workers"]:
            w = workers.get(wd.worker_ref)
            if w is None:
                m = by_ref.get(wd.worker_ref)
                w = workers[wd.worker_ref] = {
                    "worker_ref": wd.worker_ref, "on_roster": False,
                    **({k: getattr(m, k) for k in ("name", "company_code", "team_code", "role", "post",
                                                   "entry_date", "exit_date", "status")} if m else {}),
                    "roster_days": 0, "days_present": 0, "hours": 0.0, "manual_punches": 0, "manual_days": 0,
                    "stopped_days_present": 0, "off_roster_days_present": 0}
            if not wd.on_roster:  # before entry / after exit / unknown: an anomaly, never paid or rated
                w["off_roster_days_present"] += wd.present
                continue
            w["roster_days"] += 1
            w["days_present"] += wd.present
            w["hours"] = round(w["hours"] + wd.hours, 4)
            w["manual_punches"] += wd.manual
            w["manual_days"] += bool(wd.present and wd.manual)
            w["stopped_days_present"] += bool(wd.present and day["stopped"])
    rows = [workers[k] for k in sorted(workers)]
    for w in rows:
        w["on_roster"] = w["roster_days"] > 0   # on the roster on at least one day of the month

    def agg(key) -> list[dict]:
        acc: dict[tuple, dict] = {}
        for w in rows:
            if not w["on_roster"]:
                continue
            g = acc.setdefault(key(w), {"workers": 0, "days_present": 0, "hours": 0.0, "manual_punches": 0})
            g["workers"] += 1
            g["days_present"] += w["days_present"]
            g["hours"] = round(g["hours"] + w["hours"], 4)
            g["manual_punches"] += w["manual_punches"]
        return [{**_key_dict(k), **acc[k]} for k in sorted(acc, key=lambda t: tuple(v or "" for v in t))]

    roster_days = sum(d["roster"] for d in days)
    present_days = sum(d["present"] for d in days)
    rated = [d for d in days if not d["stopped"]]
    rated_roster, rated_present = sum(d["roster"] for d in rated), sum(d["present"] for d in rated)
    return {"month": month,
            "totals": {"roster_days": roster_days, "present_days": present_days,
                       "stopped_days": len(days) - len(rated),
                       "rated_roster_days": rated_roster, "rated_present_days": rated_present,
                       "rate": _rate(rated_present, rated_roster),
                       "hours": round(sum(w["hours"] for w in rows if w["on_roster"]), 4),
                       "manual_punches": sum(w["manual_punches"] for w in rows),
                       "off_roster_days_present": sum(w["off_roster_days_present"] for w in rows)},
            "companies": agg(lambda w: (w["company_code"],)),
            "teams": agg(lambda w: (w["company_code"], w["team_code"])),
            "days": days, "workers": rows}
