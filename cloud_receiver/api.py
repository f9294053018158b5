"""Read-only HTTP API (aiohttp). ``Authorization: Bearer <token>`` on everything but
``/api/v1/health``. Store calls run in the default executor, never on the event loop.
Punch listings show ``worker_ref`` only: ID numbers never leave through this API.
Each listed punch carries ``passage``: ``"not_passed"`` when the gateway later recorded that
nobody passed (a ``not_passed`` gate event referring to it), else ``null``. Gate events
(tailgating, door held, manual releases and the end of a fire hold, faults...) are listed by
``/api/v1/gate-events`` (``kind`` takes any of :data:`shared_schema.messages.EVENT_KINDS`).

Supervision (issue 6, :mod:`cloud_receiver.supervision`): ``/api/v1/projects/{code}/attendance?date=``,
``.../attendance/monthly?month=`` and ``.../payroll-export?month=&format=csv|xlsx`` (ID numbers
masked). Projects, status periods (停工), key-post on-duty rates and warnings:
:mod:`cloud_receiver.api_projects`. Roles and scope (city / district / project), tokens and the
authentication rate limit: :mod:`cloud_receiver.auth`; every handler checks scope (a project
outside it answers 404, listings are filtered). Payroll import and wage risk:
:mod:`cloud_receiver.api_wage`. The city worker registry (persons, roster-down changes):
:mod:`cloud_receiver.api_registry`. OpenAPI 3.1 at ``/api/v1/openapi.json`` (:mod:`cloud_receiver.openapi`)."""

from __future__ import annotations

import asyncio
import datetime as _dt
import json
import logging
import re
import time
from functools import partial

from aiohttp import web

from shared_schema.messages import EVENT_KINDS

from . import auth as auth_mw
from . import metrics
from .auth import check_project, not_found, principal, require_role, visible_projects, wants_full_ids
from .openapi import CITY, op, q
from .store import Store
from .supervision import payroll, service
from .supervision.rules import AttendanceRules

log = logging.getLogger(__name__)

STORE_KEY = web.AppKey("store", Store)
TOKENS_KEY = web.AppKey("tokens", frozenset)
OPTS_KEY = web.AppKey("opts", dict)
RULES_KEY = web.AppKey("attendance_rules", AttendanceRules)
CODE_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$", re.ASCII)
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$", re.ASCII)
MONTH_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$", re.ASCII)
EXPORT_TYPES = {"csv": "text/csv; charset=utf-8",
                "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
ALERT_STATES = ("open", "acknowledged", "resolved")


def _iso(t):
    if t is None:
        return None
    return _dt.datetime.fromtimestamp(t, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _bad(msg: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(text=json.dumps({"error": msg}), content_type="application/json")


async def _body(request) -> dict:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise _bad("body must be JSON") from None
    if not isinstance(body, dict):
        raise _bad("body must be a JSON object")
    return body


def _state_change(body: dict) -> tuple[str, str, str | None]:
    """A supervisor acknowledging or resolving something: the new state, who, and why."""
    state, operator, note = body.get("state"), body.get("operator"), body.get("note")
    if state not in ("acknowledged", "resolved"):
        raise _bad("state must be acknowledged or resolved")
    if not isinstance(operator, str) or not operator.strip() or len(operator) > 64:
        raise _bad("operator is required (1-64 characters)")
    if note is not None and (not isinstance(note, str) or len(note) > 1000):
        raise _bad("note must be a string of at most 1000 characters")
    return state, operator.strip(), note


async def _run(request, fn, *args):
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, partial(fn, *args))


auth = auth_mw.middleware  # roles, scoped tokens, the failure rate limit: cloud_receiver/auth.py


def _paging(request, max_size: int) -> tuple[int, int]:
    try:
        limit = int(request.query.get("limit", "100"))
        offset = int(request.query.get("offset", "0"))
    except ValueError:
        raise _bad("limit and offset must be integers") from None
    if not 1 <= limit <= max_size or offset < 0:
        raise _bad(f"limit must be 1..{max_size} and offset ≥ 0")
    return limit, offset


def _check_date(date: str) -> None:
    try:
        _dt.date.fromisoformat(date)
    except ValueError:
        raise _bad("date is not a calendar date") from None


def query_date(request, name: str, default: str | None = None, *, required: bool = False) -> str | None:
    """A ``YYYY-MM-DD`` query parameter that is a calendar date (400 otherwise). Absent or empty:
    ``default``, or 400 when ``required``."""
    value = request.query.get(name) or (None if required else default)
    if value is None and not required:
        return None
    if value is None or not DATE_RE.fullmatch(value):
        raise _bad(f"{name} must be YYYY-MM-DD")
    try:
        _dt.date.fromisoformat(value)
    except ValueError:
        raise _bad(f"{name} is not a calendar date") from None
    return value


def query_code(request, name: str) -> str | None:
    """An optional code-shaped query parameter (project code, worker ref, gateway id); 400 if malformed."""
    value = request.query.get(name) or None
    if value is not None and not CODE_RE.fullmatch(value):
        raise _bad(f"bad {name}")
    return value


def _gateway_view(g: dict, silent_after_s: float, now: float) -> dict:
    last = g.get("last_seen")
    return {
        "gateway_id": g["gateway_id"], "project_code": g["project_code"], "site": g["site"],
        "vendor": g["vendor"], "public_key": g["public_key"], "registered_at": _iso(g["registered_at"]),
        "last_seen": _iso(last), "online": g["online"],
        "silent": last is None or now - last > silent_after_s,
        "received_through_seq": g["rx_through_seq"], "head_seq": g["head_seq"],
        "acked_through_seq": g["acked_through_seq"], "backlog": g["backlog"],
        "oldest_unacked_age_s": g["oldest_unacked_age_s"], "clock_offset_s": g["clock_offset_s"],
        "software_version": g["software_version"], "disk_alarm": g["disk_alarm"], "ledger_ok": g["ledger_ok"],
        "last_heartbeat_at": _iso(g["last_heartbeat_at"]), "status_since": g["status_since"],
        "devices": json.loads(g["devices_json"]) if g.get("devices_json") else [],
    }


_PAGING = (q("limit", "integer", minimum=1, description="page size (≤ page_size_max)"),
           q("offset", "integer", minimum=0))
_MONTH_Q = q("month", required=True, pattern=MONTH_RE.pattern, description="YYYY-MM")


async def _scoped_gateway(request, gid: str) -> None:
    """404 (as for an unknown gateway) unless the gateway's project is in the caller's scope."""
    if principal(request).is_city:
        return
    g = await _run(request, request.app[STORE_KEY].get_gateway, gid)
    if g is None:
        raise not_found("gateway")
    try:
        await check_project(request, request.app[STORE_KEY], g["project_code"])
    except web.HTTPNotFound:
        raise not_found("gateway") from None


@op("健康检查 / liveness and database check", public=True, tag="meta")
async def health(request):
    ok = await _run(request, request.app[STORE_KEY].ping)
    return web.json_response({"ok": ok, "db": ok}, status=200 if ok else 503)


@op("网关列表 / gateways (in the caller's scope)", tag="gateways")
async def gateways(request):
    rows = await _run(request, request.app[STORE_KEY].list_gateways)
    allowed = await visible_projects(request, request.app[STORE_KEY])
    if allowed is not None:
        rows = [g for g in rows if g["project_code"] in allowed]
    now, silent = time.time(), request.app[OPTS_KEY]["silent_after_s"]
    return web.json_response({"gateways": [_gateway_view(g, silent, now) for g in rows]})


@op("一个网关 / one gateway", responses={"404": "no such gateway (or not in scope)"}, tag="gateways")
async def gateway(request):
    gid = request.match_info["gateway_id"]
    if not CODE_RE.fullmatch(gid):
        raise _bad("bad gateway id")
    await _scoped_gateway(request, gid)
    g = await _run(request, request.app[STORE_KEY].get_gateway, gid)
    if g is None:
        return web.json_response({"error": "no such gateway"}, status=404)
    return web.json_response(_gateway_view(g, request.app[OPTS_KEY]["silent_after_s"], time.time()))


@op("项目某日的打卡 / a project's punches of a day (no ID numbers)",
    query=[q("date", required=True, format="date"), *_PAGING], responses={"404": "project not in scope"},
    tag="attendance")
async def punches(request):
    code = request.match_info["code"]
    date = request.query.get("date", "")
    if not CODE_RE.fullmatch(code):
        raise _bad("bad project code")
    await check_project(request, request.app[STORE_KEY], code)
    if not DATE_RE.fullmatch(date):
        raise _bad("date=YYYY-MM-DD is required")
    _check_date(date)
    limit, offset = _paging(request, request.app[OPTS_KEY]["page_size_max"])
    rows = await _run(request, request.app[STORE_KEY].punches, code, date, limit, offset)
    for r in rows:
        r["received_at"] = _iso(r["received_at"])
    return web.json_response({"project_code": code, "date": date, "limit": limit, "offset": offset,
                              "punches": rows})


@op("闸机事件 / gate events (scoped tokens must name a gateway in scope)",
    query=[q("gateway_id"), q("date", format="date"), q("kind", enum=list(EVENT_KINDS)), *_PAGING],
    responses={"404": "gateway not in scope"}, tag="gateways")
async def gate_events(request):
    gid = request.query.get("gateway_id") or None
    date = request.query.get("date") or None
    kind = request.query.get("kind") or None
    if gid is not None and not CODE_RE.fullmatch(gid):
        raise _bad("bad gateway id")
    if date is not None:
        if not DATE_RE.fullmatch(date):
            raise _bad("date must be YYYY-MM-DD")
        _check_date(date)
    if kind is not None and kind not in EVENT_KINDS:
        raise _bad(f"kind must be one of {', '.join(EVENT_KINDS)}")
    if not principal(request).is_city:
        if gid is None:
            raise _bad("gateway_id is required for a district or project token")
        await _scoped_gateway(request, gid)
    limit, offset = _paging(request, request.app[OPTS_KEY]["page_size_max"])
    rows = await _run(request, request.app[STORE_KEY].gate_events, gid, date, kind, limit, offset)
    for r in rows:
        r["received_at"] = _iso(r["received_at"])
    return web.json_response({"gateway_id": gid, "date": date, "kind": kind, "limit": limit, "offset": offset,
                              "gate_events": rows})


@op("篡改告警 / tamper alerts (scoped tokens must name a gateway in scope)",
    query=[q("state", enum=list(ALERT_STATES)), q("gateway"), *_PAGING], tag="warnings")
async def alerts(request):
    state = request.query.get("state") or None
    gid = request.query.get("gateway") or None
    if state is not None and state not in ALERT_STATES:
        raise _bad(f"state must be one of {', '.join(ALERT_STATES)}")
    if gid is not None and not CODE_RE.fullmatch(gid):
        raise _bad("bad gateway id")
    if not principal(request).is_city:
        if gid is None:
            raise _bad("gateway is required for a district or project token")
        await _scoped_gateway(request, gid)
    limit, offset = _paging(request, request.app[OPTS_KEY]["page_size_max"])
    rows = await _run(request, request.app[STORE_KEY].alerts, state, gid, limit, offset)
    for r in rows:
        r["detected_at"] = _iso(r["detected_at"])
        r["state_changed_at"] = _iso(r["state_changed_at"])
    return web.json_response({"alerts": rows})


@op("确认/解决篡改告警 / acknowledge or resolve a tamper alert", roles=CITY,
    path={"alert_id": {"type": "integer"}}, body={"application/json": {"type": "object", "required": [
        "state", "operator"], "properties": {"state": {"enum": ["acknowledged", "resolved"]},
                                             "operator": {"type": "string"}, "note": {"type": "string"}}}},
    responses={"404": "no such alert"}, tag="warnings")
async def alert_state(request):
    require_role(request, "city")
    try:
        alert_id = int(request.match_info["alert_id"])
    except ValueError:
        raise _bad("bad alert id") from None
    state, operator, note = _state_change(await _body(request))
    found = await _run(request, request.app[STORE_KEY].set_alert_state, alert_id, state, time.time(),
                       operator, note)
    if not found:
        return web.json_response({"error": "no such alert"}, status=404)
    log.info("tamper alert %s %s", alert_id, state)
    return web.json_response({"alert_id": alert_id, "state": state, "operator": operator})


def _project_code(request) -> str:
    code = request.match_info["code"]
    if not CODE_RE.fullmatch(code):
        raise _bad("bad project code")
    return code


def _month(request) -> str:
    month = request.query.get("month", "")
    if not MONTH_RE.fullmatch(month):
        raise _bad("month=YYYY-MM is required")
    return month


@op("项目某日考勤 / a project's attendance day", query=[q("date", required=True, format="date")],
    responses={"404": "project not in scope"}, tag="attendance")
async def attendance(request):
    code = _project_code(request)
    await check_project(request, request.app[STORE_KEY], code)
    date = request.query.get("date", "")
    if not DATE_RE.fullmatch(date):
        raise _bad("date=YYYY-MM-DD is required")
    _check_date(date)
    body = await _run(request, service.attendance_day, request.app[STORE_KEY], code, date, request.app[RULES_KEY])
    return web.json_response(body)


@op("项目月度考勤 / a project's monthly attendance", query=[_MONTH_Q],
    responses={"404": "project not in scope"}, tag="attendance")
async def attendance_monthly(request):
    code = _project_code(request)
    await check_project(request, request.app[STORE_KEY], code)
    month = _month(request)
    body = await _run(request, service.attendance_month, request.app[STORE_KEY], code, month,
                      request.app[RULES_KEY])
    return web.json_response(body)


@op("工资单导出(PayRollDetail) / payroll export; ID numbers masked unless the token may see them and ids=full",
    query=[_MONTH_Q, q("format", enum=list(EXPORT_TYPES)), q("ids", enum=["masked", "full"])],
    produces=("text/csv", EXPORT_TYPES["xlsx"]), responses={"404": "project not in scope"}, tag="payroll")
async def payroll_export(request):
    code = _project_code(request)
    await check_project(request, request.app[STORE_KEY], code)
    month = _month(request)
    fmt = request.query.get("format", "csv")
    if fmt not in EXPORT_TYPES:
        raise _bad("format must be csv or xlsx")
    full = wants_full_ids(request)  # cloud_receiver/auth.py: token flag + role + ids=full
    if full:
        log.info("payroll export with full ID numbers by token %s", principal(request).token_id)
    rows, summary = await _run(request, partial(payroll.payroll_rows, full_ids=full), request.app[STORE_KEY],
                               code, month, request.app[RULES_KEY])
    data = payroll.to_csv(rows) if fmt == "csv" else await _run(request, payroll.to_xlsx, rows, summary, month)
    return web.Response(body=data, content_type=EXPORT_TYPES[fmt].split(";")[0],
                        charset="utf-8" if fmt == "csv" else None,
                        headers={"Content-Disposition": f'attachment; filename="payroll-{code}-{month}.{fmt}"'})


@op("入库统计 / store counts (city only)", roles=CITY, tag="meta")
async def stats(request):
    require_role(request, "city")
    return web.json_response(await _run(request, request.app[STORE_KEY].stats))


def make_app(store: Store, tokens, *, silent_after_s: float = 86400.0, page_size_max: int = 1000,
             attendance_rules: AttendanceRules | None = None,
             auth_options: auth_mw.AuthOptions | None = None) -> web.Application:
    """``tokens``: the config's bootstrap tokens (city role); named tokens live in the store."""
    app = web.Application(middlewares=[auth])
    auth_mw.install(app, store, tokens, auth_options)
    app[RULES_KEY] = attendance_rules or AttendanceRules()
    app[STORE_KEY] = store
    app[TOKENS_KEY] = frozenset(tokens)
    app[OPTS_KEY] = {"silent_after_s": silent_after_s, "page_size_max": page_size_max}
    app.add_routes([
        web.get("/api/v1/health", health),
        web.get("/api/v1/gateways", gateways),
        web.get("/api/v1/gateways/{gateway_id}", gateway),
        web.get("/api/v1/projects/{code}/punches", punches),
        web.get("/api/v1/projects/{code}/attendance", attendance),
        web.get("/api/v1/projects/{code}/attendance/monthly", attendance_monthly),
        web.get("/api/v1/projects/{code}/payroll-export", payroll_export),
        web.get("/api/v1/gate-events", gate_events),
        web.get("/api/v1/alerts", alerts),
        web.post("/api/v1/alerts/{alert_id}/state", alert_state),
        web.get("/api/v1/stats", stats),
        web.get("/metrics", metrics.handle),   # bearer-token protected like the API; aggregates only
    ])
    from . import api_projects  # imports this module: registered here, not at the top
    app.add_routes(api_projects.routes())
    from . import api_anomalies
    app.add_routes(api_anomalies.routes())
    from . import api_wage, openapi
    app.add_routes(api_wage.routes())
    from . import api_registry  # the city worker registry: persons, roster-down (issue 5)
    app.add_routes(api_registry.routes())
    from . import api_upstream  # the national platform upload's state (requirement 13)
    app.add_routes(api_upstream.routes())
    app.router.add_get("/api/v1/openapi.json", openapi.handle)
    from . import api_dashboard  # aggregate routes + the static pages under /dashboard/
    api_dashboard.mount(app)
    return app
