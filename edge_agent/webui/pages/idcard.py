"""``POST /api/idcard/read``: one poll of the configured ID card reader, for the enroll form.

Returns the card's fields for the form (full values: the labour officer is typing them in
anyway; they go to this browser only, never to a log) and keeps the chip photo's raw WLT
bytes server-side under a one-time reference the form sends back on save.
"""

from __future__ import annotations

import logging
import secrets
import time

from aiohttp import web

from ...drivers.idcard_protocol import CardRejected, IdCardReaderError

from ..i18n import t
from ..keys import DEVICES
from ..middleware import audit, lang_of, require_edit
from ..util import run

log = logging.getLogger(__name__)

PHOTO_TTL_S = 3600.0
PHOTOS = web.AppKey("idcard_photos", dict)     # ref -> (expires, photo bytes, id number)


def poll_reader(devices):
    with devices.idcard_lock:
        try:
            return "ok", devices.idcard.poll()
        except CardRejected as exc:
            return "rejected", exc.reason
        except IdCardReaderError:
            return "error", None


async def read_card(request: web.Request) -> web.Response:
    require_edit(request)
    lang = lang_of(request)
    devices = request.app[DEVICES]
    if devices.idcard is None:
        return web.json_response({"status": "off", "message": t("enroll.swipe.off", lang)}, status=503)
    status, value = await run(poll_reader, devices)
    if status == "error":
        return web.json_response({"status": "error", "message": t("enroll.swipe.fail", lang)}, status=503)
    if status == "rejected":      # value-free reason (names the field and the rule)
        return web.json_response({"status": "rejected", "message": f"{t('enroll.swipe.fail', lang)}: {value}"},
                                 status=422)
    if value is None:
        return web.json_response({"status": "none", "message": t("enroll.swipe.none", lang)})
    record = value
    now = time.monotonic()
    photos = request.app[PHOTOS]
    for k in [k for k, v in photos.items() if v[0] < now]:
        del photos[k]
    ref = secrets.token_urlsafe(16)
    photos[ref] = (now + PHOTO_TTL_S, record.photo_wlt, record.id_number)
    fields = record.form_fields()
    fields["id_valid_from"] = fields.pop("valid_from")
    until = fields.pop("valid_until")
    fields["id_valid_to"] = "long_term" if record.long_term else until
    await audit(request, "idcard.read")
    return web.json_response({"status": "ok", "message": t("enroll.swipe.ok", lang), "fields": fields,
                              "photo_ref": ref, "expired": record.is_expired()})


def photo_for(app: web.Application, ref: str, id_number: str) -> bytes | None:
    """The chip photo read under ``ref``, if it belongs to ``id_number`` (kept until
    :func:`drop_photo`, so a form sent back with errors keeps its photo)."""
    entry = app[PHOTOS].get(ref) if ref else None
    if entry is None or entry[2] != id_number or entry[0] < time.monotonic():
        return None
    return entry[1]


def drop_photo(app: web.Application, ref: str) -> None:
    app[PHOTOS].pop(ref, None)


def routes() -> list:
    return [web.post("/api/idcard/read", read_card)]
