"""The national-platform upload state's SQL (migration 10), both dialects (mixed into
:class:`~.common.SqlStore`). What is uploaded, in which order and when is decided by
:mod:`cloud_receiver.upstream.job`; this module only keeps the state:

* ``upstream_objects``: one row per company / team / worker / entry-exit of a project, keyed by a
  local key (company code; company code + team code; the registry's opaque ``person_id``; person_id
  + entry|exit + date), with its status, request serial, remote reference (the platform's
  ``teamSysNo`` for a team), attempts, next try and last error;
* ``upstream_cursors``: per project, the ledger ``ingest_no`` through which punches were looked at,
  how many rows were skipped as not attendance, and the registry ``updated_at`` looked at;
* ``upstream_punch_queue``: attendance punches not yet in a batch (waiting for their worker);
* ``upstream_attendance``: the submitted ``WorkerAttendance.Add`` batches (ledger ingest_nos);
* ``upstream_lease``: one uploader at a time across the receiver processes sharing the store.
"""

from __future__ import annotations

import json

from .ledger_reads import PASSAGE_SQL

OBJECT_COLS = ("object_id", "kind", "project_code", "local_key", "status", "request_serial", "remote_ref",
               "attempts", "next_try_at", "last_error", "source_at", "created_at", "updated_at")
BATCH_COLS = ("batch_id", "project_code", "team_key", "ingest_nos", "records", "status", "request_serial",
              "attempts", "next_try_at", "last_error", "created_at", "updated_at")
_OBJ_SET = frozenset(("status", "request_serial", "remote_ref", "attempts", "next_try_at", "last_error"))
# what the attendance mapping needs of a ledger row (never snapshots: those stay on the gateway)
_PUNCH_COLS = ", ".join(f"p.{c}" for c in (
    "ingest_no", "gateway_id", "seq", "type", "kind", "project_code", "gate_id", "device_time", "direction",
    "worker_ref", "manual_reason", "received_at")) + ", " + PASSAGE_SQL


def _in(values) -> str:
    return ", ".join("?" * len(values))


class UpstreamQueries:
    """Needs ``self._read``, ``self._write``, ``self._q``, ``self._x``, ``self._xm`` and ``self.dialect``."""

    # ---- lease ---------------------------------------------------------------------------
    def upstream_lease(self, holder: str, now: float, ttl_s: float) -> bool:
        """Take or renew the uploader lease; False while another holder's lease is live."""
        with self._write() as cur:
            rows = self._q(cur, "INSERT INTO upstream_lease (name, holder, expires_at) VALUES ('upload', ?, ?) "
                                "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, "
                                "expires_at = excluded.expires_at "
                                "WHERE upstream_lease.holder = excluded.holder OR upstream_lease.expires_at < ? "
                                "RETURNING holder", (holder, now + ttl_s, now))
            return bool(rows)

    def upstream_release(self, holder: str) -> None:
        with self._write() as cur:
            self._x(cur, "DELETE FROM upstream_lease WHERE name = 'upload' AND holder = ?", (holder,))

    # ---- the registry and the ledger, as the upload reads them ---------------------------
    def upstream_project_codes(self) -> list[str]:
        """Projects with a registry membership or a registered gateway."""
        rows = self._read("SELECT project_code FROM memberships UNION SELECT project_code FROM gateways")
        return sorted({r["project_code"] for r in rows})

    def upstream_memberships_since(self, project_code: str, since: float, before: float, limit: int) -> list[dict]:
        """Memberships of the project changed after ``since`` and before ``before`` (oldest first), with
        person_id. Rows of one roster change share its time; a page never splits them (see the job)."""
        return self._read(
            "SELECT i.person_id, m.id_type, m.worker_ref, m.role, m.company_code, m.team_code, m.entry_date, "
            "m.exit_date, m.status, m.updated_at FROM memberships m JOIN person_ids i ON i.id_type = m.id_type "
            "AND i.id_number = m.id_number WHERE m.project_code = ? AND m.updated_at > ? AND m.updated_at < ? "
            "ORDER BY m.updated_at, m.membership_id LIMIT ?", (project_code, since, before, limit))

    def upstream_person_membership(self, project_code: str, person_id: int) -> dict | None:
        """The person's latest membership of the project with the person's name, ID and head image
        (ID numbers: for the upload payload only, never logged)."""
        rows = self._read(
            "SELECT i.person_id, m.id_type, m.id_number, m.worker_ref, m.role, m.post, m.company_code, m.team_code, "
            "m.work_type, m.entry_date, m.exit_date, m.status, m.details_json, p.name, p.head_image_b64 "
            "FROM person_ids i JOIN memberships m ON m.id_type = i.id_type AND m.id_number = i.id_number "
            "JOIN persons p ON p.id_type = i.id_type AND p.id_number = i.id_number "
            "WHERE i.person_id = ? AND m.project_code = ? "
            "ORDER BY CASE WHEN m.status = 'active' THEN 0 ELSE 1 END, m.updated_at DESC, m.membership_id DESC "
            "LIMIT 1", (person_id, project_code))
        return rows[0] if rows else None

    def upstream_team_details(self, project_code: str, company_code: str, team_code: str | None) -> dict | None:
        """The details of the latest membership of the project's company/team (names of both)."""
        sql = ("SELECT company_code, team_code, details_json FROM memberships WHERE project_code = ? "
               "AND company_code = ? AND " + ("team_code = ?" if team_code else "team_code IS NULL")
               + " ORDER BY updated_at DESC, membership_id DESC LIMIT 1")
        rows = self._read(sql, (project_code, company_code, team_code) if team_code else (project_code, company_code))
        return rows[0] if rows else None

    def upstream_company_details(self, project_code: str, company_code: str) -> dict | None:
        """The details of the latest membership of the project's company (its name and kind)."""
        rows = self._read("SELECT company_code, details_json FROM memberships WHERE project_code = ? AND company_code = ? "
                          "ORDER BY updated_at DESC, membership_id DESC LIMIT 1", (project_code, company_code))
        return rows[0] if rows else None

    def upstream_workers_by_ref(self, project_code: str, worker_refs) -> dict[str, dict]:
        """worker_ref → the latest membership of the project carrying it (person_id, company, team)."""
        refs = sorted(set(worker_refs))
        if not refs:
            return {}
        rows = self._read(
            "SELECT m.worker_ref, i.person_id, m.company_code, m.team_code, m.updated_at, m.membership_id "
            "FROM memberships m JOIN person_ids i ON i.id_type = m.id_type AND i.id_number = m.id_number "
            f"WHERE m.project_code = ? AND m.worker_ref IN ({_in(refs)}) ORDER BY m.updated_at, m.membership_id",
            (project_code, *refs))
        return {r["worker_ref"]: r for r in rows}     # the latest wins

    def upstream_ledger_after(self, project_code: str, after: int, settled_before: float, limit: int) -> list[dict]:
        """The project's ledger rows with ingest_no > after, by ingest_no, stopping before the first
        row received at or after ``settled_before`` (see the job's note on PostgreSQL commit order)."""
        rows = self._read(f"SELECT {_PUNCH_COLS} FROM ledger p WHERE p.project_code = ? AND p.ingest_no > ? "
                          "ORDER BY p.ingest_no LIMIT ?", (project_code, after, limit))
        out = []
        for r in rows:
            if r["received_at"] >= settled_before:
                break
            out.append(r)
        return out

    def upstream_ledger_rows(self, ingest_nos) -> list[dict]:
        nos = sorted(set(int(n) for n in ingest_nos))
        if not nos:
            return []
        return self._read(f"SELECT {_PUNCH_COLS} FROM ledger p WHERE p.ingest_no IN ({_in(nos)}) ORDER BY p.ingest_no",
                          tuple(nos))

    def upstream_project_coordinates(self, project_code: str) -> tuple[float, float] | None:
        r = self._read("SELECT lng, lat FROM projects WHERE project_code = ?", (project_code,))
        return (r[0]["lng"], r[0]["lat"]) if r and r[0]["lng"] is not None and r[0]["lat"] is not None else None

    # ---- cursors and discovery ---------------------------------------------------------------
    def upstream_cursor(self, project_code: str) -> dict:
        r = self._read("SELECT project_code, through_ingest_no, skipped, registry_seen_at, updated_at "
                       "FROM upstream_cursors WHERE project_code = ?", (project_code,))
        return r[0] if r else {"project_code": project_code, "through_ingest_no": 0, "skipped": 0,
                               "registry_seen_at": 0.0, "updated_at": None}

    def _ensure_cursor(self, cur, project_code: str, now: float) -> None:
        self._x(cur, "INSERT INTO upstream_cursors (project_code, updated_at) VALUES (?, ?) "
                     "ON CONFLICT (project_code) DO NOTHING", (project_code, now))

    def upstream_discover(self, project_code: str, objects, seen_at: float, now: float) -> int:
        """Add the objects ``(kind, local_key, source_at)`` not known yet (one transaction with the
        registry watermark). A *failed* object whose registry row changed since (a corrected
        record) goes back to pending. → how many became pending."""
        n = 0
        with self._write() as cur:
            self._ensure_cursor(cur, project_code, now)
            for kind, key, source_at in objects:
                rows = self._q(cur, "INSERT INTO upstream_objects (kind, project_code, local_key, source_at, "
                                    "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?) "
                                    "ON CONFLICT (kind, project_code, local_key) DO UPDATE SET status = 'pending', "
                                    "attempts = 0, next_try_at = 0, request_serial = NULL, "
                                    "source_at = excluded.source_at, updated_at = excluded.updated_at "
                                    "WHERE upstream_objects.status = 'failed' "
                                    "AND upstream_objects.source_at < excluded.source_at RETURNING object_id",
                               (kind, project_code, key, source_at, now, now))
                n += len(rows)
            self._x(cur, "UPDATE upstream_cursors SET registry_seen_at = ?, updated_at = ? WHERE project_code = ? "
                         "AND registry_seen_at < ?", (seen_at, now, project_code, seen_at))
        return n

    def upstream_enqueue(self, project_code: str, queue: list[tuple[int, str]], through: int, skipped: int,
                         now: float) -> bool:
        """Queue attendance punches ``(ingest_no, worker_ref)`` and move the cursor to ``through`` in one
        transaction; False (nothing done) if the cursor is already there (another run got here)."""
        with self._write() as cur:
            self._ensure_cursor(cur, project_code, now)
            moved = self._q(cur, "UPDATE upstream_cursors SET through_ingest_no = ?, skipped = skipped + ?, "
                                 "updated_at = ? WHERE project_code = ? AND through_ingest_no < ? RETURNING project_code",
                            (through, skipped, now, project_code, through))
            if not moved:
                return False
            self._xm(cur, "INSERT INTO upstream_punch_queue (project_code, ingest_no, worker_ref, queued_at) "
                          "VALUES (?, ?, ?, ?) ON CONFLICT (project_code, ingest_no) DO NOTHING",
                     [(project_code, no, ref, now) for no, ref in queue])
            return True

    def upstream_queued(self, project_code: str, limit: int) -> list[dict]:
        return self._read("SELECT q.project_code, q.ingest_no, q.worker_ref, q.wait_reason, q.queued_at, l.device_time "
                          "FROM upstream_punch_queue q JOIN ledger l ON l.ingest_no = q.ingest_no "
                          "WHERE q.project_code = ? ORDER BY q.ingest_no LIMIT ?", (project_code, limit))

    def upstream_set_waiting(self, project_code: str, reasons: dict[int, str]) -> None:
        with self._write() as cur:
            self._xm(cur, "UPDATE upstream_punch_queue SET wait_reason = ? WHERE project_code = ? AND ingest_no = ?",
                     [(reason, project_code, no) for no, reason in reasons.items()])

    def upstream_make_batch(self, project_code: str, team_key: str, ingest_nos: list[int], now: float) -> int:
        """Move queued punches into a new pending attendance batch (one transaction) → batch_id."""
        nos = sorted(ingest_nos)
        with self._write() as cur:
            self._xm(cur, "DELETE FROM upstream_punch_queue WHERE project_code = ? AND ingest_no = ?",
                     [(project_code, no) for no in nos])
            return int(self._q(cur, "INSERT INTO upstream_attendance (project_code, team_key, ingest_nos, records, "
                                    "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING batch_id",
                               (project_code, team_key, json.dumps(nos), len(nos), now, now))[0]["batch_id"])

    # ---- objects and batches ------------------------------------------------------------------
    def upstream_objects(self, kind: str, project_code: str, keys=None, *, key_prefix: str | None = None
                         ) -> dict[str, dict]:
        """local_key → row of the project's objects of a kind (all, those of ``keys``, or those whose
        key starts with ``key_prefix``, e.g. one person's entries/exits ``<person_id>/``)."""
        sql, args = (f"SELECT {', '.join(OBJECT_COLS)} FROM upstream_objects WHERE kind = ? AND project_code = ?",
                     [kind, project_code])
        if key_prefix is not None:
            sql += " AND local_key LIKE ? ESCAPE '\\'"
            args.append(key_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%")
        if keys is not None:
            keys = sorted(set(keys))
            if not keys:
                return {}
            sql += f" AND local_key IN ({_in(keys)})"
            args += keys
        return {r["local_key"]: r for r in self._read(sql, tuple(args))}

    def upstream_due_objects(self, kind: str, status: str, now: float, limit: int, projects=None) -> list[dict]:
        sql = (f"SELECT {', '.join(OBJECT_COLS)} FROM upstream_objects WHERE kind = ? AND status = ? "
               "AND next_try_at <= ?")
        args: list = [kind, status, now]
        if projects is not None:
            sql += f" AND project_code IN ({_in(projects)})" if projects else " AND 1 = 0"
            args += sorted(projects)
        return self._read(sql + " ORDER BY next_try_at, object_id LIMIT ?", (*args, limit))

    def upstream_update_object(self, object_id: int, now: float, **values) -> None:
        bad = set(values) - _OBJ_SET
        if bad:
            raise ValueError(f"not an upload state column: {sorted(bad)[0]}")
        cols = sorted(values)
        with self._write() as cur:
            self._x(cur, f"UPDATE upstream_objects SET {', '.join(f'{c} = ?' for c in cols)}, updated_at = ? "
                         "WHERE object_id = ?", (*(values[c] for c in cols), now, object_id))

    def upstream_due_batches(self, status: str, now: float, limit: int, projects=None) -> list[dict]:
        sql = (f"SELECT {', '.join(BATCH_COLS)} FROM upstream_attendance WHERE status = ? AND next_try_at <= ?")
        args: list = [status, now]
        if projects is not None:
            sql += f" AND project_code IN ({_in(projects)})" if projects else " AND 1 = 0"
            args += sorted(projects)
        return self._read(sql + " ORDER BY next_try_at, batch_id LIMIT ?", (*args, limit))

    def upstream_update_batch(self, batch_id: int, now: float, **values) -> None:
        bad = set(values) - _OBJ_SET
        if bad or "remote_ref" in values:
            raise ValueError(f"not an attendance batch column: {sorted(bad or {'remote_ref'})[0]}")
        cols = sorted(values)
        with self._write() as cur:
            self._x(cur, f"UPDATE upstream_attendance SET {', '.join(f'{c} = ?' for c in cols)}, updated_at = ? "
                         "WHERE batch_id = ?", (*(values[c] for c in cols), now, batch_id))

    # ---- visibility ---------------------------------------------------------------------------
    def upstream_refusals(self) -> list[dict]:
        """Every object and attendance batch the platform refused and that is still refused
        (one supervision warning each; no ID numbers: objects are keyed by codes and person_id)."""
        return self._read(
            "SELECT kind, project_code, local_key, attempts, last_error, updated_at FROM upstream_objects "
            "WHERE status = 'failed' UNION ALL "
            "SELECT 'attendance' AS kind, project_code, CAST(batch_id AS TEXT) AS local_key, attempts, last_error, "
            "updated_at FROM upstream_attendance WHERE status = 'failed' ORDER BY project_code, kind, local_key")

    def upstream_status(self, failures: int = 20) -> dict:
        """Counts per kind and status, per project cursor and backlog, recent failures (no ID numbers)."""
        objects: dict[str, dict[str, int]] = {}
        for r in self._read("SELECT kind, status, count(*) AS n FROM upstream_objects GROUP BY kind, status"):
            objects.setdefault(r["kind"], {})[r["status"]] = int(r["n"])
        batches: dict[str, dict[str, int]] = {}
        for r in self._read("SELECT status, count(*) AS n, coalesce(sum(records), 0) AS records "
                            "FROM upstream_attendance GROUP BY status"):
            batches[r["status"]] = {"batches": int(r["n"]), "records": int(r["records"])}
        projects: dict[str, dict] = {}
        for c in self._read("SELECT project_code, through_ingest_no, skipped, registry_seen_at, updated_at "
                            "FROM upstream_cursors ORDER BY project_code"):
            projects[c["project_code"]] = {**c, "through_ingest_no": int(c["through_ingest_no"]),
                                           "skipped": int(c["skipped"]), "waiting": 0, "waiting_reasons": {},
                                           "ledger_backlog": 0, "batches_open": 0, "records_open": 0}
        for r in self._read("SELECT c.project_code, count(l.ingest_no) AS n FROM upstream_cursors c "
                            "JOIN ledger l ON l.project_code = c.project_code AND l.ingest_no > c.through_ingest_no "
                            "GROUP BY c.project_code"):
            projects[r["project_code"]]["ledger_backlog"] = int(r["n"])
        for r in self._read("SELECT project_code, coalesce(wait_reason, 'new') AS reason, count(*) AS n "
                            "FROM upstream_punch_queue GROUP BY project_code, coalesce(wait_reason, 'new')"):
            p = projects.setdefault(r["project_code"], {"project_code": r["project_code"], "waiting": 0,
                                                        "waiting_reasons": {}})
            p["waiting"] += int(r["n"])
            p["waiting_reasons"][r["reason"]] = int(r["n"])
        for r in self._read("SELECT project_code, count(*) AS n, coalesce(sum(records), 0) AS records "
                            "FROM upstream_attendance WHERE status IN ('pending', 'submitted') GROUP BY project_code"):
            if r["project_code"] in projects:
                projects[r["project_code"]].update(batches_open=int(r["n"]), records_open=int(r["records"]))
        failed = self._read(
            "SELECT kind, project_code, local_key, attempts, last_error, updated_at FROM upstream_objects "
            "WHERE status = 'failed' UNION ALL "
            "SELECT 'attendance' AS kind, project_code, team_key AS local_key, attempts, last_error, updated_at "
            "FROM upstream_attendance WHERE status = 'failed' ORDER BY updated_at DESC LIMIT ?", (failures,))
        retrying = self._read(
            "SELECT kind, project_code, local_key, attempts, last_error, next_try_at, updated_at FROM upstream_objects "
            "WHERE status IN ('pending', 'submitted') AND last_error IS NOT NULL AND last_error NOT LIKE ? "
            "ORDER BY updated_at DESC LIMIT ?", ("waiting%", failures))
        # pending objects held back by a prerequisite (their company, team, worker, earlier entry/exit)
        blocked = {r["kind"]: int(r["n"]) for r in self._read(
            "SELECT kind, count(*) AS n FROM upstream_objects WHERE status = 'pending' AND last_error LIKE ? "
            "GROUP BY kind", ("waiting%",))}
        return {"objects": objects, "blocked": blocked, "attendance": batches, "projects": list(projects.values()),
                "failures": failed, "retrying": retrying}
