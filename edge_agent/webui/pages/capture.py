"""Face capture: the page with the live preview (periodic JPEG from the gate camera), the
capture job (quality feedback, good frames taken automatically, liveness as at the gate,
the duplicate-face check) and its state for the page to poll."""

from __future__ import annotations

import logging
import secrets

import cv2
from aiohttp import web

from ...roster import NotFound
from ..capture import CaptureJob
from ..devices import Unavailable
from ..i18n import t
from ..keys import CAPTURES, CONFIG, DEVICES, REGISTRY, RENDER, SESSION
from ..middleware import audit, lang_of, require_edit
from ..util import REF_RE, ref_of, run

log = logging.getLogger(__name__)
PREVIEW_WIDTH = 640
STATE_TEXT = {"done": "capture.done", "duplicate": "capture.duplicate", "spoof": "capture.spoof",
              "timeout": "capture.timeout", "failed": "err.500"}
JS_TEXT_KEYS = ("quality.ok", "quality.no_face", "quality.move_closer", "quality.look_at_camera", "quality.too_dark",
                "quality.too_bright", "quality.hold_still", "quality.one_at_a_time")


async def capture_page(request: web.Request) -> web.Response:
    require_edit(request)
    ref = ref_of(request)
    try:
        w = await run(request.app[REGISTRY].get, ref)
    except NotFound:
        raise web.HTTPNotFound() from None
    lang = lang_of(request)
    texts = {k: t(k, lang) for k in JS_TEXT_KEYS}
    texts.update({"challenge.blink": t("capture.blink", lang), "challenge.turn_head": t("capture.turn_head", lang)})
    texts.update({f"state.{s}": t(k, lang) for s, k in STATE_TEXT.items()})
    return request.app[RENDER](request, "capture.html", {
        "w": w, "texts": texts, "has_camera": request.app[DEVICES].camera is not None})


def _preview_jpeg(camera) -> bytes | None:
    frame = camera.latest()
    if frame is None:
        return None
    img = frame.image
    if img.shape[1] > PREVIEW_WIDTH:
        s = PREVIEW_WIDTH / img.shape[1]
        img = cv2.resize(img, (PREVIEW_WIDTH, max(1, int(img.shape[0] * s))), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 75])
    return buf.tobytes() if ok else None


async def preview(request: web.Request) -> web.Response:
    require_edit(request)         # a face is biometric data: only the staff who enroll see the camera
    camera = request.app[DEVICES].camera
    data = await run(_preview_jpeg, camera) if camera is not None else None
    if data is None:
        return web.json_response({"error": t("capture.no_camera", lang_of(request))}, status=503)
    return web.Response(body=data, content_type="image/jpeg", headers={"Cache-Control": "no-store"})


def _store(registry, operator: str, threshold: float):
    def store(ref: str, templates, head: bytes):
        # check and store in one transaction: two captures of one face cannot both pass
        dup = registry.set_templates_unless_duplicate(ref, templates, threshold, operator=operator)
        if dup is not None:
            log.warning("enrollment capture stopped: the face matches another worker's record")
            return "duplicate", dup.worker_ref
        registry.set_head_image(ref, head, operator=operator)
        return "done", None
    return store


async def start_capture(request: web.Request) -> web.Response:
    require_edit(request)
    ref = ref_of(request)
    lang = lang_of(request)
    app, devices = request.app, request.app[DEVICES]
    try:
        w = await run(app[REGISTRY].get, ref)
    except NotFound:
        raise web.HTTPNotFound() from None
    if w.status != "active" or w.consent != "granted":
        return web.json_response({"error": t("capture.no_consent", lang)}, status=409)
    if devices.camera is None:
        return web.json_response({"error": t("capture.no_camera", lang)}, status=503)
    if any(job.snapshot()["state"] == "running" for _, job in app[CAPTURES].values()):
        return web.json_response({"error": t("capture.busy", lang)}, status=409)
    try:
        backend = await run(devices.backend)
        judge = await run(devices.judge)
    except (Unavailable, FileNotFoundError, RuntimeError) as exc:
        log.error("capture unavailable: %s", type(exc).__name__)
        return web.json_response({"error": t("err.503", lang)}, status=503)
    cfg = app[CONFIG]
    job = CaptureJob(ref, devices.camera, backend, judge,
                     _store(app[REGISTRY], request[SESSION].username, devices.duplicate_threshold),
                     needed=cfg.capture_frames, timeout_s=cfg.capture_timeout_s)
    for k in [k for k, (_, j) in app[CAPTURES].items() if j.snapshot()["state"] != "running"]:
        del app[CAPTURES][k]
    job_id = secrets.token_urlsafe(12)
    app[CAPTURES][job_id] = (request[SESSION].username, job.start())
    await audit(request, "face.capture.start", ref)
    return web.json_response({"job": job_id})


async def capture_state(request: web.Request) -> web.Response:
    require_edit(request)
    job_id = request.match_info["job"]
    entry = request.app[CAPTURES].get(job_id) if REF_RE.fullmatch(job_id) else None
    if entry is None:
        raise web.HTTPNotFound()
    lang = lang_of(request)
    state = entry[1].snapshot()
    state["feedback_text"] = t(f"quality.{state['feedback'] or 'ok'}", lang)
    if state["state"] in STATE_TEXT:
        state["message"] = t(STATE_TEXT[state["state"]], lang)
    if state["state"] == "duplicate" and state["other"]:
        try:
            other = await run(request.app[REGISTRY].get, state["other"])
            state["other_label"] = f"{other.record['name']} {other.id_number_masked}"
        except NotFound:
            state["other_label"] = state["other"]
        state["other_html_url"] = f"/workers/{state['other']}"
    if state["state"] != "running" and not entry[1].audited:
        entry[1].audited = True
        await audit(request, f"face.capture.{state['state']}", entry[1].state.worker_ref, state.get("other"))
    return web.json_response(state)


def routes() -> list:
    return [web.get("/workers/{ref}/capture", capture_page), web.get("/api/camera/frame.jpg", preview),
            web.post("/api/workers/{ref}/capture", start_capture), web.get("/api/captures/{job}", capture_state)]
