"""Aggregate endpoints of the city supervision dashboard (issue 6), registered by
:func:`cloud_receiver.api.make_app`; the static pages are served under ``/dashboard/``
(:func:`mount`). Every endpoint is scoped by the caller's token (:mod:`cloud_receiver.auth`):
a district token sees its districts, a project token its projects.

Figures come from the daily computation (:mod:`cloud_receiver.dashboard.daily`, stored per
project and day) and are aggregated in SQL (:mod:`cloud_receiver.store.dashboard`). ``date``
defaults to the latest computed date. ID numbers never leave: a worker's is shown masked.

* ``GET  /api/v1/dashboard/overview?date=``: city (or scope) totals, projects by status, open
  warnings by rule, the day's findings by rule
* ``GET  /api/v1/dashboard/districts?date=``: the same per district
* ``GET  /api/v1/dashboard/projects?date=&district=&q=&sort=&desc=&limit=&offset=``: a page of projects
* ``GET  /api/v1/dashboard/trends?from=&to=&project=``: daily series (attendance, open warnings, findings)
* ``GET  /api/v1/dashboard/findings?from=&to=&project=&rule=&worker_ref=&limit=&offset=``
* ``GET  /api/v1/dashboard/workers/{code}/{worker_ref}?from=&to=``: a worker's days (ID masked)
* ``POST /api/v1/dashboard/compute`` ``{"date"}``: (re)compute a day (city role)
"""

from __future__ import annotations

import datetime as _dt
from collections import Counter, defaultdict

from aiohttp import web

from .api import CODE_RE, DATE_RE, RULES_KEY, STORE_KEY, _bad, _body, _run, query_code, query_date
from .api_anomalies import ANOMALY_RULES_KEY
from .auth import check_project, mark_public, principal, require_role
from .dashboard import STATIC_DIR
from .dashboard.daily import compute_day
from .openapi import CITY, op, q
from .store.dashboard import SORTS
from .supervision.anomalies import ANOMALY_RULE_IDS, DEFAULT_ANOMALY_RULES
from .supervision.attendance import punches_by_worker_day, worker_day
from .supervision.calendar import STATUS_CODES
from .supervision.wage_risk import WAGE_RULE_IDS
from .supervision.warnings import RULE_IDS

CST = _dt.timezone(_dt.timedelta(hours=8))
MAX_SERIES_DAYS = 366
MAX_WORKER_DAYS = 93
PAGE_MAX = 200
_DATE_Q = q("date", format="date", description="默认: 最近计算日 / default: latest computed date")
_RANGE_Q = (q("from", format="date"), q("to", format="date"))


def _scope(request):
    who = principal(request)
    if who.is_city:
        return None
    return ("district" if who.role == "district" else "project", tuple(who.scope))


def _int(request, name: str, default: int, lo: int, hi: int) -> int:
    try:
        v = int(request.query.get(name, default))
    except ValueError:
        raise _bad(f"{name} must be an integer") from None
    if not lo <= v <= hi:
        raise _bad(f"{name} must be {lo}..{hi}")
    return v


async def _day(request, scope) -> tuple[str | None, dict]:
    dates = await _run(request, request.app[STORE_KEY].dash_dates, scope)
    return query_date(request, "date", dates["last"]), dates


async def _range(request, scope, span: int) -> tuple[str, str]:
    dates = await _run(request, request.app[STORE_KEY].dash_dates, scope)
    last = query_date(request, "to", dates["last"] or _dt.datetime.now(CST).date().isoformat())
    first = query_date(request, "from", (_dt.date.fromisoformat(last) - _dt.timedelta(days=29)).isoformat())
    if first > last:
        raise _bad("from is after to")
    if (_dt.date.fromisoformat(last) - _dt.date.fromisoformat(first)).days + 1 > span:
        raise _bad(f"at most {span} days")
    return first, last


def _rate(present, roster):
    return round(present / roster, 4) if roster else None


def _with_rate(row: dict) -> dict:
    return {**row, "rate": _rate(row["rated_present"], row["rated_roster"])}


def _open_by_rule(rows) -> dict:
    """Open (or acknowledged) warnings per rule: every known rule, and any other rule found."""
    c = Counter(r["rule"] for r in rows if r["state"] != "resolved")
    return {**{r: 0 for r in (*RULE_IDS, *WAGE_RULE_IDS)}, **c}


@op("看板总览 / dashboard overview (scope totals, open warnings and findings by rule)", query=[_DATE_Q],
    tag="dashboard")
async def overview(request):
    scope = _scope(request)
    date, dates = await _day(request, scope)
    store = request.app[STORE_KEY]
    if date is None:
        return web.json_response({"date": None, "computed": dates, "totals": None})
    totals = await _run(request, store.dash_totals, date, scope)
    warnings = await _run(request, store.dash_warning_rows, scope)
    counts = await _run(request, store.dash_finding_counts, date, date, scope)
    findings = {r: 0 for r in ANOMALY_RULE_IDS}
    for r in counts:
        findings[r["rule"]] += r["n"]
    return web.json_response({"date": date, "computed": dates, "totals": _with_rate(totals),
                              "status_names": STATUS_CODES, "open_warnings": _open_by_rule(warnings),
                              "findings": findings})


@op("各区汇总 / per-district figures of a day", query=[_DATE_Q], tag="dashboard")
async def districts(request):
    scope = _scope(request)
    date, _ = await _day(request, scope)
    store = request.app[STORE_KEY]
    rows = await _run(request, store.dash_districts, date, scope) if date else []
    warnings = await _run(request, store.dash_warning_rows, scope)
    open_w = Counter(w["district"] for w in warnings if w["state"] != "resolved")
    return web.json_response({"date": date, "districts": [
        {**_with_rate(r), "open_warnings": open_w.get(r["district"], 0)} for r in rows]})


@op("项目列表(分页) / a page of projects with the day's figures",
    query=[_DATE_Q, q("district"), q("q", description="code or name contains"), q("sort", enum=list(SORTS)),
           q("desc", enum=["0", "1"]), q("limit", "integer", minimum=1, maximum=PAGE_MAX),
           q("offset", "integer", minimum=0)], tag="dashboard")
async def projects(request):
    scope = _scope(request)
    date, _ = await _day(request, scope)
    district = request.query.get("district") or None
    text = request.query.get("q") or None
    for name, v in (("district", district), ("q", text)):
        if v is not None and len(v) > 64:
            raise _bad(f"{name} is too long")
    sort = request.query.get("sort", "code")
    if sort not in SORTS:
        raise _bad(f"sort must be one of {', '.join(SORTS)}")
    if request.query.get("desc", "0") not in ("0", "1"):
        raise _bad("desc must be 0 or 1")
    limit, offset = _int(request, "limit", 50, 1, PAGE_MAX), _int(request, "offset", 0, 0, 10**9)
    if date is None:
        return web.json_response({"date": None, "total": 0, "projects": []})
    total, rows = await _run(request, lambda: request.app[STORE_KEY].dash_projects(
        date, scope, district=district, text=text, sort=sort, desc=request.query.get("desc") == "1",
        limit=limit, offset=offset))
    for r in rows:
        r["stopped"] = bool(r["stopped"])
        r["rate"] = None if r["rate"] is None else round(r["rate"], 4)
    return web.json_response({"date": date, "total": total, "limit": limit, "offset": offset, "projects": rows})


@op("趋势 / daily series: attendance, open warnings, findings by rule",
    query=[*_RANGE_Q, q("project")], responses={"404": "project not in scope"}, tag="dashboard")
async def trends(request):
    scope = _scope(request)
    project = query_code(request, "project")
    store = request.app[STORE_KEY]
    if project:
        await check_project(request, store, project)
    first, last = await _range(request, scope, MAX_SERIES_DAYS)
    series = await _run(request, store.dash_series, first, last, scope, project)
    counts = await _run(request, store.dash_finding_counts, first, last, scope, project)
    warnings = await _run(request, store.dash_warning_rows, scope, project)
    d0, d1 = _dt.date.fromisoformat(first), _dt.date.fromisoformat(last)
    dates = [(d0 + _dt.timedelta(days=i)).isoformat() for i in range((d1 - d0).days + 1)]
    by_date = {r["date"]: _with_rate(r) for r in series}
    findings: dict[str, list[int]] = {r: [0] * len(dates) for r in ANOMALY_RULE_IDS}
    index = {d: i for i, d in enumerate(dates)}
    for r in counts:
        findings[r["rule"]][index[r["date"]]] = r["n"]
    opened = defaultdict(int)
    open_at = []
    ends = [_dt.datetime.fromisoformat(d).replace(tzinfo=CST).timestamp() + 86400 for d in dates]
    for w in warnings:
        opened[_dt.datetime.fromtimestamp(w["first_seen"], CST).date().isoformat()] += 1
    for end in ends:   # open (or acknowledged) at the end of the day
        open_at.append(sum(1 for w in warnings if w["first_seen"] < end and not (
            w["state"] == "resolved" and (w["state_changed_at"] or 0) < end)))
    return web.json_response({
        "from": first, "to": last, "project": project, "dates": dates,
        "attendance": [{"date": d, **({k: by_date[d][k] for k in ("roster", "present", "on_site", "rate",
                                                                   "manual_punches", "stopped_projects")}
                                      if d in by_date else {"roster": None, "present": None, "on_site": None,
                                                            "rate": None, "manual_punches": None,
                                                            "stopped_projects": None})} for d in dates],
        "warnings_open": open_at, "warnings_opened": [opened.get(d, 0) for d in dates], "findings": findings})


@op("异常考勤(已计算) / stored abnormal-attendance findings with evidence",
    query=[*_RANGE_Q, q("project"), q("rule", enum=list(ANOMALY_RULE_IDS)), q("worker_ref"),
           q("limit", "integer", minimum=1, maximum=PAGE_MAX), q("offset", "integer", minimum=0)],
    responses={"404": "project not in scope"}, tag="dashboard")
async def findings(request):
    scope = _scope(request)
    project, worker = query_code(request, "project"), query_code(request, "worker_ref")
    rule = request.query.get("rule") or None
    if rule is not None and rule not in ANOMALY_RULE_IDS:
        raise _bad(f"rule must be one of {', '.join(ANOMALY_RULE_IDS)}")
    store = request.app[STORE_KEY]
    if project:
        await check_project(request, store, project)
    first, last = await _range(request, scope, MAX_SERIES_DAYS)
    limit, offset = _int(request, "limit", 50, 1, PAGE_MAX), _int(request, "offset", 0, 0, 10**9)
    total, rows = await _run(request, lambda: store.dash_findings(first, last, scope, project=project, rule=rule,
                                                                  worker_ref=worker, limit=limit, offset=offset))
    return web.json_response({"from": first, "to": last, "total": total, "limit": limit, "offset": offset,
                              "findings": rows})


def mask_id(number: str | None) -> str | None:
    """``440106199001011234`` → ``440***********1234``: enough to tell people apart on a page."""
    if not number:
        return None
    keep = 3 if len(number) > 8 else 1
    return number[:keep] + "*" * max(0, len(number) - keep - 4) + number[-4:]


def mask_name(name: str | None) -> str | None:
    return None if not name else name[0] + "*" * (len(name) - 1)


def _worker_history(store, code: str, ref: str, first: str, last: str, rules) -> dict | None:
    member = next((r for r in store.roster(code) if r["worker_ref"] == ref), None)
    punches = [p for p in store.attendance_punches(code, first, last) if p["worker_ref"] == ref]
    entries = store.worker_entries(code, ref, first, last)
    if member is None and not entries:
        return None
    grouped = punches_by_worker_day(punches, rules)
    d0, d1 = _dt.date.fromisoformat(first), _dt.date.fromisoformat(last)
    days = []
    for i in range((d1 - d0).days + 1):
        d = (d0 + _dt.timedelta(days=i)).isoformat()
        wd = worker_day(ref, d, grouped.get((ref, d), ()), rules)
        days.append({k: getattr(wd, k) for k in ("date", "present", "first", "last", "span_hours", "punches",
                                                  "duplicates", "manual", "reasons")})
    person = None
    if member is not None:
        person = {k: member[k] for k in ("role", "post", "company_code", "team_code", "work_type", "entry_date",
                                         "exit_date", "action")}
        person.update(name=mask_name(member["name"]), id_number=mask_id(member["id_number"]))
    entries.sort(key=lambda e: (e["device_time"], e["gateway_id"], e["seq"]))
    return {"project_code": code, "worker_ref": ref, "from": first, "to": last, "on_roster": member is not None,
            "person": person, "days": days, "days_present": sum(d["present"] for d in days),
            "hours": round(sum(d["span_hours"] for d in days if d["present"]), 2), "entries": entries[-500:],
            "entries_total": len(entries)}


@op("工人考勤历史(身份证号脱敏) / a worker's history at a project (ID masked)",
    query=list(_RANGE_Q), responses={"404": "no such worker or project not in scope"}, tag="dashboard")
async def worker(request):
    code, ref = request.match_info["code"], request.match_info["worker_ref"]
    if not CODE_RE.fullmatch(code) or not CODE_RE.fullmatch(ref):
        raise _bad("bad project code or worker ref")
    store = request.app[STORE_KEY]
    await check_project(request, store, code)
    first, last = await _range(request, _scope(request), MAX_WORKER_DAYS)
    body = await _run(request, _worker_history, store, code, ref, first, last, request.app[RULES_KEY])
    if body is None:
        return web.json_response({"error": "no such worker"}, status=404)
    total, found = await _run(request, lambda: store.dash_findings(first, last, None, project=code, worker_ref=ref,
                                                                   limit=PAGE_MAX, offset=0))
    body["findings"] = found
    return web.json_response(body)


@op("计算某日看板数据 / (re)compute a day's dashboard figures", roles=CITY,
    body={"application/json": {"type": "object", "required": ["date"], "properties": {
        "date": {"type": "string", "format": "date"}, "warnings": {"type": "boolean"}}}}, tag="dashboard")
async def compute(request):
    require_role(request, "city")
    body = await _body(request)
    date = body.get("date")
    if not isinstance(date, str) or not DATE_RE.fullmatch(date):
        raise _bad("date must be YYYY-MM-DD")
    try:
        _dt.date.fromisoformat(date)
    except ValueError:
        raise _bad("date is not a calendar date") from None
    warnings = body.get("warnings", False)
    if not isinstance(warnings, bool):
        raise _bad("warnings must be true or false")
    rules = request.app.get(ANOMALY_RULES_KEY, DEFAULT_ANOMALY_RULES)
    out = await _run(request, lambda: compute_day(request.app[STORE_KEY], date, rules=request.app[RULES_KEY],
                                                  anomaly_rules=rules, warnings=warnings))
    return web.json_response(out)


async def _index(request):
    raise web.HTTPFound("/dashboard/index.html")


# the pages load nothing from elsewhere and run no inline script: the browser enforces it
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                               "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "Cache-Control": "no-cache"}


async def _page_headers(request, response) -> None:
    if request.path == "/dashboard" or request.path.startswith("/dashboard/"):
        for k, v in PAGE_HEADERS.items():
            response.headers.setdefault(k, v)


def mount(app: web.Application) -> None:
    """The aggregate routes and the static pages (public: the pages hold no data, the API does)."""
    app.add_routes([
        web.get("/api/v1/dashboard/overview", overview),
        web.get("/api/v1/dashboard/districts", districts),
        web.get("/api/v1/dashboard/projects", projects),
        web.get("/api/v1/dashboard/trends", trends),
        web.get("/api/v1/dashboard/findings", findings),
        web.get("/api/v1/dashboard/workers/{code}/{worker_ref}", worker),
        web.post("/api/v1/dashboard/compute", compute),
        web.get("/dashboard", _index),
        web.get("/dashboard/", _index),
    ])
    app.router.add_static("/dashboard/", STATIC_DIR, show_index=False, append_version=False)
    mark_public(app, "/dashboard/", "/dashboard")
    app.on_response_prepare.append(_page_headers)
