"""退场 (exit): exit date, evaluation, credit remarks, wage-settlement confirmation. The
registry refuses the worker at the gate from the commit on; the records stay."""

from __future__ import annotations

from aiohttp import web

from ...roster import EVALUATIONS, InvalidState, NotFound, ValidationFailed
from ..keys import REGISTRY, RENDER, SESSION
from ..middleware import audit, lang_of, require_edit
from ..util import ref_of, run

EXIT_FIELDS = ("exit_date", "evaluation", "credit_remarks", "wage_settled")


async def _get(request, ref):
    try:
        return await run(request.app[REGISTRY].get, ref)
    except NotFound:
        raise web.HTTPNotFound() from None


def _page(request, w, values, errors, status=200):
    lang = lang_of(request)
    by_field: dict[str, list[str]] = {}
    for e in errors:
        by_field.setdefault(e.field, []).append(e.message(lang) if hasattr(e, "message") else str(e))
    evals = [(k, zh if lang == "zh" else en) for k, (zh, en) in EVALUATIONS.items()]
    return request.app[RENDER](request, "exit.html", {"w": w, "values": values, "errors": by_field,
                                                      "evaluations": evals}, status=status)


async def exit_form(request: web.Request) -> web.Response:
    require_edit(request)
    w = await _get(request, ref_of(request))
    return _page(request, w, {}, [])


async def exit_worker(request: web.Request) -> web.Response:
    require_edit(request)
    ref = ref_of(request)
    w = await _get(request, ref)
    form = await request.post()
    values = {k: form[k] for k in EXIT_FIELDS if isinstance(form.get(k), str) and form[k].strip()}
    try:
        await run(request.app[REGISTRY].exit, ref, values, operator=request[SESSION].username)
    except ValidationFailed as exc:
        return _page(request, w, values, exc.errors, 422)
    except InvalidState as exc:
        return _page(request, w, values, [_Msg("exit_date", exc.zh, exc.en)], 409)
    await audit(request, "worker.exit", ref)
    raise web.HTTPSeeOther(f"/workers/{ref}")


class _Msg:
    def __init__(self, field, zh, en):
        self.field, self.zh, self.en = field, zh, en

    def message(self, lang):
        return self.zh if lang == "zh" else self.en


def routes() -> list:
    return [web.get("/workers/{ref}/exit", exit_form), web.post("/workers/{ref}/exit", exit_worker)]
