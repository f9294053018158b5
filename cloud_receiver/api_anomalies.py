"""Abnormal attendance (异常考勤) queries (issue 6, requirement #8), registered by
:func:`cloud_receiver.api.make_app`. Same bearer-token auth as every endpoint; district and
project tokens must name a project in their scope (``project=``).

``GET /api/v1/anomalies?date=YYYY-MM-DD`` (or ``from=&to=``, at most ``max_range_days`` days,
both ends included, China-local days) with optional ``project=``, ``rule=``, ``worker_ref=``,
``gateway_id=``: the findings of :mod:`cloud_receiver.supervision.anomalies`, each with its
evidence (gateway, seq, gate, device time, snapshot ref, match and liveness scores). ID numbers
never. 400 with a JSON error on a bad or missing parameter.

The rules come from ``app[ANOMALY_RULES_KEY]`` (:func:`configure`), else the defaults.
"""

from __future__ import annotations

import datetime as _dt

from aiohttp import web

from .api import RULES_KEY, STORE_KEY, _bad, _run, query_code, query_date
from .auth import check_project, principal
from .openapi import op
from .openapi import q as qp
from .supervision.anomalies import (
    ANOMALY_RULE_IDS,
    DEFAULT_ANOMALY_RULES,
    AnomalyRules,
    detect_range,
)

ANOMALY_RULES_KEY = web.AppKey("anomaly_rules", AnomalyRules)


def configure(app: web.Application, rules: AnomalyRules) -> None:
    app[ANOMALY_RULES_KEY] = rules


def parse_query(request, rules: AnomalyRules) -> dict:
    known = {"date", "from", "to", "project", "rule", "worker_ref", "gateway_id"}
    unknown = sorted(set(request.query) - known)
    if unknown:
        raise _bad(f"unknown parameter {unknown[0]}")
    if "date" in request.query:
        if "from" in request.query or "to" in request.query:
            raise _bad("give date or from/to, not both")
        first = last = query_date(request, "date", required=True)
    elif "from" in request.query and "to" in request.query:
        first, last = query_date(request, "from", required=True), query_date(request, "to", required=True)
        if last < first:
            raise _bad("to is before from")
        days = (_dt.date.fromisoformat(last) - _dt.date.fromisoformat(first)).days + 1
        if days > rules.max_range_days:
            raise _bad(f"range is {days} days; at most {rules.max_range_days}")
    else:
        raise _bad("date=YYYY-MM-DD or from=&to= is required")
    rule = request.query.get("rule") or None
    if rule is not None and rule not in ANOMALY_RULE_IDS:
        raise _bad(f"rule must be one of {', '.join(ANOMALY_RULE_IDS)}")
    return {"first": first, "last": last, "project": query_code(request, "project"), "rule": rule,
            "worker_ref": query_code(request, "worker_ref"), "gateway_id": query_code(request, "gateway_id")}


@op("异常考勤 / abnormal attendance findings with evidence (district/project tokens: project= required)",
    query=[qp("date", format="date"), qp("from", format="date"), qp("to", format="date"), qp("project"),
           qp("rule", enum=list(ANOMALY_RULE_IDS)), qp("worker_ref"), qp("gateway_id")],
    one_of=[("date",), ("from", "to")], responses={"404": "project not in scope"}, tag="anomalies")
async def list_anomalies(request):
    rules = request.app.get(ANOMALY_RULES_KEY, DEFAULT_ANOMALY_RULES)
    q = parse_query(request, rules)
    if not principal(request).is_city:
        # cross-project findings carry other projects' evidence: scoped tokens ask per project
        if q["project"] is None:
            raise _bad("project is required for a district or project token")
        await check_project(request, request.app[STORE_KEY], q["project"])
    out = await _run(request, lambda: detect_range(
        request.app[STORE_KEY], q["first"], q["last"], rules, request.app[RULES_KEY], project=q["project"],
        rule=q["rule"], worker_ref=q["worker_ref"], gateway_id=q["gateway_id"]))
    counts = {r: 0 for r in ANOMALY_RULE_IDS}
    for f in out["findings"]:
        counts[f["rule"]] += 1
    return web.json_response({"from": q["first"], "to": q["last"],
                              "filters": {k: q[k] for k in ("project", "rule", "worker_ref", "gateway_id")},
                              "rules": rules.as_dict(), "counts": counts, "skipped": out["skipped"],
                              "findings": out["findings"]})


def routes() -> list:
    return [web.get("/api/v1/anomalies", list_anomalies)]
