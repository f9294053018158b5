"""The city worker registry's SQL (issue 5), both dialects (mixed into :class:`~.common.SqlStore`).

:meth:`WorkerRegistryQueries.apply_roster_change` stores one roster change and applies it
to ``persons`` / ``memberships`` / ``person_history`` in ONE transaction; the decision is
:func:`cloud_receiver.registry.decide`. The person row is upserted first: in PostgreSQL
that row lock serialises two receivers handling changes of the same person.
"""

from __future__ import annotations

from ..registry import DUPLICATE, MEMBERSHIP_FIELDS, decide, person_view

ROSTER_CHANGE_COLS = ("change_id", "gateway_id", "changed_at", "action", "project_code", "worker_ref", "id_type",
                      "id_number", "name", "role", "post", "company_code", "team_code", "work_type", "entry_date",
                      "exit_date", "face_consent", "operator")
_MEMBERSHIP_COLS = ("membership_id, id_type, id_number, project_code, worker_ref, gateway_id, role, post, "
                    "company_code, team_code, work_type, entry_date, exit_date, status, opened_at, updated_at, "
                    "last_change_id, details_json")


class WorkerRegistryQueries:
    """Needs ``self._read``, ``self._write``, ``self._q`` and ``self._x``."""

    def apply_roster_change(self, row: dict, now: float) -> str:
        """Store + apply one validated roster change (dict of :data:`ROSTER_CHANGE_COLS`, plus
        optional ``details_json`` and ``head_image_b64``); → ``applied`` / ``duplicate`` / ``conflict``."""
        cols = ROSTER_CHANGE_COLS + ("received_at",)
        with self._write() as cur:
            new = self._q(cur, f"INSERT INTO roster_changes ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))}) "
                               "ON CONFLICT (change_id) DO NOTHING RETURNING change_id",
                          (*(row[c] for c in ROSTER_CHANGE_COLS), now))
            if not new:
                return DUPLICATE
            self._x(cur, "INSERT INTO persons (id_type, id_number, name, head_image_b64, first_seen, last_seen) "
                         "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id_type, id_number) DO UPDATE SET name = excluded.name, "
                         "head_image_b64 = coalesce(excluded.head_image_b64, persons.head_image_b64), "
                         "last_seen = excluded.last_seen",
                    (row["id_type"], row["id_number"], row["name"], row.get("head_image_b64"), now, now))
            self._x(cur, "INSERT INTO person_ids (id_type, id_number) VALUES (?, ?) "
                         "ON CONFLICT (id_type, id_number) DO NOTHING", (row["id_type"], row["id_number"]))
            active = self._q(cur, f"SELECT {_MEMBERSHIP_COLS} FROM memberships WHERE id_type = ? AND id_number = ? "
                                  "AND project_code = ? AND status = 'active'",
                             (row["id_type"], row["id_number"], row["project_code"]))
            d = decide(row, active[0] if active else None)
            values = [row[c] for c in MEMBERSHIP_FIELDS] + [row.get("details_json")]
            if d.op == "insert":
                self._x(cur, "INSERT INTO memberships (id_type, id_number, project_code, "
                             f"{', '.join(MEMBERSHIP_FIELDS)}, details_json, status, opened_at, updated_at, "
                             f"last_change_id) VALUES (?, ?, ?, {', '.join('?' * len(MEMBERSHIP_FIELDS))}, ?, 'active', "
                             "?, ?, ?)",
                        (row["id_type"], row["id_number"], row["project_code"], *values, now, now, row["change_id"]))
            elif d.op in ("update", "close"):
                self._x(cur, f"UPDATE memberships SET {', '.join(f'{c} = ?' for c in MEMBERSHIP_FIELDS)}, "
                             "details_json = ?, status = ?, updated_at = ?, last_change_id = ? WHERE membership_id = ?",
                        (*values, "exited" if d.op == "close" else "active", now, row["change_id"],
                         active[0]["membership_id"]))
            self._x(cur, "INSERT INTO person_history (change_id, id_type, id_number, project_code, gateway_id, "
                         "worker_ref, action, role, post, outcome, detail, changed_at, received_at) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (row["change_id"], row["id_type"], row["id_number"], row["project_code"], row["gateway_id"],
                     row["worker_ref"], row["action"], row["role"], row["post"], d.outcome, d.detail,
                     row["changed_at"], now))
            return d.outcome

    def person(self, id_type: str, id_number: str) -> dict | None:
        """One person with memberships (every project) and history, oldest first (callers mask)."""
        p = self._read("SELECT id_type, id_number, name, head_image_b64, first_seen, last_seen FROM persons "
                       "WHERE id_type = ? AND id_number = ?", (id_type, id_number))
        ms = self._read(f"SELECT {_MEMBERSHIP_COLS} FROM memberships WHERE id_type = ? AND id_number = ? "
                        "ORDER BY opened_at, membership_id", (id_type, id_number))
        hs = self._read("SELECT change_id, project_code, gateway_id, worker_ref, action, role, post, outcome, detail, "
                        "changed_at, received_at FROM person_history WHERE id_type = ? AND id_number = ? "
                        "ORDER BY changed_at, received_at", (id_type, id_number))
        return person_view(p[0] if p else None, ms, hs)

    def person_id(self, id_type: str, id_number: str) -> int | None:
        r = self._read("SELECT person_id FROM person_ids WHERE id_type = ? AND id_number = ?", (id_type, id_number))
        return int(r[0]["person_id"]) if r else None

    def person_by_id(self, person_id: int) -> dict | None:
        """:meth:`person` by the registry's opaque number (``person_id`` added), or None."""
        r = self._read("SELECT id_type, id_number FROM person_ids WHERE person_id = ?", (person_id,))
        p = self.person(r[0]["id_type"], r[0]["id_number"]) if r else None
        return None if p is None else {**p, "person_id": int(person_id)}

    def find_persons(self, *, projects: frozenset[str] | None = None, name: str | None = None,
                     id_type: str | None = None, id_number: str | None = None, active: bool | None = None,
                     limit: int = 50, offset: int = 0) -> tuple[list[dict], int]:
        """Persons with a membership in ``projects`` (None: any), by name substring, ID, and
        whether they are active in one of those projects; → (page ordered by person_id, total).
        Each row: person_id, id_type, id_number, name, first_seen, last_seen, active_projects."""
        where, args = [], []
        if projects is not None:
            if not projects:
                return [], 0
            marks = ", ".join("?" * len(projects))
            where.append("EXISTS (SELECT 1 FROM memberships m WHERE m.id_type = p.id_type AND m.id_number = "
                         f"p.id_number AND m.project_code IN ({marks}))")
            args += sorted(projects)
        if active is not None:
            scope = f" AND m.project_code IN ({', '.join('?' * len(projects))})" if projects else ""
            where.append(("" if active else "NOT ") + "EXISTS (SELECT 1 FROM memberships m WHERE m.id_type = "
                         f"p.id_type AND m.id_number = p.id_number AND m.status = 'active'{scope})")
            args += sorted(projects) if projects else []
        if name:
            where.append("p.name LIKE ? ESCAPE '\\'")
            args.append("%" + name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%")
        if id_number:
            where.append("p.id_type = ? AND p.id_number = ?")
            args += [id_type or "01", id_number]
        sql = ("FROM persons p JOIN person_ids i ON i.id_type = p.id_type AND i.id_number = p.id_number"
               + (" WHERE " + " AND ".join(where) if where else ""))
        total = int(self._read(f"SELECT count(*) AS n {sql}", tuple(args))[0]["n"])
        rows = self._read(f"SELECT i.person_id, p.id_type, p.id_number, p.name, p.first_seen, p.last_seen {sql} "
                          "ORDER BY i.person_id LIMIT ? OFFSET ?", (*args, limit, offset))
        active_on: dict[tuple, list[str]] = {}
        if rows:      # the page's active memberships in one query
            pairs = ", ".join("(?, ?)" for _ in rows)
            for a in self._read("SELECT id_type, id_number, project_code FROM memberships WHERE status = 'active' "
                                f"AND (id_type, id_number) IN (VALUES {pairs}) ORDER BY project_code",
                                tuple(v for r in rows for v in (r["id_type"], r["id_number"]))):
                if projects is None or a["project_code"] in projects:
                    active_on.setdefault((a["id_type"], a["id_number"]), []).append(a["project_code"])
        for r in rows:
            r["person_id"] = int(r["person_id"])
            r["active_projects"] = active_on.get((r["id_type"], r["id_number"]), [])
        return rows, total

    def project_memberships(self, project_code: str, status: str | None = None) -> list[dict]:
        """Memberships of a project (``status`` active/exited or all), by worker_ref."""
        sql = f"SELECT {_MEMBERSHIP_COLS} FROM memberships WHERE project_code = ?"
        args: tuple = (project_code,)
        if status:
            sql += " AND status = ?"
            args += (status,)
        return self._read(sql + " ORDER BY worker_ref, membership_id", args)


class RosterDownQueries:
    """The down direction's SQL (see :mod:`cloud_receiver.roster_down`)."""

    def add_roster_down(self, project_code: str, make_body, action: str, issued_at: str, operator: str,
                        now: float) -> int:
        """Number and store one down change: ``make_body(version) -> str`` (its canonical JSON).
        The next version is taken under the table's write lock (SQLite ``BEGIN IMMEDIATE``;
        PostgreSQL: a transaction-scoped advisory lock per project)."""
        with self._write() as cur:
            if self.dialect == "postgresql":
                self._x(cur, "SELECT pg_advisory_xact_lock(hashtext(?))", ("roster_down:" + project_code,))
            version = self._q(cur, "SELECT coalesce(max(version), 0) + 1 AS v FROM roster_down WHERE project_code = ?",
                              (project_code,))[0]["v"]
            self._x(cur, "INSERT INTO roster_down (project_code, version, action, body, issued_at, operator, created_at) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (project_code, version, action, make_body(version), issued_at, operator, now))
            return int(version)

    def roster_down_after(self, project_code: str, after_version: int, limit: int) -> tuple[list[str], int]:
        """(bodies of the changes with version > after_version, oldest first, at most ``limit``;
        the project's latest version)."""
        rows = self._read("SELECT body FROM roster_down WHERE project_code = ? AND version > ? ORDER BY version "
                          "LIMIT ?", (project_code, after_version, limit))
        latest = self._read("SELECT coalesce(max(version), 0) AS v FROM roster_down WHERE project_code = ?",
                            (project_code,))[0]["v"]
        return [r["body"] for r in rows], int(latest)

    def set_gateway_roster_down(self, gateway_id: str, project_code: str, applied_version: int, now: float) -> None:
        with self._write() as cur:
            self._x(cur, "INSERT INTO gateway_roster_down (gateway_id, project_code, applied_version, reported_at) "
                         "VALUES (?, ?, ?, ?) ON CONFLICT (gateway_id) DO UPDATE SET project_code = excluded.project_code, "
                         "applied_version = excluded.applied_version, reported_at = excluded.reported_at",
                    (gateway_id, project_code, applied_version, now))

    def gateway_roster_down(self, project_code: str) -> list[dict]:
        """Each gateway of the project with the down version it last reported applied."""
        return self._read("SELECT gateway_id, applied_version, reported_at FROM gateway_roster_down "
                          "WHERE project_code = ? ORDER BY gateway_id", (project_code,))

    def record_roster_down_state(self, gateway_id: str, project_code: str, applied_version: int,
                                 outcomes: list[dict], now: float) -> list[int]:
        """One gateway's state report, in one transaction: its applied version and its non-applied
        outcomes (dicts of version, action, status, detail), one row per gateway, project and
        version, written only when new or changed (the same outcomes come in every report).
        → the versions ignored: the project has no such change, or not with that action."""
        with self._write() as cur:
            self._x(cur, "INSERT INTO gateway_roster_down (gateway_id, project_code, applied_version, reported_at) "
                         "VALUES (?, ?, ?, ?) ON CONFLICT (gateway_id) DO UPDATE SET project_code = excluded.project_code, "
                         "applied_version = excluded.applied_version, reported_at = excluded.reported_at",
                    (gateway_id, project_code, applied_version, now))
            if not outcomes:
                return []
            versions = [o["version"] for o in outcomes]
            marks = ", ".join("?" * len(versions))
            issued = {int(r["version"]): r["action"] for r in self._q(
                cur, f"SELECT version, action FROM roster_down WHERE project_code = ? AND version IN ({marks})",
                (project_code, *versions))}
            known = {int(r["version"]): (r["status"], r["detail"]) for r in self._q(
                cur, "SELECT version, status, detail FROM roster_down_outcomes WHERE gateway_id = ? AND project_code = ? "
                     f"AND version IN ({marks})", (gateway_id, project_code, *versions))}
            ignored, rows = [], []
            for o in outcomes:
                v = o["version"]
                if issued.get(v) != o["action"]:
                    ignored.append(v)
                elif known.get(v) != (o["status"], o["detail"]):
                    rows.append((gateway_id, project_code, v, o["action"], o["status"], o["detail"], now))
            self._xm(cur, "INSERT INTO roster_down_outcomes (gateway_id, project_code, version, action, status, detail, "
                          "reported_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (gateway_id, project_code, version) "
                          "DO UPDATE SET action = excluded.action, status = excluded.status, detail = excluded.detail, "
                          "reported_at = excluded.reported_at", rows)
            return ignored

    def roster_down_page(self, project_code: str, limit: int, offset: int) -> tuple[list[dict], int]:
        """(the project's down changes, newest first, with their stored bodies; how many in all)."""
        rows = self._read("SELECT version, action, body, issued_at, operator, created_at FROM roster_down "
                          "WHERE project_code = ? ORDER BY version DESC LIMIT ? OFFSET ?", (project_code, limit, offset))
        total = self._read("SELECT count(*) AS n FROM roster_down WHERE project_code = ?", (project_code,))[0]["n"]
        return rows, int(total)

    def roster_down_outcomes(self, project_code: str, first_version: int, last_version: int) -> list[dict]:
        """The skipped / failed outcomes the gateways reported for versions first..last."""
        return self._read("SELECT gateway_id, version, action, status, detail, reported_at FROM roster_down_outcomes "
                          "WHERE project_code = ? AND version BETWEEN ? AND ? ORDER BY version, gateway_id",
                          (project_code, first_version, last_version))

    def roster_down_gateways(self, project_code: str) -> list[dict]:
        """The gateways registered to the project (applied_version NULL: never reported), and any
        other whose last report was for it."""
        return self._read("SELECT g.gateway_id, d.applied_version, d.reported_at FROM gateways g "
                          "LEFT JOIN gateway_roster_down d ON d.gateway_id = g.gateway_id AND d.project_code = g.project_code "
                          "WHERE g.project_code = ? UNION "
                          "SELECT d.gateway_id, d.applied_version, d.reported_at FROM gateway_roster_down d "
                          "WHERE d.project_code = ? AND NOT EXISTS (SELECT 1 FROM gateways g "
                          "WHERE g.gateway_id = d.gateway_id AND g.project_code = d.project_code) ORDER BY 1",
                          (project_code, project_code))
