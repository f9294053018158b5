"""OpenAPI 3.1 description of the receiver's HTTP API, generated from the live aiohttp router.

The router is the one route table: paths and methods come from it; each handler carries
its own description, attached where the handler is written::

    from .openapi import op, q

    @op("一个项目的考勤 / a project's attendance day", query=[q("date", required=True, format="date")],
        roles=("city", "district", "project"))
    async def attendance(request): ...

Path parameters come from the route (``{code}``: string unless ``path={"code": {...}}``
says otherwise). Every route under ``/api/`` plus ``/metrics`` must carry an ``@op``:
``tests/receiver/test_openapi.py`` walks the real router and fails on one that does not,
or on a described parameter that is not in its path. Served at ``/api/v1/openapi.json``
without a token (it holds no data).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from aiohttp import web

from . import __version__

ALL_ROLES = ("city", "district", "project")
CITY = ("city",)
_PATH_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::[^}]*)?\}")
ERROR_SCHEMA = {"type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]}


@dataclass(frozen=True)
class Param:
    name: str
    schema: dict
    required: bool = False
    description: str = ""


def q(name: str, type: str = "string", *, required: bool = False, description: str = "", **schema) -> Param:
    """A query parameter (``schema`` adds e.g. ``enum=[...]``, ``pattern=...``, ``minimum=...``)."""
    return Param(name, {"type": type, **schema}, required, description)


@dataclass(frozen=True)
class Operation:
    summary: str
    query: tuple[Param, ...] = ()
    path: dict = field(default_factory=dict)
    roles: tuple[str, ...] = ALL_ROLES
    public: bool = False
    body: dict | None = None          # {"content-type": schema}
    produces: tuple[str, ...] = ("application/json",)
    responses: dict = field(default_factory=dict)   # extra {"404": "why"}
    tag: str = "api"
    one_of: tuple[tuple[str, ...], ...] = ()   # alternative sets of query parameters, one required


def op(summary: str, *, query=(), path=None, roles=ALL_ROLES, public=False, body=None,
       produces=("application/json",), responses=None, tag="api", one_of=()):
    """Attach an :class:`Operation` to a handler (see module doc). ``one_of``: e.g.
    ``[("date",), ("from", "to")]`` when one of those sets of query parameters is required."""
    def deco(fn):
        fn.__openapi__ = Operation(summary, tuple(query), dict(path or {}), tuple(roles), public, body,
                                   tuple(produces), dict(responses or {}), tag, tuple(map(tuple, one_of)))
        return fn
    return deco


def documented(path: str) -> bool:
    """Routes the description must cover."""
    return path.startswith("/api/") or path == "/metrics"


def path_params(path: str) -> list[str]:
    return _PATH_PARAM.findall(path)


def _operation(o: Operation, method: str, path: str) -> dict:
    params = [{"name": n, "in": "path", "required": True, "schema": o.path.get(n, {"type": "string"})}
              for n in path_params(path)]
    params += [{"name": p.name, "in": "query", "required": p.required, "schema": p.schema,
                **({"description": p.description} if p.description else {})} for p in o.query]
    responses = {"200": {"description": "OK", "content": {t: {} if t != "application/json" else
                                                          {"schema": {"type": "object"}} for t in o.produces}}}
    if method == "post" and o.body is not None:
        responses["201"] = {"description": "created"}
    errors = {"400": "bad parameter or body"}
    if not o.public:
        errors.update({"401": "missing or invalid bearer token",
                       "429": "too many failed authentication attempts (Retry-After)"})
        if set(o.roles) != set(ALL_ROLES):
            errors["403"] = "not allowed for this token's role"
    errors.update(o.responses)
    for code, why in errors.items():
        responses[code] = {"description": why, "content": {"application/json": {"schema": ERROR_SCHEMA}}}
    out = {"summary": o.summary, "operationId": f"{method}_{re.sub(r'[^A-Za-z0-9]+', '_', path).strip('_')}",
           "tags": [o.tag], "parameters": params, "responses": responses, "x-roles": list(o.roles)}
    if o.one_of:
        out["x-required-one-of"] = [list(s) for s in o.one_of]
    if o.public:
        out["security"] = []
    if o.body is not None:
        out["requestBody"] = {"required": True, "content": {t: {"schema": s} for t, s in o.body.items()}}
    return out


def build_spec(app: web.Application) -> dict:
    """The OpenAPI document of ``app``'s router. Undescribed routes appear with
    ``x-undocumented: true`` (the test fails on them)."""
    paths: dict[str, dict] = {}
    for route in app.router.routes():
        method = route.method.lower()
        path = route.resource.canonical if route.resource is not None else ""
        if method in ("head", "options", "*") or not documented(path):
            continue
        o = getattr(route.handler, "__openapi__", None)
        if o is None:
            paths.setdefault(path, {})[method] = {"summary": "", "x-undocumented": True,
                                                  "responses": {"200": {"description": "OK"}}}
            continue
        paths.setdefault(path, {})[method] = _operation(o, method, path)
    return {
        "openapi": "3.1.0",
        "info": {"title": "实名制考勤 城市接收端 API / real-name attendance city receiver API",
                 "version": __version__,
                 "description": "Bearer tokens with a role (city, district, project) and scope: "
                                "see cloud_receiver/auth.py. Out-of-scope projects answer 404."},
        "servers": [{"url": "/"}],
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}],
        "paths": dict(sorted(paths.items())),
    }


@op("本API的OpenAPI描述 / this API's OpenAPI description", public=True, tag="meta")
async def handle(request: web.Request) -> web.Response:
    return web.json_response(build_spec(request.app))
