"""Versioned schema of the punch ledger (``PRAGMA user_version``).

Each migration runs in one transaction together with the ``user_version`` bump,
so a crash leaves the file at the old or the new version, never in between.
Migrations only add: no migration may drop or rewrite an unsynced row.
"""

from __future__ import annotations

import sqlite3

from .sqlite_migrate import apply_migrations

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
    return apply_migrations(conn, MIGRATIONS, "ledger", MigrationError)
