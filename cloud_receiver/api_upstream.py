"""The national-platform upload's state (requirement 13), registered by :func:`cloud_receiver.api.make_app`.

``GET /api/v1/upstream/status`` (city role only; others 403 like ``/api/v1/stats``): whether the
upload is enabled in this receiver's config, counts per object kind and state, attendance batches
per state, per project the ledger cursor, the rows not looked at yet (``ledger_backlog``), the
punches waiting for their worker by reason, open batches; the latest failures with the platform's
reason and the objects being retried. No ID numbers: workers are keyed by the registry's person_id.
"""

from __future__ import annotations

from aiohttp import web

from .api import STORE_KEY, _run
from .auth import require_role
from .openapi import CITY, op

UPSTREAM_ENABLED_KEY = web.AppKey("upstream_enabled", bool)


def configure(app: web.Application, enabled: bool) -> None:
    app[UPSTREAM_ENABLED_KEY] = enabled


@op("国家平台上传状态 / national platform upload state (city only)", roles=CITY, tag="upstream")
async def upstream_status(request):
    require_role(request, "city")
    out = await _run(request, request.app[STORE_KEY].upstream_status)
    return web.json_response({"enabled": request.app.get(UPSTREAM_ENABLED_KEY, False), **out})


def routes() -> list:
    return [web.get("/api/v1/upstream/status", upstream_status)]
