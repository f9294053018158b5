"""The city worker registry over HTTP (issue 5), registered by :func:`cloud_receiver.api.make_app`.

* ``GET  /api/v1/persons?name=&id_type=&id_number=&project=&active=true|false&limit=&offset=``:
  persons (one per ID type + number) with a membership in the caller's scope, oldest first.
* ``GET  /api/v1/persons/{person_id}``: one person across projects — memberships (posts,
  teams, dates), history of every roster change with its outcome. A district or project
  token sees only persons with a membership in its scope, and of them only the memberships
  and history of projects in its scope; anything else answers 404 as for no such person.
  ``person_id`` is the registry's opaque number, so no ID number travels in a URL path.
* ``POST /api/v1/projects/{code}/roster-down``: a change decided at the city for every
  gateway of the project (:mod:`cloud_receiver.roster_down`): ``exit`` (of a person with an
  active membership on the project), ``correct`` (fields of their record), ``project_stopped``
  / ``project_resumed``. City and district roles only (a district within its district).
* ``GET  /api/v1/projects/{code}/roster-down?limit=&offset=&ids=``: the project's down changes,
  newest first, each with every gateway's state of it — ``applied``, ``pending``, or what the
  gateway reported: ``skipped`` / ``failed`` with a detail naming fields. Every role, in scope;
  correction values and full ID numbers only with ``ids=full`` as below.

ID numbers are masked unless the token may see them and the request asks ``ids=full``
(:func:`cloud_receiver.auth.wants_full_ids`); the record's other details (address, phone,
contract) go out only then too. Head images are never part of these answers.
"""

from __future__ import annotations

import json
import logging
import re
import time

from aiohttp import web

from shared_schema.idcard import mask_id_number

from . import roster_down
from .api import STORE_KEY, _bad, _body, _iso, _paging, _project_code, _run
from .auth import (
    check_project,
    not_found,
    principal,
    require_role,
    visible_projects,
    wants_full_ids,
)
from .openapi import op, q
from .roster_down import ID_NUMBER_RE, ID_TYPE_RE

log = logging.getLogger(__name__)

_IDS_Q = q("ids", enum=["masked", "full"], description="full: only for a token made with --full-ids")


def _person_view(p: dict, full: bool) -> dict:
    out = {k: p[k] for k in ("person_id", "id_type", "name", "active_projects") if k in p}
    out["id_number"] = p["id_number"] if full else mask_id_number(p["id_number"])
    out["first_seen"], out["last_seen"] = _iso(p["first_seen"]), _iso(p["last_seen"])
    return out


def _membership_view(m: dict, full: bool) -> dict:
    out = {k: m[k] for k in ("project_code", "worker_ref", "gateway_id", "role", "post", "company_code",
                             "team_code", "work_type", "entry_date", "exit_date", "status")}
    out["opened_at"], out["updated_at"] = _iso(m["opened_at"]), _iso(m["updated_at"])
    if full and m.get("details_json"):
        out["details"] = json.loads(m["details_json"])
    return out


def _history_view(h: dict) -> dict:
    return {**{k: h[k] for k in ("change_id", "project_code", "gateway_id", "worker_ref", "action", "role", "post",
                                 "outcome", "detail", "changed_at")}, "received_at": _iso(h["received_at"])}


def _full_ids(request) -> bool:
    if request.query.get("ids", "masked") not in ("masked", "full"):
        raise _bad("ids must be masked or full")
    return wants_full_ids(request)


def _person_query(request) -> dict:
    args: dict = {}
    name = request.query.get("name", "")
    if name:
        if len(name) > 64 or any(not c.isprintable() for c in name):
            raise _bad("name must be at most 64 printable characters")
        args["name"] = name
    id_type, id_number = request.query.get("id_type", ""), request.query.get("id_number", "")
    if id_type and not ID_TYPE_RE.fullmatch(id_type):
        raise _bad("id_type must be a code 01..17")
    if id_number:
        if not ID_NUMBER_RE.fullmatch(id_number):
            raise _bad("id_number must be 1-32 letters or digits")
        args["id_type"], args["id_number"] = id_type or "01", id_number.upper()
    elif id_type:
        raise _bad("id_type needs id_number")
    active = request.query.get("active", "")
    if active:
        if active not in ("true", "false"):
            raise _bad("active must be true or false")
        args["active"] = active == "true"
    return args


@op("城市人员库检索 / persons of the city worker registry (in the caller's scope)",
    query=[q("name", maxLength=64, description="substring of the name"), q("id_type", pattern=ID_TYPE_RE.pattern),
           q("id_number", maxLength=32, description="exact ID number (type 01 unless id_type)"),
           q("project", description="only persons with a membership on this project"),
           q("active", enum=["true", "false"], description="active on a project in scope (or not)"),
           q("limit", "integer", minimum=1, maximum=200), q("offset", "integer", minimum=0), _IDS_Q],
    responses={"404": "project not in scope"}, tag="registry")
async def persons(request):
    store = request.app[STORE_KEY]
    args = _person_query(request)
    limit, offset = _paging(request, 200)
    projects = await visible_projects(request, store)
    project = request.query.get("project", "")
    if project:
        if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", project, re.ASCII):
            raise _bad("bad project code")
        await check_project(request, store, project)
        projects = frozenset({project})
    full = _full_ids(request)
    rows, total = await _run(request, lambda: store.find_persons(projects=projects, limit=limit, offset=offset,
                                                                 **args))
    if full:
        log.info("person search with full ID numbers by token %s", principal(request).token_id)
    return web.json_response({"total": total, "limit": limit, "offset": offset,
                              "persons": [_person_view(r, full) for r in rows]})


@op("城市人员库中的一人 / one person across projects: memberships, posts, history",
    path={"person_id": {"type": "integer", "minimum": 1}}, query=[_IDS_Q],
    responses={"404": "no such person (or none of their projects in scope)"}, tag="registry")
async def person(request):
    store = request.app[STORE_KEY]
    full = _full_ids(request)
    raw = request.match_info["person_id"]
    # not a registry number: no such person (the same answer as an unknown number)
    ok = raw.isascii() and raw.isdigit() and len(raw) <= 18 and int(raw) >= 1
    p = await _run(request, store.person_by_id, int(raw)) if ok else None
    projects = await visible_projects(request, store)
    if p is None:
        raise not_found("person")
    ms, hs = p["memberships"], p["history"]
    if projects is not None:
        ms = [m for m in ms if m["project_code"] in projects]
        hs = [h for h in hs if h["project_code"] in projects]
        if not ms:
            raise not_found("person")
    if full:
        log.info("person %s read with full ID number by token %s", raw, principal(request).token_id)
    body = _person_view({**p, "active_projects": sorted(m["project_code"] for m in ms if m["status"] == "active")},
                        full)
    body["memberships"] = [_membership_view(m, full) for m in ms]
    body["history"] = [_history_view(h) for h in hs]
    return web.json_response(body)


@op("下发花名册变更 / issue a roster change to the project's gateways (exit, correction, 停工/复工)",
    roles=("city", "district"),
    body={"application/json": {"type": "object", "required": ["action", "operator"], "properties": {
        "action": {"enum": list(roster_down.DOWN_ACTIONS)}, "operator": {"type": "string", "maxLength": 64},
        "reason": {"type": "string", "maxLength": 256}, "id_type": {"type": "string"},
        "id_number": {"type": "string"}, "exit_date": {"type": "string", "format": "date"},
        "corrections": {"type": "object", "additionalProperties": {"type": ["string", "null"]}}}}},
    responses={"404": "project not in scope", "409": "the person has no active membership on the project"},
    tag="registry")
async def post_roster_down(request):
    require_role(request, "city", "district")
    code = _project_code(request)
    store = request.app[STORE_KEY]
    await check_project(request, store, code)
    body = await _body(request)
    try:
        version = await _run(request, roster_down.issue_request, store, code, body, time.time())
    except roster_down.NotMember as exc:
        return web.json_response({"error": str(exc)}, status=409)
    except ValueError as exc:
        raise _bad(str(exc)) from None
    log.info("roster down change issued for project %s by token %s", code, principal(request).token_id)
    return web.json_response({"project_code": code, "version": version, "action": body["action"]}, status=201)


@op("花名册下发变更及各网关执行情况 / the project's roster-down changes and what each gateway made of them "
    "(applied, pending, skipped or failed with the fields concerned)",
    query=[q("limit", "integer", minimum=1, maximum=200), q("offset", "integer", minimum=0), _IDS_Q],
    responses={"404": "project not in scope"}, tag="registry")
async def get_roster_down(request):
    code = _project_code(request)
    store = request.app[STORE_KEY]
    await check_project(request, store, code)
    limit, offset = _paging(request, 200)
    full = _full_ids(request)
    body = await _run(request, lambda: roster_down.project_view(store, code, limit=limit, offset=offset, full=full,
                                                                 iso=_iso))
    if full:
        log.info("roster down of project %s read with full ID numbers by token %s", code, principal(request).token_id)
    return web.json_response(body)


def routes() -> list:
    return [web.get("/api/v1/persons", persons), web.get("/api/v1/persons/{person_id}", person),
            web.post("/api/v1/projects/{code}/roster-down", post_roster_down),
            web.get("/api/v1/projects/{code}/roster-down", get_roster_down)]
