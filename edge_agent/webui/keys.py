"""The web application's keys: what :func:`edge_agent.webui.app.make_app` puts into it."""

from __future__ import annotations

from typing import Any, Callable

from aiohttp import web

from .accounts import Accounts
from .config import WebUIConfig

CONFIG = web.AppKey("webui_config", WebUIConfig)
ACCOUNTS = web.AppKey("accounts", Accounts)
REGISTRY = web.AppKey("registry", object)          # edge_agent.roster.WorkerRegistry
DEVICES = web.AppKey("devices", object)            # edge_agent.webui.devices.Devices
PUNCHES = web.AppKey("punches", object)            # edge_agent.webui.punches.PunchReader (or None)
RENDER = web.AppKey("render", Callable[..., Any])  # edge_agent.webui.render.Renderer
JOBS = web.AppKey("jobs", dict)                    # import jobs by id
CAPTURES = web.AppKey("captures", dict)            # capture sessions by id

# per request (set by the session middleware)
SESSION = web.RequestKey("session", object)        # accounts.Session or None
TOKEN = web.RequestKey("token", str)               # the session cookie's token ("" = none)
LOGIN_CSRF = web.RequestKey("login_csrf", str)     # the login form's pre-session CSRF token
