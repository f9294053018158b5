"""The enroll form: every field of the registry, dropdowns from its code tables, the ID card
swipe, a separate consent choice for face processing. The registry validates; its messages
are shown beside their fields and nothing is saved unless everything is right."""

from __future__ import annotations

import logging

from aiohttp import web

from ...roster import FIELDS, FieldError, InvalidState, NotFound, ValidationFailed, validate_worker
from ..forms import form_values, layout
from ..keys import DEVICES, REGISTRY, RENDER, SESSION
from ..middleware import audit, lang_of, require_edit
from ..util import ref_of, run
from .idcard import drop_photo, photo_for

log = logging.getLogger(__name__)
CONSENT_ERROR = FieldError("consent", "请选择是否同意人脸信息处理", "choose whether the worker consents to face processing")


def _page(request, values: dict, errors: list[FieldError], status: int = 200, edit=None) -> web.Response:
    lang = lang_of(request)
    by_field: dict[str, list[str]] = {}
    for e in errors:
        by_field.setdefault(e.field, []).append(e.message(lang))
    return request.app[RENDER](request, "enroll.html", {
        "sections": layout(lang), "values": values, "errors": by_field,
        "other_errors": [m for f, ms in by_field.items() if f not in {i.name for _, s in layout(lang) for i in s}
                         and f != "consent" for m in ms],
        "has_reader": request.app[DEVICES].idcard is not None and edit is None, "edit": edit}, status=status)


async def enroll_form(request: web.Request) -> web.Response:
    require_edit(request)
    return _page(request, {}, [])


async def enroll(request: web.Request) -> web.Response:
    require_edit(request)
    form = await request.post()
    values = form_values(form)
    consent = form.get("consent")
    photo_ref = form.get("photo_ref") if isinstance(form.get("photo_ref"), str) else ""
    shown = {**values, "consent": consent if isinstance(consent, str) else "", "photo_ref": photo_ref}
    if consent not in ("granted", "refused"):
        _, errors = await run(validate_worker, values)
        return _page(request, shown, [*errors, CONSENT_ERROR], 422)
    registry, operator = request.app[REGISTRY], request[SESSION].username
    id_number = values.get("id_number", "").strip().upper()
    photo = photo_for(request.app, photo_ref, id_number)
    try:
        # record, consent decision and chip photo: one commit, never an enrollment without its consent
        worker = await run(registry.enroll, values, operator=operator, consent=consent == "granted",
                           chip_photo=photo)
    except ValidationFailed as exc:
        return _page(request, shown, exc.errors, 422)
    if photo is not None:
        drop_photo(request.app, photo_ref)
    await audit(request, "worker.enroll", worker.worker_ref, f"consent={consent}")
    target = f"/workers/{worker.worker_ref}/capture" if consent == "granted" else f"/workers/{worker.worker_ref}"
    raise web.HTTPSeeOther(target)


FIXED = ("id_type", "id_number")      # another ID is another person: a new enrollment, never an edit


async def _worker(request, ref):
    try:
        return await run(request.app[REGISTRY].get, ref, full_id=request[SESSION].sees_full_id)
    except NotFound:
        raise web.HTTPNotFound() from None


async def edit_form(request: web.Request) -> web.Response:
    """Correct an active worker's record (every field but the ID type and number)."""
    require_edit(request)
    w = await _worker(request, ref_of(request))
    if w.status != "active":
        raise web.HTTPConflict()
    values = {k: ("" if v is None else str(v)) for k, v in w.record.items()}
    return _page(request, values, [], edit=w)


async def edit(request: web.Request) -> web.Response:
    require_edit(request)
    ref = ref_of(request)
    w = await _worker(request, ref)
    form = await request.post()
    changes = {n: v.strip() if isinstance(v := form.get(n, ""), str) else "" for n in FIELDS if n not in FIXED}
    try:
        await run(request.app[REGISTRY].update, ref, changes, operator=request[SESSION].username)
    except ValidationFailed as exc:
        shown = {**changes, **{k: w.record.get(k) or "" for k in FIXED}}
        return _page(request, shown, exc.errors, 422, edit=w)
    except InvalidState:
        raise web.HTTPConflict() from None
    await audit(request, "worker.update", ref)
    raise web.HTTPSeeOther(f"/workers/{ref}")


def routes() -> list:
    return [web.get("/enroll", enroll_form), web.post("/enroll", enroll),
            web.get("/workers/{ref}/edit", edit_form), web.post("/workers/{ref}/edit", edit)]
