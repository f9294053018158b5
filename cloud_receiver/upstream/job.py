"""The upload job: what goes to the national platform, in which order, with durable state.

One :meth:`UploadJob.run_once` (the sweep loop's :class:`UpstreamHook`, or ``cloud-receiver
upstream run-once``) does bounded work (at most ``max_requests_per_run`` platform calls):

1. takes the uploader lease (``upstream_lease``): receivers sharing a store upload one at a time;
2. per project (``projects``, or every project): turns registry memberships changed since the
   last look into objects (company, team, worker, entry/exit: :mod:`.mapping`), and moves the
   ledger cursor (``ingest_no``) over settled rows, queueing the attendance punches;
3. per kind in the platform's order (company → team → worker → entry/exit): polls the submitted
   writes (``AsyncHandleResult.Query``), then submits the due pending ones whose prerequisite is
   done (a team's company; a worker's team, whose teamSysNo it carries; an entry/exit's worker,
   and an exit's entry);
4. attendance: queued punches whose worker is done are grouped per team into batches of
   ``batch_size``; batches are polled and submitted like objects. A punch dated ahead of the
   receiver's clock (a gateway clock set wrong) waits (``future_time``): the platform refuses
   dates in the future, and would refuse the whole batch with it.

**States and retries.** Every call is bracketed by commits: before it, the attempt is counted
and the next try set as if it failed (a crash retries later); after it, the outcome (serial →
``submitted``; result → ``done`` / ``failed``). Retryable errors (transport, 5xx, garbage,
a signature the platform calls wrong) back off exponentially with jitter up to ``max_backoff_s``
and end the run (the platform is struggling: no point hammering it); a refusal of the data marks
that object ``failed`` with the platform's reason, and only what depends on it waits (a team's
workers, a worker's entry/exit and attendance: the punches stay queued, counted by reason).
"Already exists" (on submit or in the result) is ``done``; for a team the platform's teamSysNo
is then read with ``Team.Query``. A failed object goes back to pending when its registry row
changes (a corrected record).

**Crashes.** State is in the store, so a new job resumes where the last stopped. A crash after
a submit reached the platform but before its serial was stored resubmits: objects answer
"already exists" (= done). An attendance batch has no such answer: the batch is sent again and
the platform may hold its records twice (same person, second, direction and gate: identical
records, which count no extra day or hour). The window is one call per crash.

**PostgreSQL commit order.** ``ingest_no`` is taken at insert, and concurrent receivers commit
in any order, so a row numbered below the cursor could become visible after it: the cursor
only passes rows received more than ``settle_s`` ago (longer than any ingest transaction).
"""

from __future__ import annotations

import logging
import os
import random
import json
import socket
import time
from dataclasses import dataclass, field

from ..supervision.hooks import IntervalHook
from . import mapping
from .config import UpstreamConfig, read_appsecret
from .national import NationalCredentials, UpstreamError, says_already_exists

log = logging.getLogger(__name__)

BACKOFF_BASE_S = 5.0
LEASE_MIN_S = 300.0
DISCOVER_PAGE = 5000


class _StopRun(Exception):
    """The rest of this run waits for the next one: the platform is not answering well
    (``trouble``), or the run's request budget is used."""

    def __init__(self, reason: str, trouble: bool = True):
        super().__init__(reason)
        self.trouble = trouble


@dataclass
class RunSummary:
    lease: bool = True
    requests: int = 0
    submitted: dict = field(default_factory=dict)
    done: dict = field(default_factory=dict)
    failed: dict = field(default_factory=dict)
    retry: int = 0
    queued: int = 0
    skipped: int = 0
    batches: int = 0
    stopped: str | None = None          # platform trouble ended the run early
    budget_used: bool = False           # max_requests_per_run reached: more next run

    def count(self, what: dict, kind: str) -> None:
        what[kind] = what.get(kind, 0) + 1

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def make_client(cfg: UpstreamConfig):
    from .national_client import NationalClient

    creds = NationalCredentials(cfg.appid, read_appsecret(cfg.appsecret_file))
    return NationalClient(cfg.endpoint, creds, timeout_s=cfg.timeout_s)


class UploadJob:
    def __init__(self, store, client, cfg: UpstreamConfig, *, holder: str | None = None, rng=random.random):
        self.store, self.client, self.cfg = store, client, cfg
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self._rng = rng

    # ---- the run ---------------------------------------------------------------------------
    def run_once(self, now: float | None = None) -> dict:
        now = time.time() if now is None else now
        s = RunSummary()
        if not self.store.upstream_lease(self.holder, now, max(LEASE_MIN_S, 3 * self.cfg.interval_s)):
            s.lease = False
            return s.as_dict()
        projects = list(self.cfg.projects) or self.store.upstream_project_codes()
        self._projects = frozenset(projects)
        for p in projects:
            self._discover(p, now)
            self._pull_ledger(p, now, s)
        try:
            for kind in mapping.KINDS:
                self._poll(kind, now, s)
                self._submit(kind, now, s)
            for p in projects:
                s.batches += self._form_batches(p, now)
            self._poll("attendance", now, s)
            self._submit("attendance", now, s)
        except _StopRun as e:
            if e.trouble:
                s.stopped = str(e)
            else:
                s.budget_used = True
        if s.requests or s.stopped:
            log.info("upstream run: %s calls, submitted %s, done %s, failed %s, retry %s%s", s.requests,
                     s.submitted, s.done, s.failed, s.retry, f", stopped ({s.stopped})" if s.stopped else "")
        return s.as_dict()

    def _backoff(self, attempts: int) -> float:
        base = min(self.cfg.max_backoff_s, BACKOFF_BASE_S * 2 ** max(0, min(attempts - 1, 30)))
        return base * (0.5 + 0.5 * self._rng())

    def _call(self, s: RunSummary, fn, *args):
        if s.requests >= self.cfg.max_requests_per_run:
            raise _StopRun("request budget of this run used", trouble=False)
        s.requests += 1
        return fn(*args)

    # ---- discovery -------------------------------------------------------------------------
    def _discover(self, project: str, now: float) -> None:
        seen = self.store.upstream_cursor(project)["registry_seen_at"] or 0.0
        # settled rows only, like the ledger: a registry change committed late must not fall behind the mark
        rows = self.store.upstream_memberships_since(project, seen, now - self.cfg.settle_s, DISCOVER_PAGE)
        if len(rows) == DISCOVER_PAGE:   # a full page: leave its last instant whole for the next run
            rows = [m for m in rows if m["updated_at"] < rows[-1]["updated_at"]] or rows
        if not rows:
            return
        objects = [o for m in rows for o in mapping.objects_of_membership(m)]
        self.store.upstream_discover(project, objects, max(float(m["updated_at"]) for m in rows), now)

    def _pull_ledger(self, project: str, now: float, s: RunSummary) -> None:
        cur = self.store.upstream_cursor(project)
        page = min(20000, max(1000, self.cfg.max_requests_per_run * self.cfg.batch_size))
        rows = self.store.upstream_ledger_after(project, int(cur["through_ingest_no"]), now - self.cfg.settle_s, page)
        if not rows:
            return
        queue = [(int(r["ingest_no"]), r["worker_ref"]) for r in rows if mapping.is_attendance(r)]
        if self.store.upstream_enqueue(project, queue, int(rows[-1]["ingest_no"]), len(rows) - len(queue), now):
            s.queued += len(queue)
            s.skipped += len(rows) - len(queue)

    # ---- polling and submitting -------------------------------------------------------------
    def _due(self, kind: str, status: str, now: float) -> list[dict]:
        limit = self.cfg.max_requests_per_run
        if kind == "attendance":
            return self.store.upstream_due_batches(status, now, limit, self._projects)
        return self.store.upstream_due_objects(kind, status, now, limit, self._projects)

    def _update(self, kind: str, row: dict, now: float, **values) -> None:
        if kind == "attendance":
            self.store.upstream_update_batch(row["batch_id"], now, **values)
        else:
            self.store.upstream_update_object(row["object_id"], now, **values)

    def _poll(self, kind: str, now: float, s: RunSummary) -> None:
        for row in self._due(kind, "submitted", now):
            try:
                res = self._call(s, self.client.result, row["request_serial"])
            except UpstreamError as e:
                if e.retryable:
                    self._retry(kind, row, now, s, e)
                else:   # e.g. the platform forgot the serial: submit again (objects answer "already exists")
                    self._update(kind, row, now, status="pending", request_serial=None, next_try_at=now,
                                 last_error=f"{e.reason}: {e.detail}")
                continue
            if res.status == "pending":
                self._update(kind, row, now, next_try_at=now)   # polled again at the next run
            elif res.status == "succeeded":
                self._done(kind, row, now, s, res.data or {})
            else:
                self._fail(kind, row, now, s, res.message or "refused")

    def _submit(self, kind: str, now: float, s: RunSummary) -> None:
        for row in self._due(kind, "pending", now):
            built = self._build(kind, row)
            if isinstance(built, str):            # a prerequisite is not done yet: look again later
                if row["last_error"] != built:
                    self._update(kind, row, now, last_error=built, next_try_at=now + self.cfg.interval_s)
                else:
                    self._update(kind, row, now, next_try_at=now + self.cfg.interval_s)
                continue
            method, data = built
            attempts = int(row["attempts"]) + 1
            # committed before the call: a crash now retries after the backoff
            self._update(kind, row, now, attempts=attempts, next_try_at=now + self._backoff(attempts))
            row = {**row, "attempts": attempts}
            try:
                serial = self._call(s, self.client.submit, method, data)
            except UpstreamError as e:
                if e.reason == "rejected" and says_already_exists(e.detail) and kind != "attendance":
                    self._done(kind, row, now, s, {})
                elif e.retryable:
                    self._retry(kind, row, now, s, e)
                else:
                    self._fail(kind, row, now, s, f"{e.reason}: {e.detail}")
                continue
            self._update(kind, row, now, status="submitted", request_serial=serial, next_try_at=now,
                         last_error=None)
            s.count(s.submitted, kind)

    def _retry(self, kind: str, row: dict, now: float, s: RunSummary, e: UpstreamError) -> None:
        attempts = max(1, int(row["attempts"]))
        self._update(kind, row, now, next_try_at=now + self._backoff(attempts), last_error=f"{e.reason}: {e.detail}")
        s.retry += 1
        raise _StopRun(f"{e.reason}: {e.detail}")

    def _fail(self, kind: str, row: dict, now: float, s: RunSummary, reason: str) -> None:
        self._update(kind, row, now, status="failed", last_error=reason[:500])
        s.count(s.failed, kind)
        log.warning("upstream %s %s of project %s refused: %s", kind, row.get("local_key", row.get("batch_id")),
                    row["project_code"], reason)

    def _done(self, kind: str, row: dict, now: float, s: RunSummary, data: dict) -> None:
        values = {"status": "done", "last_error": None}
        if kind == "team":
            team_no = data.get("teamSysNo")
            if team_no in (None, ""):   # "already exists": ask the platform for its number
                company, team = mapping.split_team_key(row["local_key"])
                info = mapping.details(self.store.upstream_team_details(row["project_code"], company, team))
                try:
                    found = self._call(s, self.client.query, "Team.Query", {
                        "projectCode": row["project_code"], "corpCode": company,
                        "teamName": mapping.team_name(team, info)})
                except UpstreamError as e:   # submit again later: it answers "already exists", we ask again
                    self._update(kind, row, now, status="pending", request_serial=None,
                                 next_try_at=now + self._backoff(max(1, int(row["attempts"]))),
                                 last_error=f"Team.Query {e.reason}: {e.detail}")
                    if e.retryable:
                        raise _StopRun(f"{e.reason}: {e.detail}") from None
                    return
                rows = found.get("rows") or []
                team_no = rows[0].get("teamSysNo") if rows else None
                if team_no in (None, ""):
                    self._fail(kind, row, now, s, "team exists on the platform but Team.Query does not find it")
                    return
            values["remote_ref"] = str(team_no)
        self._update(kind, row, now, **values)
        s.count(s.done, kind)

    # ---- payloads ---------------------------------------------------------------------------
    def _team_ref(self, project: str, company: str, team: str | None) -> str | dict:
        t = self.store.upstream_objects("team", project, [mapping.team_key(company, team)]).get(
            mapping.team_key(company, team))
        if t is None or t["status"] != "done":
            return f"waiting for team ({t['status'] if t else 'not known'})"
        return t

    def _build(self, kind: str, row: dict):
        """(method, data), or the reason it must wait (a string)."""
        p = row["project_code"]
        if kind == "attendance":
            return self._build_attendance(row)
        if kind == "company":
            info = mapping.details(self.store.upstream_company_details(p, row["local_key"]))
            return mapping.METHODS[kind], mapping.company_payload(p, row["local_key"], info)
        if kind == "team":
            company, team = mapping.split_team_key(row["local_key"])
            c = self.store.upstream_objects("company", p, [company]).get(company)
            if c is None or c["status"] != "done":
                return f"waiting for company ({c['status'] if c else 'not known'})"
            info = mapping.details(self.store.upstream_team_details(p, company, team))
            return mapping.METHODS[kind], mapping.team_payload(p, company, team, info)
        if kind == "worker":
            m = self.store.upstream_person_membership(p, int(row["local_key"]))
            if m is None:
                return "waiting: no membership in the registry"
            t = self._team_ref(p, m["company_code"], m["team_code"])
            if isinstance(t, str):
                return t
            return mapping.METHODS[kind], mapping.worker_payload(p, m, t["remote_ref"])
        pid, what, date = mapping.split_entry_exit_key(row["local_key"])
        w = self.store.upstream_objects("worker", p, [mapping.worker_key(pid)]).get(mapping.worker_key(pid))
        if w is None or w["status"] != "done":
            return f"waiting for worker ({w['status'] if w else 'not known'})"
        # the platform refuses a date earlier than the person's history: earlier records go first
        for k, o in self.store.upstream_objects("entry_exit", p, key_prefix=f"{pid}/").items():
            opid, owhat, odate = mapping.split_entry_exit_key(k)
            earlier = odate < date or (odate == date and owhat == "entry" and what == "exit")
            if opid == pid and earlier and o["status"] in ("pending", "submitted"):
                return "waiting for an earlier entry/exit"
        m = self.store.upstream_person_membership(p, pid)
        if m is None:
            return "waiting: no membership in the registry"
        t = self._team_ref(p, m["company_code"], m["team_code"])
        if isinstance(t, str):
            return t
        return mapping.METHODS[kind], mapping.entry_exit_payload(p, m, t["remote_ref"], what, date)

    def _build_attendance(self, batch: dict):
        p = batch["project_code"]
        company, team = mapping.split_team_key(batch["team_key"])
        t = self._team_ref(p, company, team)
        if isinstance(t, str):
            return t
        rows = self.store.upstream_ledger_rows(json.loads(batch["ingest_nos"]))
        refs = self.store.upstream_workers_by_ref(p, [r["worker_ref"] for r in rows])
        members: dict[int, dict | None] = {}
        records = []
        coords = self.store.upstream_project_coordinates(p)
        for r in rows:
            ref = refs.get(r["worker_ref"])
            if ref is None:
                continue
            pid = int(ref["person_id"])
            if pid not in members:
                members[pid] = self.store.upstream_person_membership(p, pid)
            if members[pid] is not None:
                records.append(mapping.attendance_record(r, members[pid], coords))
        return mapping.METHODS["attendance"], mapping.attendance_payload(p, t["remote_ref"], records)

    # ---- attendance batches -----------------------------------------------------------------
    def _form_batches(self, project: str, now: float) -> int:
        queued = self.store.upstream_queued(project, max(5000, 20 * self.cfg.batch_size))
        if not queued:
            return 0
        refs = self.store.upstream_workers_by_ref(project, [q["worker_ref"] for q in queued])
        workers = self.store.upstream_objects("worker", project,
                                              [mapping.worker_key(r["person_id"]) for r in refs.values()])
        teams = self.store.upstream_objects("team", project)
        groups: dict[str, list[int]] = {}
        waiting: dict[int, str] = {}
        for q in queued:
            m = refs.get(q["worker_ref"])
            w = workers.get(mapping.worker_key(m["person_id"])) if m else None
            tkey = mapping.team_key(m["company_code"], m["team_code"]) if m else None
            if mapping.in_future(q["device_time"], now):
                reason = "future_time"      # a gateway clock ahead: the platform refuses the whole batch
            elif m is None:
                reason = "not_in_registry"
            elif w is None or w["status"] in ("pending", "submitted"):
                reason = "worker_not_uploaded"
            elif w["status"] == "failed":
                reason = "worker_failed"
            elif tkey not in teams or teams[tkey]["status"] != "done":
                reason = "team_not_uploaded"
            else:
                groups.setdefault(tkey, []).append(int(q["ingest_no"]))
                continue
            if q["wait_reason"] != reason:
                waiting[int(q["ingest_no"])] = reason
        if waiting:
            self.store.upstream_set_waiting(project, waiting)
        n = 0
        for tkey, nos in groups.items():
            for i in range(0, len(nos), self.cfg.batch_size):
                self.store.upstream_make_batch(project, tkey, nos[i:i + self.cfg.batch_size], now)
                n += 1
        return n


class UpstreamHook(IntervalHook):
    """The sweep loop's hook: one :meth:`UploadJob.run_once` every ``interval_s``."""

    def __init__(self, store, cfg: UpstreamConfig, client=None, holder: str | None = None):
        super().__init__(store, cfg.interval_s, mapping.CST)
        self.job = UploadJob(store, client if client is not None else make_client(cfg), cfg, holder=holder)

    def evaluate(self, today: str, now: float) -> dict:
        return self.job.run_once(now)
