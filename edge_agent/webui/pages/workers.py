"""The worker list (search by name, team, company, status; paged; ID numbers masked unless the
role needs them), a worker's page with their punches on this site, the consent record and the
head image."""

from __future__ import annotations

import logging

from aiohttp import web

from ...roster import FIELDS, InvalidState, NotFound, ValidationFailed
from ..forms import selects
from ..keys import PUNCHES, REGISTRY, RENDER, SESSION
from ..middleware import audit, lang_of, require_edit
from ..util import ref_of, run

log = logging.getLogger(__name__)
PAGE_SIZE = 20
STATUSES = ("active", "exited")


def _query(request: web.Request) -> dict:
    q = {k: request.query.get(k, "").strip()[:64] for k in ("name", "team", "company", "status")}
    if q["status"] not in STATUSES:
        q["status"] = ""
    try:
        q["page"] = max(1, min(int(request.query.get("page", "1")), 100000))
    except ValueError:
        q["page"] = 1
    return q


async def list_workers(request: web.Request) -> web.Response:
    q = _query(request)
    page = await run(request.app[REGISTRY].search, name=q["name"] or None, team=q["team"] or None,
                     company=q["company"] or None, status=q["status"] or None, limit=PAGE_SIZE,
                     offset=(q["page"] - 1) * PAGE_SIZE, full_id=request[SESSION].sees_full_id)
    lang = lang_of(request)
    work_types = dict(selects(lang)["work_type"])
    return request.app[RENDER](request, "workers.html", {
        "q": q, "page": page, "work_types": work_types, "statuses": STATUSES,
        "has_next": page.offset + len(page.items) < page.total})


async def _worker(request: web.Request, ref: str):
    try:
        return await run(request.app[REGISTRY].get, ref, full_id=request[SESSION].sees_full_id)
    except NotFound:
        raise web.HTTPNotFound() from None


def labelled(record: dict, lang: str) -> list[tuple[str, str]]:
    """(label, shown value) of every filled field, codes turned into their names."""
    sel = {k: dict(v) for k, v in selects(lang).items()}
    out = []
    for name, (zh, en) in FIELDS.items():
        v = record.get(name)
        if v in (None, ""):
            continue
        shown = sel[name].get(v, v) if name in sel else str(v)
        out.append((zh if lang == "zh" else en, shown))
    return out


async def worker_page(request: web.Request) -> web.Response:
    ref = ref_of(request)
    w = await _worker(request, ref)
    reader = request.app[PUNCHES]
    punches = await run(reader.for_worker, ref) if reader is not None else []
    history = await run(request.app[REGISTRY].consent_history, ref)
    if request[SESSION].sees_full_id:
        await audit(request, "worker.view_full_id", ref)
    return request.app[RENDER](request, "worker.html", {
        "w": w, "fields": labelled(w.record, lang_of(request)), "punches": punches, "consents": history,
        "flash": request.query.get("done") and "✓"})


async def consent(request: web.Request) -> web.Response:
    require_edit(request)
    ref = ref_of(request)
    form = await request.post()
    decision = form.get("consent")
    if decision not in ("granted", "refused"):
        raise web.HTTPBadRequest()
    try:
        await run(request.app[REGISTRY].record_consent, ref, granted=decision == "granted",
                  operator=request[SESSION].username)
    except NotFound:
        raise web.HTTPNotFound() from None
    except (InvalidState, ValidationFailed):
        raise web.HTTPConflict() from None
    await audit(request, "worker.consent", ref, decision)
    raise web.HTTPSeeOther(f"/workers/{ref}")


async def head_image(request: web.Request) -> web.Response:
    ref = ref_of(request)
    data = await run(request.app[REGISTRY].head_image, ref)
    if not data:
        raise web.HTTPNotFound()
    return web.Response(body=data, content_type="image/jpeg", headers={"Cache-Control": "no-store"})


def routes() -> list:
    return [web.get("/workers", list_workers), web.get("/workers/{ref}", worker_page),
            web.post("/workers/{ref}/consent", consent), web.get("/workers/{ref}/head.jpg", head_image)]


