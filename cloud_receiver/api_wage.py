"""Payroll import and wage-risk endpoints (issue 6), registered by :func:`cloud_receiver.api.make_app`.
Same bearer-token auth and scope as every endpoint (:mod:`cloud_receiver.auth`).

* ``POST /api/v1/projects/{code}/payroll-import?operator=&format=csv|xlsx&source=``: the raw
  file as the body (any role within scope: the general contractor submits its payroll). The
  size limit (``[receiver.api] upload_max_bytes``) is checked on ``Content-Length`` before
  anything is read, and again while reading a body without one: 413. A refused file: 400
  with the reason; otherwise 200 with the report (every bad row with its number and reason).
* ``GET  /api/v1/projects/{code}/payroll-imports``: the project's imports (newest first).
* ``GET  /api/v1/projects/{code}/wage-risk?month=YYYY-MM``: the month's stored figures (people
  with masked ID numbers), computed now if none are stored.
* ``GET  /api/v1/wage-risk/trend?module=arrears|claims|service&from=YYYY-MM&to=YYYY-MM[&project=][&district=]``:
  the monthly series over the caller's projects (at most 36 months).
* ``POST /api/v1/wage-risk/service-events``: a dispute or an evaluation of a company at a
  project (city; district within its district) — the service-quality rule's inputs.
* ``POST /api/v1/wage-risk/evaluate``: re-evaluate now (city; the sweep loop does it every
  ``evaluate_interval_s``).

The warnings themselves are listed with the others: ``GET /api/v1/warnings?rule=wage_...``.
"""

from __future__ import annotations

import datetime as _dt
import logging
import re
import time

from aiohttp import web

from .api import CODE_RE, MONTH_RE, RULES_KEY, STORE_KEY, _bad, _body, _month, _project_code, _run
from .auth import check_project, principal, require_role, visible_projects
from .openapi import op, q
from .supervision import service
from .supervision.payroll_import import MAX_BYTES, PayrollFileError, import_payroll
from .supervision.wage_risk import DEFAULT_WAGE_RULES, MODULES, WageRiskRules, evaluate_wage_risk, month_facts, trend

log = logging.getLogger(__name__)

WAGE_RULES_KEY = web.AppKey("wage_rules", WageRiskRules)
UPLOAD_MAX_KEY = web.AppKey("upload_max_bytes", int)
MAX_TREND_MONTHS = 36
_TYPES = {"csv": "csv", "text/csv": "csv", "xlsx": "xlsx",
          "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx"}
_SOURCE_RE = re.compile(r"^[^\x00-\x1f/\\]{1,200}$")
_MONTH_PATTERN = MONTH_RE.pattern


def configure(app: web.Application, rules: WageRiskRules, upload_max_bytes: int) -> None:
    app[WAGE_RULES_KEY] = rules
    app[UPLOAD_MAX_KEY] = upload_max_bytes


def _err(status: int, msg: str) -> web.Response:
    return web.json_response({"error": msg}, status=status)


async def _read_limited(request, limit: int) -> bytes | None:
    """The body, or None when it is longer than ``limit`` (reading stops there)."""
    chunks, size = [], 0
    async for chunk in request.content.iter_chunked(65536):
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


@op("导入工资单(PayRollDetail CSV/XLSX) / import a payroll file (raw body)",
    query=[q("operator", required=True, maxLength=64), q("format", enum=["csv", "xlsx"]), q("source", maxLength=200)],
    body={"text/csv": {"type": "string"}, "application/octet-stream": {"type": "string", "format": "binary"}},
    responses={"404": "project not in scope", "413": "the file is larger than upload_max_bytes"}, tag="payroll")
async def payroll_import(request):
    code = _project_code(request)
    await check_project(request, request.app[STORE_KEY], code)
    operator = request.query.get("operator", "").strip()
    if not operator or len(operator) > 64 or any(not c.isprintable() for c in operator):
        raise _bad("operator is required (1-64 printable characters)")
    fmt = request.query.get("format") or _TYPES.get(request.content_type)
    if request.query.get("format") and fmt not in ("csv", "xlsx"):
        raise _bad("format must be csv or xlsx")
    source = request.query.get("source") or "upload"
    if not _SOURCE_RE.fullmatch(source):
        raise _bad("source must be a plain file name")
    limit = request.app.get(UPLOAD_MAX_KEY, MAX_BYTES)
    if request.content_length is not None and request.content_length > limit:
        return _err(413, f"the file is larger than {limit} bytes")
    data = await _read_limited(request, limit)
    if data is None:
        return _err(413, f"the file is larger than {limit} bytes")
    today = service.local_today(request.app[RULES_KEY])
    try:
        report = await _run(request, lambda: import_payroll(
            request.app[STORE_KEY], code, data, source=source, operator=operator, fmt=fmt, now=time.time(),
            today=_dt.date.fromisoformat(today), max_bytes=limit))
    except PayrollFileError as exc:
        return _err(400, str(exc))
    return web.json_response(report)


@op("工资单导入记录 / a project's payroll imports", responses={"404": "project not in scope"}, tag="payroll")
async def payroll_imports(request):
    code = _project_code(request)
    await check_project(request, request.app[STORE_KEY], code)
    rows = await _run(request, request.app[STORE_KEY].payroll_imports, code)
    return web.json_response({"project_code": code, "imports": rows})


@op("项目某月工资风险明细 / a project's wage-risk figures of a month",
    query=[q("month", required=True, pattern=_MONTH_PATTERN)], responses={"404": "project not in scope"},
    tag="wage-risk")
async def project_month(request):
    code = _project_code(request)
    month = _month(request)
    await check_project(request, request.app[STORE_KEY], code)
    store = request.app[STORE_KEY]
    rows = await _run(request, store.wage_facts, month, month, [code])
    if rows:
        facts, computed = rows[0]["facts"], rows[0]["computed_at"]
    else:
        rules = request.app.get(WAGE_RULES_KEY, DEFAULT_WAGE_RULES)
        today = service.local_today(request.app[RULES_KEY])
        facts = await _run(request, month_facts, store, code, month, today, rules, request.app[RULES_KEY])
        computed = None
    return web.json_response({"project_code": code, "computed_at": computed, **facts})


@op("工资风险趋势 / monthly trend of a wage-risk module over the caller's projects",
    query=[q("module", required=True, enum=list(MODULES)), q("from", required=True, pattern=_MONTH_PATTERN),
           q("to", required=True, pattern=_MONTH_PATTERN), q("project"), q("district")],
    responses={"404": "project not in scope"}, tag="wage-risk")
async def wage_trend(request):
    module = request.query.get("module", "")
    if module not in MODULES:
        raise _bad(f"module must be one of {', '.join(MODULES)}")
    first, last = request.query.get("from", ""), request.query.get("to", "")
    if not (MONTH_RE.fullmatch(first) and MONTH_RE.fullmatch(last)):
        raise _bad("from=YYYY-MM and to=YYYY-MM are required")
    if last < first:
        raise _bad("to is before from")
    span = (int(last[:4]) - int(first[:4])) * 12 + int(last[5:]) - int(first[5:]) + 1
    if span > MAX_TREND_MONTHS:
        raise _bad(f"at most {MAX_TREND_MONTHS} months")
    project, district = request.query.get("project") or None, request.query.get("district") or None
    if project is not None and not CODE_RE.fullmatch(project):
        raise _bad("bad project code")
    if district is not None and len(district) > 64:
        raise _bad("district is too long")
    store = request.app[STORE_KEY]
    codes = await visible_projects(request, store)
    if project is not None:
        await check_project(request, store, project)
        codes = {project}
    if district is not None:
        in_district = {p["project_code"] for p in await _run(request, store.list_projects, district)}
        codes = in_district if codes is None else set(codes) & in_district
    series = await _run(request, trend, store, module, first, last, codes)
    return web.json_response({"module": module, "rules": list(MODULES[module]), "from": first, "to": last,
                              "project": project, "district": district, "series": series})


def _service_event(body: dict) -> dict:
    unknown = set(body) - {"project_code", "corp_code", "kind", "occurred_on", "score", "detail", "operator"}
    if unknown:
        raise ValueError(f"unknown field {min(unknown)}")
    row = {}
    for k in ("project_code", "corp_code"):
        if not isinstance(body.get(k), str) or not CODE_RE.fullmatch(body[k]):
            raise ValueError(f"{k} must be 1-64 of A-Z a-z 0-9 _ . -")
        row[k] = body[k]
    if body.get("kind") not in ("dispute", "evaluation"):
        raise ValueError("kind must be dispute or evaluation")
    row["kind"] = body["kind"]
    try:
        row["occurred_on"] = _dt.date.fromisoformat(body.get("occurred_on", "")).isoformat()
    except (TypeError, ValueError):
        raise ValueError("occurred_on must be YYYY-MM-DD") from None
    score = body.get("score")
    if row["kind"] == "evaluation":
        if isinstance(score, bool) or not isinstance(score, (int, float)) or not 0 <= score <= 100:
            raise ValueError("an evaluation needs a score 0-100")
        row["score"] = float(score)
    elif score is not None:
        raise ValueError("a dispute has no score")
    detail = body.get("detail")
    if detail is not None and (not isinstance(detail, str) or len(detail) > 1000):
        raise ValueError("detail must be a string of at most 1000 characters")
    row["detail"] = detail
    operator = body.get("operator")
    if not isinstance(operator, str) or not operator.strip() or len(operator) > 64:
        raise ValueError("operator is required (1-64 characters)")
    row["operator"] = operator.strip()
    return row


@op("记录劳资纠纷或评价 / record a dispute or an evaluation of a company at a project",
    roles=("city", "district"), body={"application/json": {"type": "object", "required": [
        "project_code", "corp_code", "kind", "occurred_on", "operator"]}},
    responses={"404": "project not in scope"}, tag="wage-risk")
async def service_event(request):
    require_role(request, "city", "district")
    try:
        row = _service_event(await _body(request))
    except ValueError as exc:
        raise _bad(str(exc)) from None
    await check_project(request, request.app[STORE_KEY], row["project_code"])
    stored = await _run(request, request.app[STORE_KEY].add_service_event, row, time.time())
    return web.json_response(stored, status=201)


@op("立即重新评估工资风险 / re-evaluate wage risk now (city)", roles=("city",), tag="wage-risk",
    body={"application/json": {"type": "object"}})
async def evaluate(request):
    require_role(request, "city")
    rules = request.app.get(WAGE_RULES_KEY, DEFAULT_WAGE_RULES)
    today = service.local_today(request.app[RULES_KEY])
    out = await _run(request, lambda: evaluate_wage_risk(request.app[STORE_KEY], today, rules=rules,
                                                         attendance=request.app[RULES_KEY]))
    log.info("wage risk evaluated on request of token %s", principal(request).token_id)
    return web.json_response({"as_of": today, **out})


def routes() -> list:
    return [
        web.post("/api/v1/projects/{code}/payroll-import", payroll_import),
        web.get("/api/v1/projects/{code}/payroll-imports", payroll_imports),
        web.get("/api/v1/projects/{code}/wage-risk", project_month),
        web.get("/api/v1/wage-risk/trend", wage_trend),
        web.post("/api/v1/wage-risk/service-events", service_event),
        web.post("/api/v1/wage-risk/evaluate", evaluate),
    ]


__all__ = ["configure", "routes"]
