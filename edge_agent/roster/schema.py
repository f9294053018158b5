"""Versioned schema of the gateway's worker registry file (``PRAGMA user_version``).

Its own SQLite file (not the punch ledger): WAL, ``synchronous=FULL``. Each migration
runs in one transaction with the version bump. Migrations only add.
"""

from __future__ import annotations

import sqlite3

from ..sqlite_migrate import apply_migrations

_V1 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE workers (
    worker_ref     TEXT PRIMARY KEY,
    id_type        TEXT NOT NULL,
    id_number      TEXT NOT NULL,
    name           TEXT NOT NULL,
    company_code   TEXT NOT NULL,
    company_name   TEXT NOT NULL,
    team_code      TEXT,
    role           TEXT NOT NULL CHECK (role IN ('worker', 'manager')),
    status         TEXT NOT NULL CHECK (status IN ('active', 'exited')),
    record_json    TEXT NOT NULL,
    code_versions  TEXT NOT NULL,
    entry_date     TEXT NOT NULL,
    exit_json      TEXT,
    consent        TEXT CHECK (consent IN ('granted', 'refused')),
    consent_at     REAL,
    consent_operator TEXT,
    alternative    TEXT,
    head_image     BLOB,
    version        INTEGER NOT NULL,
    created_at     REAL NOT NULL,
    updated_at     REAL NOT NULL
);
CREATE UNIQUE INDEX workers_one_active_id ON workers (id_type, id_number) WHERE status = 'active';
CREATE INDEX workers_name ON workers (name);
CREATE INDEX workers_team ON workers (team_code, status);
CREATE INDEX workers_company ON workers (company_code, status);
CREATE TABLE consent_log (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    worker_ref  TEXT NOT NULL REFERENCES workers (worker_ref),
    decision    TEXT NOT NULL CHECK (decision IN ('granted', 'refused', 'withdrawn')),
    alternative TEXT,
    operator    TEXT NOT NULL,
    at          REAL NOT NULL
);
CREATE TABLE templates (
    worker_ref  TEXT NOT NULL REFERENCES workers (worker_ref),
    slot        INTEGER NOT NULL,
    dim         INTEGER NOT NULL,
    blob        BLOB NOT NULL,
    created_at  REAL NOT NULL,
    PRIMARY KEY (worker_ref, slot)
);
CREATE TABLE outbox (
    seq          INTEGER PRIMARY KEY,
    change_id    TEXT NOT NULL UNIQUE,
    worker_ref   TEXT NOT NULL,
    action       TEXT NOT NULL,
    body         TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'acked')),
    committed_at REAL NOT NULL,
    sent_at      REAL,
    acked_at     REAL,
    outcome      TEXT
);
CREATE INDEX outbox_unacked ON outbox (seq) WHERE state != 'acked';
"""

# version 2: the down direction (changes decided at the city, applied once and in order)
_V2 = """
CREATE TABLE down_log (
    version    INTEGER PRIMARY KEY,
    action     TEXT NOT NULL,
    status     TEXT NOT NULL CHECK (status IN ('applied', 'skipped', 'failed')),
    detail     TEXT,
    applied_at REAL NOT NULL
);
"""

# version 3: the ID card chip photo's raw bytes (WLT: only the card vendor's library decodes it)
_V3 = """
CREATE TABLE chip_photos (
    worker_ref TEXT PRIMARY KEY REFERENCES workers (worker_ref),
    wlt        BLOB NOT NULL,
    read_at    REAL NOT NULL
);
"""

MIGRATIONS: tuple[str, ...] = (_V1, _V2, _V3)
SCHEMA_VERSION = len(MIGRATIONS)


class RegistrySchemaError(RuntimeError):
    pass


def migrate(conn: sqlite3.Connection) -> int:
    return apply_migrations(conn, MIGRATIONS, "worker registry", RegistrySchemaError)
