"""Versioned schema migrations of the gateway's SQLite files (ledger, worker registry).

``PRAGMA user_version`` holds the version; each migration runs in its own
``BEGIN IMMEDIATE`` transaction together with the version bump, so a crash leaves the
file at the old or the new version, never in between. A file newer than the software
is refused, untouched.
"""

from __future__ import annotations

import logging
import sqlite3

log = logging.getLogger(__name__)


def apply_migrations(conn: sqlite3.Connection, migrations: tuple[str, ...], what: str,
                     error: type[Exception] = RuntimeError) -> int:
    """Bring the file to ``len(migrations)``; returns the version found before."""
    target = len(migrations)
    found = conn.execute("PRAGMA user_version").fetchone()[0]
    if found > target:
        raise error(f"{what} schema version {found} is newer than this software ({target}); refusing to touch it")
    for version in range(found + 1, target + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            for stmt in statements(migrations[version - 1]):
                conn.execute(stmt)
            conn.execute(f"PRAGMA user_version = {version}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        log.info("%s schema migrated to version %s", what, version)
    return found


def statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]
