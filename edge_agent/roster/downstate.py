"""The registry's record of the down direction: which city changes it has applied, and the
project status (停工) the city set. Mixed into :class:`~.registry.WorkerRegistry`."""

from __future__ import annotations

import time


class DownState:
    """Needs the registry's ``_lock``, ``_conn``, ``_tx`` and ``_notify``."""

    def down_applied_version(self) -> int:
        with self._lock:
            return self._conn.execute("SELECT coalesce(max(version), 0) FROM down_log").fetchone()[0]

    def record_down(self, version: int, action: str, status: str, detail: str | None) -> None:
        with self._tx() as c:
            c.execute("INSERT OR REPLACE INTO down_log (version, action, status, detail, applied_at) "
                      "VALUES (?, ?, ?, ?, ?)", (version, action, status, detail, time.time()))

    def down_log(self) -> list[dict]:
        with self._lock:
            cur = self._conn.execute("SELECT version, action, status, detail, applied_at FROM down_log ORDER BY version")
            return [dict(zip(("version", "action", "status", "detail", "applied_at"), r)) for r in cur]

    def down_outcomes(self, limit: int = 50) -> list[dict]:
        """The ``limit`` most recent changes that did not apply (skipped / failed), oldest first:
        what the downlink reports to the city in every state message."""
        with self._lock:
            cur = self._conn.execute("SELECT version, action, status, detail FROM down_log WHERE status <> 'applied' "
                                     "ORDER BY version DESC LIMIT ?", (limit,))
            rows = [dict(zip(("version", "action", "status", "detail"), r)) for r in cur]
        return rows[::-1]

    def project_status(self) -> str:
        """``active`` or ``stopped`` (停工, decided at the city)."""
        with self._lock:
            row = self._conn.execute("SELECT value FROM meta WHERE key = 'project_status'").fetchone()
        return row[0] if row else "active"

    def set_project_status(self, status: str) -> None:
        if status not in ("active", "stopped"):
            raise ValueError(status)
        with self._tx() as c:
            c.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('project_status', ?)", (status,))
        self._notify("project_status", "-")
