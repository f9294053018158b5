"""Projects, status periods, key-post on-duty rates and warnings (issue 6), registered by
:func:`cloud_receiver.api.make_app`. Same bearer-token auth as every endpoint; writes
(``POST``): project writes belong to the city and district roles (a district token only
within its district), warning state changes to whoever's scope holds the warning's project.
A project outside the caller's scope answers 404 like a missing one; listings are filtered
(:mod:`cloud_receiver.auth`).

* ``GET  /api/v1/projects[?district=]``: projects with their status today (China-local)
* ``GET  /api/v1/projects/{code}``: one project with its status history
* ``POST /api/v1/projects``: create or update (201 created, 200 updated)
* ``POST /api/v1/projects/{code}/status``: add a dated status period (201; 404 no project;
  409 overlapping another period)
* ``GET  /api/v1/projects/{code}/on-duty?month=YYYY-MM``: key-post on-duty rates (到岗率)
* ``GET  /api/v1/warnings?project=&state=&rule=&limit=&offset=``
* ``POST /api/v1/warnings/{id}/state``: ``{"state": "acknowledged"|"resolved", "operator", "note"}``
"""

from __future__ import annotations

import time

from aiohttp import web

from .api import (
    ALERT_STATES,
    CODE_RE,
    OPTS_KEY,
    RULES_KEY,
    STORE_KEY,
    _bad,
    _body,
    _iso,
    _month,
    _paging,
    _project_code,
    _run,
    _state_change,
)
from .auth import check_project, principal, require_role, visible_projects
from .openapi import q
from .openapi import op as describe
from .supervision import service
from .supervision.calendar import (
    STATUS_CODES,
    PeriodOverlap,
    status_on,
    validate_period,
    validate_project,
)
from .supervision.wage_risk import WAGE_RULE_IDS
from .supervision.warnings import RULE_IDS

ALL_RULE_IDS = RULE_IDS + WAGE_RULE_IDS


def _project_view(p: dict, today: str) -> dict:
    status = status_on(today, p["status"], p["periods"])
    out = {k: p[k] for k in ("project_code", "name", "district", "address", "lng", "lat", "general_contractor",
                             "supervisor")}
    out.update(registered_status=p["status"], status=status, status_name=STATUS_CODES[status], as_of=today,
               created_at=_iso(p["created_at"]), updated_at=_iso(p["updated_at"]))
    return out


def _period_view(s: dict) -> dict:
    return {**{k: s[k] for k in ("period_id", "status", "from_date", "to_date", "reason", "operator")},
            "status_name": STATUS_CODES[s["status"]], "created_at": _iso(s["created_at"])}


def _today(request) -> str:
    return service.local_today(request.app[RULES_KEY])


@describe("项目列表 / projects (in the caller's scope) with today's status", query=[q("district")], tag="projects")
async def list_projects(request):
    district = request.query.get("district") or None
    if district is not None and len(district) > 64:
        raise _bad("district is too long")
    rows = await _run(request, request.app[STORE_KEY].list_projects, district)
    allowed = await visible_projects(request, request.app[STORE_KEY])
    if allowed is not None:
        rows = [p for p in rows if p["project_code"] in allowed]
    today = _today(request)
    return web.json_response({"as_of": today, "projects": [_project_view(p, today) for p in rows]})


@describe("一个项目及状态历史 / one project with its status history", responses={"404": "no such project"},
          tag="projects")
async def get_project(request):
    code = _project_code(request)
    await check_project(request, request.app[STORE_KEY], code)
    p = await _run(request, request.app[STORE_KEY].get_project, code)
    if p is None:
        return web.json_response({"error": "no such project"}, status=404)
    return web.json_response({**_project_view(p, _today(request)),
                              "status_history": [_period_view(s) for s in p["periods"]]})


@describe("新建或更新项目 / create or update a project (city; district within its district)",
          roles=("city", "district"), body={"application/json": {"type": "object", "required": ["project_code", "name"]}},
          tag="projects")
async def post_project(request):
    who = require_role(request, "city", "district")
    try:
        row = validate_project(await _body(request))
    except ValueError as exc:
        raise _bad(str(exc)) from None
    if not who.is_city:
        if row.get("district") not in who.scope:
            return web.json_response({"error": "a district token writes only projects of its district"}, status=403)
        existing = await _run(request, request.app[STORE_KEY].get_project, row["project_code"])
        if existing is not None and existing.get("district") not in who.scope:
            return web.json_response({"error": "a district token writes only projects of its district"}, status=403)
    outcome = await _run(request, request.app[STORE_KEY].upsert_project, row, time.time())
    p = await _run(request, request.app[STORE_KEY].get_project, row["project_code"])
    return web.json_response({"outcome": outcome, **_project_view(p, _today(request))},
                             status=201 if outcome == "created" else 200)


@describe("新增项目状态期(停工等) / add a dated status period (city, district)", roles=("city", "district"),
          body={"application/json": {"type": "object", "required": ["status", "from_date", "operator"]}},
          responses={"404": "no such project", "409": "overlaps another period"}, tag="projects")
async def post_status(request):
    require_role(request, "city", "district")
    code = _project_code(request)
    await check_project(request, request.app[STORE_KEY], code)
    try:
        period = validate_period(await _body(request))
    except ValueError as exc:
        raise _bad(str(exc)) from None
    try:
        stored = await _run(request, request.app[STORE_KEY].add_status_period, code, period, time.time())
    except LookupError:
        return web.json_response({"error": "no such project"}, status=404)
    except PeriodOverlap as exc:
        return web.json_response({"error": str(exc)}, status=409)
    return web.json_response({"project_code": code, **_period_view(stored), "closed_period_id": stored["closed"]},
                             status=201)


@describe("关键岗位到岗率 / key-post on-duty rates (到岗率) of a month",
          query=[q("month", required=True, pattern=r"^\d{4}-(0[1-9]|1[0-2])$")],
          responses={"404": "no such project"}, tag="projects")
async def on_duty(request):
    code = _project_code(request)
    await check_project(request, request.app[STORE_KEY], code)
    month = _month(request)
    body = await _run(request, service.on_duty_month, request.app[STORE_KEY], code, month, request.app[RULES_KEY])
    return web.json_response(body)


@describe("预警列表 / warnings (in the caller's scope)",
          query=[q("project"), q("state", enum=list(ALERT_STATES)), q("rule", enum=list(ALL_RULE_IDS)),
                 q("limit", "integer", minimum=1), q("offset", "integer", minimum=0)], tag="warnings")
async def list_warnings(request):
    project = request.query.get("project") or None
    state = request.query.get("state") or None
    rule = request.query.get("rule") or None
    if project is not None and not CODE_RE.fullmatch(project):
        raise _bad("bad project code")
    if state is not None and state not in ALERT_STATES:
        raise _bad(f"state must be one of {', '.join(ALERT_STATES)}")
    if rule is not None and rule not in ALL_RULE_IDS:
        raise _bad(f"rule must be one of {', '.join(ALL_RULE_IDS)}")
    limit, offset = _paging(request, request.app[OPTS_KEY]["page_size_max"])
    if project is not None:
        await check_project(request, request.app[STORE_KEY], project)
    allowed = await visible_projects(request, request.app[STORE_KEY])
    rows = await _run(request, request.app[STORE_KEY].warnings, project, state, rule, limit, offset, allowed)
    for r in rows:
        for k in ("first_seen", "last_seen", "state_changed_at"):
            r[k] = _iso(r[k])
    return web.json_response({"limit": limit, "offset": offset, "warnings": rows})


@describe("确认/解决预警 / acknowledge or resolve a warning", path={"warning_id": {"type": "integer"}},
          body={"application/json": {"type": "object", "required": ["state", "operator"]}},
          responses={"404": "no such warning", "409": "already resolved"}, tag="warnings")
async def warning_state(request):
    try:
        wid = int(request.match_info["warning_id"])
    except ValueError:
        raise _bad("bad warning id") from None
    state, operator, note = _state_change(await _body(request))
    if not principal(request).is_city:
        w = await _run(request, request.app[STORE_KEY].get_warning, wid)
        if w is None or w["project_code"] is None:
            return web.json_response({"error": "no such warning"}, status=404)
        try:
            await check_project(request, request.app[STORE_KEY], w["project_code"])
        except web.HTTPNotFound:
            return web.json_response({"error": "no such warning"}, status=404)
    try:
        w = await _run(request, request.app[STORE_KEY].set_warning_state, wid, state, operator, note,
                       time.time())
    except ValueError as exc:
        return web.json_response({"error": str(exc)}, status=409)
    if w is None:
        return web.json_response({"error": "no such warning"}, status=404)
    for k in ("first_seen", "last_seen", "state_changed_at"):
        w[k] = _iso(w[k])
    return web.json_response(w)


def routes() -> list:
    return [
        web.get("/api/v1/projects", list_projects),
        web.post("/api/v1/projects", post_project),
        web.get("/api/v1/projects/{code}", get_project),
        web.post("/api/v1/projects/{code}/status", post_status),
        web.get("/api/v1/projects/{code}/on-duty", on_duty),
        web.get("/api/v1/warnings", list_warnings),
        web.post("/api/v1/warnings/{warning_id}/state", warning_state),
    ]
