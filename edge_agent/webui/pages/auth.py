"""Login, logout and the language switch."""

from __future__ import annotations

import logging

from aiohttp import web

from ..i18n import pick_lang, t
from ..keys import ACCOUNTS, CONFIG, LOGIN_CSRF, RENDER, SESSION, TOKEN
from ..middleware import LANG_COOKIE, LOGIN_CSRF_COOKIE, SESSION_COOKIE, lang_of, login_csrf, set_cookie
from ..util import client_of, local_path, run

log = logging.getLogger(__name__)


def _login_page(request: web.Request, error: str | None = None, status: int = 200) -> web.Response:
    token = login_csrf(request)
    request[LOGIN_CSRF] = token
    resp = request.app[RENDER](request, "login.html", {"error": error}, status=status)
    set_cookie(request, resp, LOGIN_CSRF_COOKIE, token, None)
    return resp


async def login_form(request: web.Request) -> web.Response:
    if request[SESSION] is not None:
        raise web.HTTPSeeOther("/workers")
    return _login_page(request)


async def login(request: web.Request) -> web.Response:
    form = await request.post()
    username, password = form.get("username", ""), form.get("password", "")
    if not isinstance(username, str) or not isinstance(password, str):
        return _login_page(request, t("err.400", lang_of(request)), 400)
    lang = lang_of(request)
    result = await run(request.app[ACCOUNTS].login, username.strip(), password, client_of(request), lang)
    if not result.ok:
        return _login_page(request, t("login.locked" if result.locked else "login.failed", lang),
                           429 if result.locked else 401)
    resp = web.HTTPSeeOther("/workers")
    set_cookie(request, resp, SESSION_COOKIE, result.token, int(request.app[CONFIG].session_ttl_s))
    resp.del_cookie(LOGIN_CSRF_COOKIE, path="/")
    raise resp


async def logout(request: web.Request) -> web.Response:
    if request[TOKEN]:
        await run(request.app[ACCOUNTS].logout, request[TOKEN])
        await run(request.app[ACCOUNTS].audit, request[SESSION].username, client_of(request), "logout")
    resp = web.HTTPSeeOther("/login")
    resp.del_cookie(SESSION_COOKIE, path="/")
    raise resp


async def switch_lang(request: web.Request) -> web.Response:
    """GET /lang?to=en&next=/workers: harmless (no data changes), so no CSRF token."""
    lang = pick_lang(request.query.get("to"))
    resp = web.HTTPSeeOther(local_path(request.query.get("next"), "/workers"))
    set_cookie(request, resp, LANG_COOKIE, lang, 365 * 86400)
    if request[TOKEN]:
        await run(request.app[ACCOUNTS].set_lang, request[TOKEN], lang)
    raise resp


async def root(request: web.Request) -> web.Response:
    raise web.HTTPSeeOther("/workers" if request[SESSION] else "/login")


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


def routes() -> list:
    return [web.get("/", root), web.get("/login", login_form), web.post("/login", login),
            web.post("/logout", logout), web.get("/lang", switch_lang), web.get("/healthz", healthz)]
