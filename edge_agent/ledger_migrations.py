"""Versioned schema of the punch ledger (``PRAGMA user_version``).

Each migration runs in one transaction together with the ``user_version`` bump,
so a crash leaves the file at the old or the new version, never in between.
Migrations only add: no migration may drop or rewrite an unsynced row.
"""

from __future__ import annotations

import logging
import sqlite3

log = logging.getLogger(__name__)

# version 1: the first ledger (entries + their outbox state)
_V1 = """
CREATE TABLE entries (
    seq          INTEGER PRIMARY KEY,
    event_id     TEXT NOT NULL UNIQUE,
    entry_json   TEXT NOT NULL,
    entry_hash   TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'acked')),
    committed_at REAL NOT NULL
);
"""

# version 2: which batch carried a row, when it was acked, the pruning anchor,
# the gateway binding and a partial index over the unacked rows.
_V2 = """
ALTER TABLE entries ADD COLUMN batch_id TEXT;
ALTER TABLE entries ADD COLUMN acked_at REAL;
CREATE INDEX entries_unacked ON entries (seq) WHERE state != 'acked';
CREATE TABLE chain_anchor (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash TEXT NOT NULL
);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

MIGRATIONS: tuple[str, ...] = (_V1, _V2)
SCHEMA_VERSION = len(MIGRATIONS)


class MigrationError(RuntimeError):
    pass


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the file to :data:`SCHEMA_VERSION`; returns the version found before."""
    found = conn.execute("PRAGMA user_version").fetchone()[0]
    if found > SCHEMA_VERSION:
        raise MigrationError(f"ledger schema version {found} is newer than this software "
                             f"({SCHEMA_VERSION}); refusing to touch it")
    for version in range(found + 1, SCHEMA_VERSION + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            for stmt in _statements(MIGRATIONS[version - 1]):
                conn.execute(stmt)
            conn.execute(f"PRAGMA user_version = {version}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        log.info("ledger schema migrated to version %s", version)
    return found


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]
