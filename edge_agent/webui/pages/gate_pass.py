"""刷证通行 (ID card pass): the way through for a worker who refused face processing.

The worker swipes the ID card (or staff type the number when the reader fails); the page shows
the matched worker and whether they may pass: only an active worker of this project without
face consent (refused, withdrawn or never given). Staff pick the gate and direction and confirm:
a ``kind="manual"`` punch with the staff user as ``operator`` goes through
:meth:`~edge_agent.gate_controller.GateController.decide`, committed before the gate opens.
One such pass per worker and direction within the pipeline's cool-down (checked on the ledger,
so it holds across restarts and browsers).
"""

from __future__ import annotations

import logging
import re
import threading
import time

from aiohttp import web

from ...clock import epoch_of
from ...gate import GateDecision
from ...ledger import BOOT_ID
from ..i18n import t
from ..keys import DEVICES, REGISTRY, RENDER, SESSION
from ..middleware import audit, lang_of, require_edit
from ..util import REF_RE, run
from .idcard import poll_reader

log = logging.getLogger(__name__)

REASON = "刷身份证通行(未同意人脸)"
GATES = web.AppKey("gate_pass_gates", dict)          # gate_id -> GateController
COOLDOWN_S = web.AppKey("gate_pass_cooldown_s", float)
PASS_LOCK = web.AppKey("gate_pass_lock", object)      # cool-down check + decision, one at a time
ID_RE = re.compile(r"^[0-9A-Za-z]{6,32}$", re.ASCII)
ID_TYPE_RE = re.compile(r"^[0-9A-Za-z]{1,4}$", re.ASCII)


def install(app: web.Application, gates: dict | None, cooldown_s: float) -> None:
    app[GATES] = dict(gates or {})
    app[COOLDOWN_S] = float(cooldown_s)
    app[PASS_LOCK] = threading.Lock()


def verdict(w) -> str:
    """Why ``w`` (a roster Worker or None) may or may not pass here: ``ok`` or a message key."""
    if w is None:
        return "gatepass.unknown"
    if w.status != "active":
        return "gatepass.exited"
    if w.consent == "granted":
        return "gatepass.use_face"
    return "ok"


def _directions(gate) -> tuple[str, ...]:
    d = gate.gate.direction
    return ("in", "out") if d == "both" else (d,)


def passed_recently(ledger, worker_ref: str, direction: str, seconds: float) -> bool:
    """A punch of ``worker_ref`` in ``direction`` younger than ``seconds`` in ``ledger``. Age as in
    :meth:`edge_agent.pipeline.cooldown.Cooldown.restore`: monotonic within this boot, else
    device time; read back from the head only as far as the cool-down reaches."""
    if seconds <= 0:
        return False
    now_wall, now_mono = time.time(), time.monotonic_ns() / 1e9

    def age(e) -> float:
        return now_mono - e.monotonic_ns / 1e9 if e.boot_id == BOOT_ID else now_wall - epoch_of(e.device_time)

    head, span = ledger.head_seq, 64
    while True:
        first = max(1, head - span + 1)
        entries = ledger.entries(first)
        if first == 1 or not entries or age(entries[0]) >= seconds:
            break
        span *= 4
    return any(e.type == "punch" and e.worker_ref == worker_ref and e.direction == direction
               and age(e) < seconds for e in entries)


def _page(request, *, w=None, status_key: str | None = None, result=None, message: str | None = None,
          values: dict | None = None, code: int = 200) -> web.Response:
    lang = lang_of(request)
    gates = [(gid, _directions(g)) for gid, g in sorted(request.app[GATES].items())]
    ctx = {"w": w, "ok": status_key == "ok", "verdict": t("gatepass.ok" if status_key == "ok" else status_key, lang) if status_key else None,
           "result": result, "message": message, "values": values or {}, "gates": gates,
           "reader": request.app[DEVICES].idcard is not None}
    return request.app[RENDER](request, "gate_pass.html", ctx, status=code)


async def _show(request, id_type: str, id_number: str, values: dict) -> web.Response:
    w = await run(request.app[REGISTRY].find_latest_by_id, id_type, id_number)
    key = verdict(w)
    await audit(request, "gatepass.lookup", w.worker_ref if w else None, key)
    return _page(request, w=w, status_key=key, values=values, code=200 if key == "ok" else 403 if w else 404)


async def form(request: web.Request) -> web.Response:
    require_edit(request)
    return _page(request)


async def swipe(request: web.Request) -> web.Response:
    require_edit(request)
    lang = lang_of(request)
    devices = request.app[DEVICES]
    if devices.idcard is None:
        return _page(request, message=t("enroll.swipe.off", lang), code=503)
    status, value = await run(poll_reader, devices)
    if status == "error":
        return _page(request, message=t("enroll.swipe.fail", lang), code=503)
    if status == "rejected":        # value-free reason
        return _page(request, message=f"{t('enroll.swipe.fail', lang)}: {value}", code=422)
    if value is None:
        return _page(request, message=t("enroll.swipe.none", lang))
    return await _show(request, "01", value.id_number, {})


def parse_id(form) -> tuple[str, str] | None:
    """(ID type, ID number) typed by staff, normalised, or None when either is not plausible."""
    id_type = form.get("id_type", "01")
    id_number = form.get("id_number", "")
    if not isinstance(id_type, str) or not isinstance(id_number, str):
        return None
    id_number = id_number.strip().upper()
    if not ID_TYPE_RE.fullmatch(id_type) or not ID_RE.fullmatch(id_number):
        return None
    return id_type, id_number


async def lookup(request: web.Request) -> web.Response:
    require_edit(request)
    parsed = parse_id(await request.post())
    if parsed is None:
        return _page(request, message=t("gatepass.bad_id", lang_of(request)), code=422)
    return await _show(request, *parsed, {"id_type": parsed[0]})


def _pass(app, worker_ref: str, gate, direction: str, operator: str):
    """Under the lock: re-check the worker, the cool-down, then decide (commit, then open)."""
    from ...roster import NotFound
    with app[PASS_LOCK]:
        try:
            w = app[REGISTRY].get(worker_ref)
        except NotFound:
            w = None
        key = verdict(w)
        if key != "ok":
            return key, w, None
        if passed_recently(gate.recorder.ledger, worker_ref, direction, app[COOLDOWN_S]):
            return "gatepass.cooldown", w, None
        entry = gate.decide(GateDecision(gate.gate_id, direction, worker_ref=worker_ref, kind="manual",
                                         operator=operator, manual_reason=REASON))
        return "ok", w, entry


async def confirm(request: web.Request) -> web.Response:
    require_edit(request)
    lang = lang_of(request)
    f = await request.post()
    ref, gate_id, direction = (f.get(k) if isinstance(f.get(k), str) else "" for k in ("worker_ref", "gate", "direction"))
    gate = request.app[GATES].get(gate_id)
    if not REF_RE.fullmatch(ref or "") or gate is None or direction not in _directions(gate):
        return _page(request, message=t("gatepass.bad_request", lang), code=422)
    key, w, entry = await run(_pass, request.app, ref, gate, direction, request[SESSION].username)
    if entry is None:
        await audit(request, "gatepass.refused", ref, key)
        return _page(request, w=w, message=t(key, lang), code=409 if key == "gatepass.cooldown" else 403)
    await audit(request, "gatepass.pass", ref, f"{gate_id}/{direction}/seq={entry.seq}")
    if entry.type != "punch":        # the gate is faulted: the attempt is on record, nothing opened
        log.warning("ID card pass refused by gate %s (%s)", gate_id, entry.reject_reason)
        return _page(request, w=w, message=t("gatepass.gate_fault", lang), code=503)
    log.info("ID card pass committed: gate %s %s seq %s", gate_id, direction, entry.seq)
    return _page(request, w=w, result={"gate": gate_id, "direction": direction, "seq": entry.seq})


def routes() -> list:
    return [web.get("/gate-pass", form), web.post("/gate-pass/swipe", swipe),
            web.post("/gate-pass/lookup", lookup), web.post("/gate-pass/confirm", confirm)]
