"""The daily computation behind the dashboard: attendance days, rates, warnings and abnormal
attendance for every project of the city for one China-local date, stored as per-project
figures (``dash_project_days``) and findings (``dash_findings``) that the dashboard's SQL
aggregates (:mod:`cloud_receiver.store.dashboard`).

Nothing is computed twice or differently: attendance days are
:func:`~cloud_receiver.supervision.attendance.project_day` (the same rules as
``/api/v1/projects/{code}/attendance``), findings are
:func:`~cloud_receiver.supervision.anomalies.detect_range`, warnings are
:func:`~cloud_receiver.supervision.warnings.evaluate_warnings`. What is new is the loading:
one query for the day's punches of the whole city and one for every roster, instead of two
per project; warnings read through :class:`_BulkReads` (the same data, loaded in bulk).

``on_site``: people (on the roster or not) with at least one counted punch that day.
"""

from __future__ import annotations

import bisect
import gc
import hashlib
import json
import logging
import time
from collections import defaultdict

from ..supervision.anomalies import DEFAULT_ANOMALY_RULES, AnomalyRules, detect_range
from ..supervision.attendance import project_day
from ..supervision.calendar import STOPPED, status_on
from ..supervision.hooks import IntervalHook
from ..supervision.roster import RosterEntry
from ..supervision.rules import CST_OFFSET_MINUTES, DEFAULT_RULES, AttendanceRules
from ..supervision.warnings import DEFAULT_WARNING_RULES, WarningRules, evaluate_warnings

log = logging.getLogger(__name__)


class _BulkReads:
    """The store as :func:`evaluate_warnings` sees it, its per-project reads (projects, rosters,
    a month's punches) served from bulk loads: one roster query for the city, one punch query
    per :data:`PUNCH_CHUNK` projects, and of key-post holders only (the only people on-duty
    rates read). Everything else goes to the store."""

    PUNCH_CHUNK = 200

    def __init__(self, store, projects: list[dict], roster_rows: list[dict]):
        self._store, self._list = store, projects
        self._projects = {p["project_code"]: p for p in projects}
        self._codes = sorted(self._projects)
        self._rosters: dict[str, list[dict]] = defaultdict(list)
        for r in sorted(roster_rows, key=lambda r: r["worker_ref"]):
            self._rosters[r["project_code"]].append(r)
        self._punches: dict[tuple, tuple[set, dict]] = {}

    def __getattr__(self, name):
        return getattr(self._store, name)

    def list_projects(self, district=None):
        return self._list if district is None else self._store.list_projects(district)

    def get_project(self, code):
        return self._projects.get(code) or self._store.get_project(code)

    def roster(self, code):
        return self._rosters.get(code, [])

    def attendance_punches(self, code, first, last):
        if code not in self._projects:
            return self._store.attendance_punches(code, first, last)
        held = self._punches.get((first, last))
        if held is None or code not in held[0]:
            i = bisect.bisect_left(self._codes, code)
            chunk = self._codes[i:i + self.PUNCH_CHUNK]
            grouped: dict[str, list] = defaultdict(list)
            for r in self._store.post_holder_punches(chunk, first, last):
                grouped[r["project_code"]].append(r)
            held = self._punches[(first, last)] = (set(chunk), grouped)
        return held[1].get(code, [])


def _by_worker_day(punches) -> dict[tuple[str, str], list]:
    """:func:`punches_by_worker_day` for CST rules: ingest files every entry under its CST date."""
    out: dict[tuple[str, str], list] = defaultdict(list)
    for p in punches:
        out[(p["worker_ref"], p["device_date"])].append(p)
    return out


def attendance_figures(store, date: str, rules: AttendanceRules = DEFAULT_RULES, projects=None,
                       roster_rows=None) -> list[dict]:
    """Per project: roster, present, on site, manual punches, off-roster people for ``date``."""
    if rules.utc_offset_minutes != CST_OFFSET_MINUTES:
        raise ValueError("the dashboard's daily figures need the CST attendance day (ingest files by CST date)")
    projects = store.list_projects() if projects is None else projects
    rosters: dict[str, list[RosterEntry]] = defaultdict(list)
    for r in store.all_rosters() if roster_rows is None else roster_rows:
        rosters[r["project_code"]].append(RosterEntry.from_row(r, rules))
    punches: dict[str, list] = defaultdict(list)
    for p in store.day_punches(date):
        punches[p["project_code"]].append(p)
    now, out = time.time(), []
    for p in projects:
        code = p["project_code"]
        status = status_on(date, p["status"], p["periods"])
        stopped = status == STOPPED
        day = project_day(date, rosters.get(code, ()), _by_worker_day(punches.get(code, ())), rules,
                          stopped=stopped)
        t = day["totals"]
        out.append({"date": date, "project_code": code, "district": p["district"], "status": status,
                    "stopped": stopped, "roster": t["roster"], "present": t["present"],
                    "on_site": sum(1 for w in day["workers"] if w.punches), "manual_punches": t["manual_punches"],
                    "off_roster": t["off_roster_punching"], "computed_at": now})
    return out


def finding_rows(date: str, findings: list[dict], district: dict) -> list[dict]:
    """One row per finding and project it involves (``is_primary``: the project it is filed
    under), each with the worker's reference at that project when the evidence names one."""
    out = []
    for f in findings:
        body = json.dumps(f, ensure_ascii=False, sort_keys=True, default=str)
        fkey = hashlib.sha256(body.encode()).hexdigest()[:32]
        for code in f.get("projects") or [f["project_code"]]:
            ref = f.get("worker_ref") if code == f["project_code"] else next(
                (e["worker_ref"] for e in f["evidence"] if e.get("project_code") == code and e.get("worker_ref")),
                f.get("worker_ref"))
            out.append({"date": date, "project_code": code, "district": district.get(code), "rule": f["rule"],
                        "worker_ref": ref, "gateway_id": f.get("gateway_id"), "fkey": fkey,
                        "is_primary": code == f["project_code"], "body": body})
    return out


def compute_day(store, date: str, *, rules: AttendanceRules = DEFAULT_RULES,
                anomaly_rules: AnomalyRules = DEFAULT_ANOMALY_RULES,
                warning_rules: WarningRules = DEFAULT_WARNING_RULES, warnings: bool = True,
                now: float | None = None) -> dict:
    """Compute and store ``date``'s figures and findings; with ``warnings``, re-evaluate the
    warnings as of ``date`` at epoch ``now`` (default: now). Idempotent. → counts and timings.

    The cyclic garbage collector is paused meanwhile: the computation makes millions of small
    acyclic containers (rows, days), and the collector's repeated full passes over them cost
    10-20 % at city scale; reference counting frees them as usual."""
    paused = gc.isenabled()
    gc.disable()
    try:
        return _compute_day(store, date, rules, anomaly_rules, warning_rules, warnings, now)
    finally:
        if paused:
            gc.enable()


def _compute_day(store, date, rules, anomaly_rules, warning_rules, warnings, now) -> dict:
    timings = {}
    t0 = time.perf_counter()
    projects, roster_rows = store.list_projects(), store.all_rosters()
    days = attendance_figures(store, date, rules, projects, roster_rows)
    timings["attendance_s"] = round(time.perf_counter() - t0, 3)
    t1 = time.perf_counter()
    found = detect_range(store, date, date, anomaly_rules, rules)["findings"]
    timings["anomalies_s"] = round(time.perf_counter() - t1, 3)
    store.replace_dash_day(date, days, finding_rows(date, found, {d["project_code"]: d["district"] for d in days}))
    out = {"date": date, "projects": len(days), "roster": sum(d["roster"] for d in days),
           "present": sum(d["present"] for d in days), "findings": len(found)}
    if warnings:
        t2 = time.perf_counter()
        out["warnings"] = evaluate_warnings(_BulkReads(store, projects, roster_rows), date, now=now,
                                            rules=warning_rules, attendance=rules)
        timings["warnings_s"] = round(time.perf_counter() - t2, 3)
    out["timings"] = {**timings, "total_s": round(time.perf_counter() - t0, 3)}
    log.info("dashboard day %s: %s projects, %s findings in %.1f s", date, len(days), len(found),
             out["timings"]["total_s"])
    return out


class DailyHook(IntervalHook):
    """For the receiver's sweep loop: recompute today's figures at most every ``interval_s``
    (warnings are the warning hook's: not re-evaluated here)."""

    def __init__(self, store, rules: AttendanceRules = DEFAULT_RULES,
                 anomaly_rules: AnomalyRules = DEFAULT_ANOMALY_RULES, interval_s: float = 900.0):
        super().__init__(store, interval_s, rules.tz)
        self.rules, self.anomaly_rules = rules, anomaly_rules

    def evaluate(self, today: str, now: float) -> dict:
        return compute_day(self.store, today, rules=self.rules, anomaly_rules=self.anomaly_rules, warnings=False)
