"""Wage risk (issue 6; the notice's three modules), from attendance, the roster and imported
payroll (:mod:`.payroll_import`). Each finding is a supervision warning (rule, evidence, state:
the ``warnings`` table through :meth:`Store.sync_warnings`, next to the others); each month's
figures are kept per project (``wage_risk_months``) for the trend series.

Per project and month (:func:`month_facts`), a payroll row is linked to a roster worker by
``id_hash`` (the ID number itself is not in the payroll table):

* **arrears** (欠薪风险) — ``wage_payroll_missing``: people attended in a month and no payroll
  was imported for it by day ``payroll_due_day`` of the next month (subject ``project/month``).
  ``wage_payroll_short``: a submitted month where someone was paid for fewer days than they
  attended, paid less than payable, or attended and is missing from the payroll.
* **claims without attendance** (无考勤支薪) — ``wage_claim_without_attendance``: payroll rows
  claiming more days than attended, or for someone not on the roster (subject ``project/month``).
  Back-pay rows (``isBackPay``) pay an earlier month and are not compared with attendance.
* **service quality** (服务质量) — ``wage_service_quality``: a company at a project (subject
  ``project/company``) whose last ``service_window_months`` months show exits without
  settlement (an exit whose month's or next month's payroll does not pay the worker what is
  payable, judged once that payroll is due), disputes, or a low mean evaluation.
  Exits come from the roster. **Disputes and evaluations are inputs nothing feeds yet** except
  ``POST /api/v1/wage-risk/service-events`` (city/district): no labour-arbitration or
  evaluation system is connected.

Only complete months are judged for short payroll and claims (the current month's attendance
is still growing); its facts are stored for the trend. Months older than ``lookback_months``
keep their stored facts (and warnings) as last computed.
"""

from __future__ import annotations

import datetime as _dt
import logging
import time
from dataclasses import asdict, dataclass

from shared_schema.idcard import mask_id_number
from shared_schema.wire import field

from .attendance import month_days, punches_by_worker_day, worker_day
from .hooks import IntervalHook
from .payroll_import import id_hash
from .roster import RosterEntry, current_roster
from .rules import DEFAULT_RULES, AttendanceRules
from .service import _query_range

log = logging.getLogger(__name__)

ARREARS_NOT_SUBMITTED, ARREARS_SHORT = "wage_payroll_missing", "wage_payroll_short"
CLAIM_WITHOUT_ATTENDANCE, SERVICE_QUALITY = "wage_claim_without_attendance", "wage_service_quality"
WAGE_RULE_IDS = (ARREARS_NOT_SUBMITTED, ARREARS_SHORT, CLAIM_WITHOUT_ATTENDANCE, SERVICE_QUALITY)
MODULES = {"arrears": (ARREARS_NOT_SUBMITTED, ARREARS_SHORT), "claims": (CLAIM_WITHOUT_ATTENDANCE,),
           "service": (SERVICE_QUALITY,)}
LIST_CAP = 200   # people listed in one month's evidence (counts are always complete)


@dataclass(frozen=True)
class WageRiskRules:
    """``[receiver.wage_risk]``: when payroll is due and what counts as a risk."""

    payroll_due_day: int = field(default=15, min=1, max=28,
                                 doc="a month's payroll is due by this day of the next month")
    lookback_months: int = field(default=6, min=1, max=36, doc="months recomputed at each evaluation")
    days_tolerance: int = field(default=0, min=0, max=31, doc="paid vs attended days may differ by this much")
    amount_tolerance: float = field(default=0.0, min=0.0, max=100000.0, doc="yuan paid below payable tolerated")
    service_window_months: int = field(default=3, min=1, max=24, doc="months a company's pattern is judged over")
    service_unsettled_exits_min: int = field(default=3, min=1, max=10000, doc="unsettled exits that raise it")
    service_disputes_min: int = field(default=2, min=1, max=10000, doc="disputes that raise it")
    service_evaluation_min: float = field(default=60.0, min=0.0, max=100.0,
                                          doc="a mean evaluation (0-100) below this raises it")
    evaluate_interval_s: float = field(default=3600.0, min=1.0, max=86400.0 * 7,
                                       doc="how often the sweep loop re-evaluates wage risk")

    def as_dict(self) -> dict:
        return asdict(self)


DEFAULT_WAGE_RULES = WageRiskRules()


def add_months(month: str, n: int) -> str:
    y, m = divmod(int(month[:4]) * 12 + int(month[5:7]) - 1 + n, 12)
    return f"{y:04d}-{m + 1:02d}"


def months_between(first: str, last: str) -> list[str]:
    out, m = [], first
    while m <= last and len(out) < 1200:
        out.append(m)
        m = add_months(m, 1)
    return out


def due_date(month: str, rules: WageRiskRules) -> str:
    return f"{add_months(month, 1)}-{rules.payroll_due_day:02d}"


def _worker(m, ref: str | None = None) -> dict:
    if m is None:
        return {"worker_ref": ref}
    return {"worker_ref": m.worker_ref, "name": m.name, "id_masked": mask_id_number(m.id_number),
            "company_code": m.company_code, "team_code": m.team_code}


def attended_days(store, project_code: str, month: str, attendance: AttendanceRules,
                  roster: list[RosterEntry]) -> dict[str, int]:
    """→ {worker_ref: days present} of the ``roster`` workers present at least one day of the month.

    :func:`~.attendance.project_month`'s days present, from the same per-day judgement
    (:func:`~.attendance.worker_day` of a worker on the roster that day), evaluated only for
    the worker-days with punches: a day without any is never present, and workers with no
    day present (zeros in the month report) change no wage figure. A big roster's month, mostly
    empty worker-days, costs a fraction of the full report."""
    days = set(month_days(month))
    grouped = punches_by_worker_day(
        store.attendance_punches(project_code, *_query_range(min(days), max(days), attendance)), attendance)
    members = {m.worker_ref: m for m in roster}
    out: dict[str, int] = {}
    for (ref, date), punches in grouped.items():
        m = members.get(ref)
        if date in days and m is not None and m.active_on(date) and worker_day(ref, date, punches, attendance).present:
            out[ref] = out.get(ref, 0) + 1
    return out


def roster_people(store, project_code: str, attendance: AttendanceRules) -> tuple[list, dict, dict]:
    """The project's current roster: (entries, by worker_ref, by payroll ID hash)."""
    entries = current_roster(store, project_code, attendance)
    roster = {m.worker_ref: m for m in entries}
    return entries, roster, {id_hash(m.id_type, m.id_number): m for m in roster.values()}


def month_facts(store, project_code: str, month: str, today: str, rules: WageRiskRules = DEFAULT_WAGE_RULES,
                attendance: AttendanceRules = DEFAULT_RULES, *, people: tuple | None = None) -> dict:
    """The month's wage figures of one project (JSON-ready; ID numbers masked). ``people``:
    :func:`roster_people` of the project if already built (the city pass reuses it across months)."""
    entries, roster, by_hash = people or roster_people(store, project_code, attendance)
    attended = attended_days(store, project_code, month, attendance, entries)
    pay = store.payroll_records(project_code, month, add_months(month, 1))
    this = [p for p in pay if p["pay_month"] == month]
    tol_days, tol_cents = rules.days_tolerance, round(rules.amount_tolerance * 100)
    short, claims, paid_refs = [], [], set()
    for p in this:
        m = by_hash.get(p["id_hash"])
        ref = m.worker_ref if m else None
        paid_refs.add(ref)
        days = attended.get(ref, 0)
        who = {**_worker(m), "id_masked": p["id_masked"], "corp_code": p["corp_code"], "attended_days": days,
               "paid_days": p["days"], "payable_cents": p["total_pay_cents"], "paid_cents": p["actual_pay_cents"]}
        if p["is_back_pay"]:
            continue
        reasons = []
        if p["days"] < days - tol_days:
            reasons.append("paid_days_below_attendance")
        if p["actual_pay_cents"] < p["total_pay_cents"] - tol_cents:
            reasons.append("paid_below_payable")
        if reasons:
            short.append({**who, "reasons": reasons})
        if m is None:
            claims.append({**who, "reason": "not_on_roster", "extra_days": p["days"]})
        elif p["days"] > days + tol_days:
            claims.append({**who, "reason": "days_without_attendance", "extra_days": p["days"] - days})
    if this:
        for ref, days in sorted(attended.items()):
            if days > 0 and ref not in paid_refs:
                m = roster.get(ref)
                short.append({**_worker(m, ref), "corp_code": m.company_code if m else None, "attended_days": days,
                              "paid_days": 0, "payable_cents": None, "paid_cents": 0,
                              "reasons": ["missing_from_payroll"]})
    due = due_date(month, rules)
    settled_by = {p["id_hash"] for p in pay if p["actual_pay_cents"] >= p["total_pay_cents"] - tol_cents}
    companies: dict[str, dict] = {}

    def comp(code):
        return companies.setdefault(code or "", {"exits": 0, "unsettled_exits": 0, "disputes": 0, "evaluations": []})

    exits = []
    for h, m in sorted(by_hash.items(), key=lambda kv: kv[1].worker_ref):
        if m.exit_date and m.exit_date[:7] == month:
            settled = h in settled_by
            judged = today > due_date(add_months(month, 1), rules) or settled
            exits.append({**_worker(m), "exit_date": m.exit_date, "settled": settled, "judged": judged})
            comp(m.company_code)["exits"] += 1
            comp(m.company_code)["unsettled_exits"] += judged and not settled
    last_day = (_dt.date.fromisoformat(add_months(month, 1) + "-01") - _dt.timedelta(days=1)).isoformat()
    for e in store.service_events(project_code, month + "-01", last_day):
        c = comp(e["corp_code"])
        if e["kind"] == "dispute":
            c["disputes"] += 1
        elif e["score"] is not None:
            c["evaluations"].append(e["score"])
    return {
        "month": month, "complete": today[:7] > month, "due": due, "overdue": today > due,
        "attendance_workers": sum(1 for d in attended.values() if d > 0),
        "attendance_days": sum(attended.values()),
        "payroll_rows": len(this), "submitted": bool(this),
        "payable_cents": sum(p["total_pay_cents"] for p in this), "paid_cents": sum(p["actual_pay_cents"] for p in this),
        "short_count": len(short), "short_cents": sum(max(0, (s["payable_cents"] or 0) - s["paid_cents"]) for s in short),
        "short": short[:LIST_CAP], "claim_count": len(claims), "claim_days": sum(c["extra_days"] for c in claims),
        "claims": claims[:LIST_CAP], "exits": exits[:LIST_CAP],
        "unsettled_exits": sum(1 for e in exits if e["judged"] and not e["settled"]),
        "companies": companies,
    }


class _MonthReads:
    """The store as :func:`month_facts` sees it for one month and a chunk of projects, its
    per-project reads (project, roster, punches, payroll, service events) served from one bulk
    query each for the chunk: the same rows in the same order, so the facts are the same.
    Anything else (another range) goes to the store."""

    def __init__(self, store, projects: dict, rosters: dict, codes: list[str], month: str,
                 attendance: AttendanceRules):
        self._store, self._projects, self._rosters = store, projects, rosters
        days = month_days(month)
        self._punch_range = _query_range(days[0], days[-1], attendance)
        self._pay_range = (month, add_months(month, 1))
        self._event_range = (days[0], days[-1])
        self._punches = self._group(store.attendance_punches_many(codes, *self._punch_range), drop=True)
        self._pay = self._group(store.payroll_records_many(codes, *self._pay_range))
        self._events = self._group(store.service_events_many(codes, *self._event_range))

    @staticmethod
    def _group(rows, drop: bool = False) -> dict[str, list]:
        out: dict[str, list] = {}
        for r in rows:
            out.setdefault(r.pop("project_code") if drop else r["project_code"], []).append(r)
        return out

    def __getattr__(self, name):
        return getattr(self._store, name)

    def get_project(self, code):
        return self._projects[code] if code in self._projects else self._store.get_project(code)

    def roster(self, code):
        return self._rosters.get(code, []) if code in self._projects else self._store.roster(code)

    def attendance_punches(self, code, first, last):
        if code not in self._projects or (first, last) != self._punch_range:
            return self._store.attendance_punches(code, first, last)
        return self._punches.get(code, [])

    def payroll_records(self, code, first, last):
        if code not in self._projects or (first, last) != self._pay_range:
            return self._store.payroll_records(code, first, last)
        return self._pay.get(code, [])

    def service_events(self, code, first, last):
        if code not in self._projects or (first, last) != self._event_range:
            return self._store.service_events(code, first, last)
        return self._events.get(code, [])


CITY_CHUNK = 100   # projects whose month of punches is loaded at once (memory: ~3,000 punches each)


def city_month_facts(store, months: list[str], today: str, rules: WageRiskRules = DEFAULT_WAGE_RULES,
                     attendance: AttendanceRules = DEFAULT_RULES, projects=None):
    """:func:`month_facts` of every project (or ``projects``) and month, read in bulk: per month
    and :data:`CITY_CHUNK` projects one query each for punches, payroll and service events, and
    one roster query for the city. Yields ``(project_code, month, facts)``."""
    listed = {p["project_code"]: p for p in store.list_projects()}
    codes = sorted(listed if projects is None else projects)
    wanted = set(codes)
    rosters: dict[str, list] = {}
    for r in sorted(store.all_rosters(), key=lambda r: r["worker_ref"]):
        if r["project_code"] in wanted:
            rosters.setdefault(r["project_code"], []).append(r)
    known = [c for c in codes if c in listed]
    people: dict[str, tuple] = {}
    for month in months:
        for i in range(0, len(codes), CITY_CHUNK):
            chunk = codes[i:i + CITY_CHUNK]
            reads = _MonthReads(store, {c: listed[c] for c in chunk if c in listed}, rosters,
                                [c for c in chunk if c in known], month, attendance)
            for code in chunk:
                if code not in people:
                    people[code] = roster_people(reads, code, attendance)
                yield code, month, month_facts(reads, code, month, today, rules, attendance, people=people[code])


def _project_findings(code: str, rows: list[dict], current: str, rules: WageRiskRules, found: dict) -> None:
    """Warnings from a project's stored month facts (``rows``, by month)."""
    for r in rows:
        f, month = r["facts"], r["month"]
        if f["attendance_workers"] and not f["submitted"] and f["overdue"]:
            found[(ARREARS_NOT_SUBMITTED, f"{code}/{month}")] = {"project_code": code, "evidence": {
                "module": "arrears", "month": month, "due": f["due"], "attendance_workers": f["attendance_workers"],
                "attendance_days": f["attendance_days"]}}
        if f["complete"] and f["short_count"]:
            found[(ARREARS_SHORT, f"{code}/{month}")] = {"project_code": code, "evidence": {
                "module": "arrears", "month": month, "workers": f["short_count"], "short_cents": f["short_cents"],
                "people": f["short"]}}
        if f["complete"] and f["claim_count"]:
            found[(CLAIM_WITHOUT_ATTENDANCE, f"{code}/{month}")] = {"project_code": code, "evidence": {
                "module": "claims", "month": month, "rows": f["claim_count"], "extra_days": f["claim_days"],
                "people": f["claims"]}}
    window = [r for r in rows if r["month"] > add_months(current, -rules.service_window_months)]
    per: dict[str, dict] = {}
    for r in window:
        for corp, c in r["facts"]["companies"].items():
            a = per.setdefault(corp, {"exits": 0, "unsettled_exits": 0, "disputes": 0, "evaluations": []})
            for k in ("exits", "unsettled_exits", "disputes"):
                a[k] += c[k]
            a["evaluations"] += c["evaluations"]
    for corp, a in sorted(per.items()):
        mean = round(sum(a["evaluations"]) / len(a["evaluations"]), 2) if a["evaluations"] else None
        why = [k for k, hit in (("unsettled_exits", a["unsettled_exits"] >= rules.service_unsettled_exits_min),
                                ("disputes", a["disputes"] >= rules.service_disputes_min),
                                ("low_evaluation", mean is not None and mean < rules.service_evaluation_min)) if hit]
        if why:
            found[(SERVICE_QUALITY, f"{code}/{corp}")] = {"project_code": code, "evidence": {
                "module": "service", "corp_code": corp, "reasons": why, "months": [r["month"] for r in window],
                "exits": a["exits"], "unsettled_exits": a["unsettled_exits"], "disputes": a["disputes"],
                "evaluations": len(a["evaluations"]), "mean_evaluation": mean,
                "thresholds": {"unsettled_exits": rules.service_unsettled_exits_min,
                               "disputes": rules.service_disputes_min, "evaluation": rules.service_evaluation_min}}}


def evaluate_wage_risk(store, today: str, *, now: float | None = None, rules: WageRiskRules = DEFAULT_WAGE_RULES,
                       attendance: AttendanceRules = DEFAULT_RULES, projects=None) -> dict:
    """Recompute the last ``lookback_months`` months' facts of every project (or ``projects``),
    then sync the wage warnings from all stored facts. → warning counts plus ``months``."""
    now = time.time() if now is None else now
    current = today[:7]
    codes = sorted(projects) if projects is not None else [p["project_code"] for p in store.list_projects()]
    months = [add_months(current, -i) for i in range(rules.lookback_months - 1, -1, -1)]
    batch: list = []
    for row in city_month_facts(store, months, today, rules, attendance, codes):
        batch.append(row)
        if len(batch) >= CITY_CHUNK:
            store.put_wage_facts_many(batch, now)
            batch = []
    store.put_wage_facts_many(batch, now)
    found: dict = {}
    stored = store.wage_facts("0000-01", current, None if projects is None else codes)
    by_project: dict[str, list] = {}
    for r in stored:
        by_project.setdefault(r["project_code"], []).append(r)
    for code, rows in by_project.items():
        _project_findings(code, rows, current, rules, found)
    if projects is not None:   # partial run: keep other projects' live warnings as they are
        for w in store.warnings(None, None, None, 1_000_000, 0):
            if w["rule"] in WAGE_RULE_IDS and w["state"] != "resolved" and w["project_code"] not in codes:
                found.setdefault((w["rule"], w["subject"]), {"project_code": w["project_code"],
                                                             "evidence": w["evidence"]})
    out = store.sync_warnings(WAGE_RULE_IDS, found, now)
    if out["opened"] or out["resolved"]:
        log.info("wage risk: %s opened, %s resolved, %s still live", out["opened"], out["resolved"], out["refreshed"])
    return {**out, "months": len(codes) * len(months)}


def trend(store, module: str, first: str, last: str, project_codes=None) -> list[dict]:
    """Monthly series of one module over the stored facts (summed over ``project_codes``; None: all)."""
    rows = store.wage_facts(first, last, project_codes)
    series = {m: {"month": m, "projects": 0} for m in months_between(first, last)}
    for r in rows:
        f, s = r["facts"], series.get(r["month"])
        if s is None:
            continue
        s["projects"] += 1
        if module == "arrears":
            for k in ("attendance_workers", "payroll_rows", "short_count", "short_cents", "payable_cents",
                      "paid_cents"):
                s[k] = s.get(k, 0) + f[k]
            s["not_submitted"] = s.get("not_submitted", 0) + bool(f["attendance_workers"] and not f["submitted"]
                                                                  and f["overdue"])
        elif module == "claims":
            for k in ("claim_count", "claim_days", "payroll_rows"):
                s[k] = s.get(k, 0) + f[k]
        else:
            s["exits"] = s.get("exits", 0) + len(f["exits"])
            s["unsettled_exits"] = s.get("unsettled_exits", 0) + f["unsettled_exits"]
            cs = f["companies"].values()
            s["disputes"] = s.get("disputes", 0) + sum(c["disputes"] for c in cs)
            s.setdefault("_scores", []).extend(x for c in cs for x in c["evaluations"])
    out = []
    for s in series.values():
        scores = s.pop("_scores", None)
        if module == "service":
            s["mean_evaluation"] = round(sum(scores) / len(scores), 2) if scores else None
        out.append(s)
    return out


class WageRiskHook(IntervalHook):
    """Call from the receiver's sweep loop: re-evaluates at most every ``evaluate_interval_s``."""

    def __init__(self, store, rules: WageRiskRules = DEFAULT_WAGE_RULES, attendance: AttendanceRules = DEFAULT_RULES):
        super().__init__(store, rules.evaluate_interval_s, attendance.tz)
        self.rules, self.attendance = rules, attendance

    def evaluate(self, today: str, now: float) -> dict:
        return evaluate_wage_risk(self.store, today, now=now, rules=self.rules, attendance=self.attendance)


__all__ = ["DEFAULT_WAGE_RULES", "MODULES", "WAGE_RULE_IDS", "WageRiskHook", "WageRiskRules", "city_month_facts",
           "evaluate_wage_risk", "month_facts", "trend"]
