"""Request guards of the web UI, in order: error pages, security headers, body limits and
content types (refused before the body is read), the session, CSRF on every state change.

Every refusal is a clear zh-CN (or English) message: an HTML page for the browser, JSON
``{"error": ...}`` for ``/api/`` paths.
"""

from __future__ import annotations

import hmac
import logging
import secrets

from aiohttp import web

from .i18n import pick_lang, t
from .keys import ACCOUNTS, CONFIG, LOGIN_CSRF, RENDER, SESSION, TOKEN
from .util import client_of, run

log = logging.getLogger(__name__)

SESSION_COOKIE = "rn_session"
LOGIN_CSRF_COOKIE = "rn_login_csrf"
LANG_COOKIE = "rn_lang"
PUBLIC = frozenset({"/", "/login", "/lang", "/healthz"})     # and /static/...
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
SMALL_BODY = 256 * 1024             # every form but an upload
UPLOAD_PATHS = ("/import",)
CSP = ("default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
       "object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")


def lang_of(request: web.Request) -> str:
    s = request.get(SESSION)
    return s.lang if s is not None else pick_lang(request.cookies.get(LANG_COOKIE))


def wants_json(request: web.Request) -> bool:
    return request.path.startswith("/api/")


def refuse(request: web.Request, status: int, key: str | None = None, *, detail: str | None = None):
    """The response for a refusal; ``detail`` (already user-facing text) is added to the message."""
    lang = lang_of(request)
    msg = t(key or f"err.{status}", lang)
    if detail:
        msg = f"{msg}: {detail}"
    if wants_json(request):
        return web.json_response({"error": msg}, status=status)
    return request.app[RENDER](request, "error.html", {"status": status, "message": msg}, status=status)


@web.middleware
async def errors(request: web.Request, handler):
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return refuse(request, exc.status)
    except Exception:       # noqa: BLE001 - a crash is a 500 page, never a traceback to the browser
        log.exception("web UI handler failed: %s %s", request.method, request.rel_url.path)
        return refuse(request, 500)


@web.middleware
async def security_headers(request: web.Request, handler):
    resp = await handler(request)
    resp.headers.setdefault("Content-Security-Policy", CSP)
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["X-Frame-Options"] = "DENY"
    resp.headers["Referrer-Policy"] = "no-referrer"
    if not request.path.startswith("/static/"):
        resp.headers["Cache-Control"] = "no-store"
    return resp


@web.middleware
async def body_limits(request: web.Request, handler):
    """Refuse oversize or chunked bodies from their headers, before anything reads them."""
    if request.method in ("POST", "PUT", "PATCH", "DELETE"):
        limit = request.app[CONFIG].max_upload_bytes if request.path in UPLOAD_PATHS else SMALL_BODY
        length = request.content_length
        if length is None and request.body_exists:
            return refuse(request, 411)
        if length is not None and length > limit:
            return refuse(request, 413, detail=f"≤ {limit // 1024} KB")
        ctype = request.content_type
        if request.body_exists and length:
            allowed = ("application/json",) if wants_json(request) else FORM_TYPES
            if ctype not in allowed:
                return refuse(request, 415)
    return await handler(request)


def set_cookie(request: web.Request, resp: web.StreamResponse, name: str, value: str, max_age: int | None) -> None:
    resp.set_cookie(name, value, max_age=max_age, path="/", httponly=True, samesite="Strict",
                    secure=bool(request.app[CONFIG].tls_cert_file))


@web.middleware
async def sessions(request: web.Request, handler):
    token = request.cookies.get(SESSION_COOKIE, "")
    session = await run(request.app[ACCOUNTS].session, token) if token else None
    request[SESSION], request[TOKEN] = session, token if session else ""
    if session is None and request.path not in PUBLIC and not request.path.startswith("/static/"):
        if wants_json(request):
            return refuse(request, 401)
        raise web.HTTPSeeOther("/login")
    return await handler(request)


async def form_token(request: web.Request) -> str:
    """The CSRF token a request carries: ``X-CSRF-Token`` header, or the ``csrf`` form field."""
    header = request.headers.get("X-CSRF-Token")
    if header is not None:
        return header
    if request.content_type in FORM_TYPES:
        form = await request.post()
        value = form.get("csrf", "")
        return value if isinstance(value, str) else ""
    return ""


@web.middleware
async def csrf(request: web.Request, handler):
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        origin = request.headers.get("Origin")
        if origin and origin != "null" and origin.split("://", 1)[-1] != request.host:
            return refuse(request, 403, "err.403.csrf")
        session = request[SESSION]
        expected = session.csrf if session else request.cookies.get(LOGIN_CSRF_COOKIE, "")
        got = await form_token(request)
        if not expected or not got or not hmac.compare_digest(expected.encode(), got.encode("utf-8", "replace")):
            log.warning("CSRF token missing or wrong on %s %s", request.method, request.rel_url.path)
            return refuse(request, 403, "err.403.csrf")
    return await handler(request)


def login_csrf(request: web.Request) -> str:
    """The pre-session CSRF token (double-submit cookie) for the login form."""
    return request.get(LOGIN_CSRF) or request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(32)


def require_edit(request: web.Request) -> None:
    if not request[SESSION].can_edit:
        raise web.HTTPForbidden()


def audit(request: web.Request, action: str, target: str | None = None, detail: str | None = None):
    s = request[SESSION]
    return run(request.app[ACCOUNTS].audit, s.username if s else None, client_of(request), action, target, detail)
