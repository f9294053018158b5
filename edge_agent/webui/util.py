"""Small helpers shared by the handlers."""

from __future__ import annotations

import asyncio
import re
from functools import partial

from aiohttp import web

REF_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$", re.ASCII)


async def run(fn, *args, **kwargs):
    """Blocking work (SQLite, scrypt, face models, serial I/O) in the default executor."""
    return await asyncio.get_running_loop().run_in_executor(None, partial(fn, *args, **kwargs))


def client_of(request: web.Request) -> str:
    """The client's address (the UI is on the site LAN, no proxy in front: the socket peer)."""
    return request.remote or "?"


def ref_of(request: web.Request, name: str = "ref") -> str:
    """A worker reference from the URL; anything else (traversal, junk) is a 404."""
    ref = request.match_info.get(name, "")
    if not REF_RE.fullmatch(ref):
        raise web.HTTPNotFound()
    return ref


def local_path(value: str | None, default: str = "/") -> str:
    """Only a path on this site may be a redirect target (no open redirects)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value or "\n" in value:
        return default
    return value
