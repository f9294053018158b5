"""Bulk import from a spreadsheet (CSV / XLSX): upload (size refused from the headers, before
reading), the registry's importer runs in a thread, the page shows progress and then the
per-row report (every bad row with every reason; good rows are imported)."""

from __future__ import annotations

import logging
import secrets
import threading
from dataclasses import dataclass, field

from aiohttp import web

from ...roster import ImportFileError, import_workers
from ..i18n import t
from ..keys import ACCOUNTS, JOBS, REGISTRY, RENDER, SESSION
from ..middleware import audit, lang_of, require_edit
from ..util import REF_RE, client_of

log = logging.getLogger(__name__)
SUFFIXES = (".csv", ".xlsx")
MAX_JOBS = 20


@dataclass
class ImportJob:
    filename: str
    operator: str
    done: int = 0
    total: int = 0
    state: str = "running"            # running | done | failed
    report: object = None
    error: tuple[str, str] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def progress(self, done: int, total: int) -> None:
        with self.lock:
            self.done, self.total = done, total


def _run(job: ImportJob, registry, data: bytes, audit) -> None:
    try:
        report = import_workers(registry, data, job.filename, operator=job.operator, progress=job.progress)
        job.report, job.state = report, "done"
        audit(f"rows={report.rows} imported={len(report.imported)} bad={len(report.bad_rows)}")
    except ImportFileError as exc:
        job.error, job.state = (exc.zh, exc.en), "failed"
    except Exception:       # noqa: BLE001 - the page must say it failed
        log.exception("import failed")
        job.error, job.state = (t("err.500", "zh"), t("err.500", "en")), "failed"


async def import_form(request: web.Request) -> web.Response:
    require_edit(request)
    return request.app[RENDER](request, "import.html", {"job": None, "error": None})


async def upload(request: web.Request) -> web.Response:
    require_edit(request)
    lang = lang_of(request)
    form = await request.post()
    f = form.get("file")
    if f is None or isinstance(f, str) or not getattr(f, "filename", ""):
        return request.app[RENDER](request, "import.html", {"job": None, "error": t("import.no_file", lang)},
                                   status=400)
    name = f.filename.replace("\\", "/").rsplit("/", 1)[-1][:128]      # a path in the name is not ours to follow
    if not name.lower().endswith(SUFFIXES):
        return request.app[RENDER](request, "import.html", {"job": None, "error": t("import.bad_type", lang)},
                                   status=415)
    data = f.file.read()
    jobs = request.app[JOBS]
    for k in list(jobs)[:-MAX_JOBS]:
        if jobs[k].state != "running":
            del jobs[k]
    job = ImportJob(name, request[SESSION].username)
    job_id = secrets.token_urlsafe(12)
    jobs[job_id] = job
    accounts, client = request.app[ACCOUNTS], client_of(request)

    def audit_done(detail: str) -> None:
        accounts.audit(job.operator, client, "import.done", None, detail)
    threading.Thread(target=_run, args=(job, request.app[REGISTRY], data, audit_done), name="webui-import",
                     daemon=True).start()
    await audit(request, "import.start", None, f"{len(data)} bytes")
    raise web.HTTPSeeOther(f"/import/{job_id}")


async def job_page(request: web.Request) -> web.Response:
    require_edit(request)
    job_id = request.match_info["job"]
    job = request.app[JOBS].get(job_id) if REF_RE.fullmatch(job_id) else None
    if job is None:
        raise web.HTTPNotFound()
    lang = lang_of(request)
    error = None
    if job.error:
        error = job.error[0] if lang == "zh" else job.error[1]
    return request.app[RENDER](request, "import.html", {"job": job, "job_id": job_id, "error": error})


async def job_state(request: web.Request) -> web.Response:
    require_edit(request)
    job_id = request.match_info["job"]
    job = request.app[JOBS].get(job_id) if REF_RE.fullmatch(job_id) else None
    if job is None:
        raise web.HTTPNotFound()
    r = job.report
    return web.json_response({"state": job.state, "done": job.done, "total": job.total,
                              "imported": len(r.imported) if r else 0, "bad_rows": r.bad_rows if r else []})


def routes() -> list:
    return [web.get("/import", import_form), web.post("/import", upload), web.get("/import/{job}", job_page),
            web.get("/api/import/{job}", job_state)]
