"""HTML rendering: Jinja2 with autoescape on for every template (names and remarks typed by
anyone end up in pages: they are escaped, never trusted)."""

from __future__ import annotations

import time
from pathlib import Path

import jinja2
from aiohttp import web

from .i18n import t
from .keys import SESSION

TEMPLATES = Path(__file__).resolve().parent / "templates"


class Renderer:
    def __init__(self, csrf_for_login):
        self.env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)),
                                      autoescape=True,
                                      trim_blocks=True, lstrip_blocks=True)
        self.env.filters["datetime"] = lambda t: time.strftime("%Y-%m-%d %H:%M", time.localtime(t)) if t else ""
        self._login_csrf = csrf_for_login

    def __call__(self, request: web.Request, name: str, ctx: dict | None = None, *, status: int = 200,
                 headers: dict | None = None) -> web.Response:
        from .middleware import lang_of
        session = request.get(SESSION)
        lang = lang_of(request)
        base = {"lang": lang, "_": lambda key: t(key, lang), "session": session,
                "csrf": session.csrf if session else self._login_csrf(request), "path": request.path_qs}
        html = self.env.get_template(name).render(**base, **(ctx or {}))
        return web.Response(text=html, status=status, content_type="text/html", charset="utf-8", headers=headers)
