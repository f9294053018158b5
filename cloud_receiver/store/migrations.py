"""Versioned schema migrations, one list per dialect, tracked in ``schema_migrations``.

Append new versions; never edit a released one. Each version is a list of
statements applied in one transaction together with its ``schema_migrations``
row. Times are stored as epoch seconds (double precision) in both dialects.
"""

from __future__ import annotations

_LEDGER_COLS = """
    gateway_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    event_id TEXT NOT NULL,
    type TEXT NOT NULL CHECK (type IN ('punch', 'rejected', 'gate_event')),
    project_code TEXT NOT NULL,
    gate_id TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    entry_hash TEXT NOT NULL,
    device_time TEXT NOT NULL,
    device_date TEXT NOT NULL,
    monotonic_ns BIGINT NOT NULL,
    boot_id TEXT NOT NULL,
    direction TEXT,
    worker_ref TEXT,
    kind TEXT,
    match_score DOUBLE PRECISION,
    liveness_score DOUBLE PRECISION,
    liveness_cue TEXT,
    snapshot_ref TEXT,
    reject_reason TEXT,
    manual_reason TEXT,
    operator TEXT,
    event_kind TEXT,
    ref_seq BIGINT,
    chain_status TEXT NOT NULL CHECK (chain_status IN ('verified', 'pending', 'mismatch')),
    batch_id TEXT NOT NULL,
    received_at DOUBLE PRECISION NOT NULL,
"""

_COMMON_TAIL = [
    "CREATE INDEX ledger_project_date ON ledger (project_code, device_date, type)",
    "CREATE INDEX ledger_ingest_no ON ledger (ingest_no)",
    "CREATE INDEX ledger_pending ON ledger (chain_status) WHERE chain_status = 'pending'",
    "CREATE VIEW punches AS SELECT * FROM ledger WHERE type = 'punch'",
    "CREATE VIEW rejected_attempts AS SELECT * FROM ledger WHERE type = 'rejected'",
    "CREATE VIEW gate_events AS SELECT * FROM ledger WHERE type = 'gate_event'",
    # the punch listing's "passage": is there a not_passed event referring to this punch?
    "CREATE INDEX ledger_gate_event_ref ON ledger (gateway_id, ref_seq) WHERE type = 'gate_event'",
    "CREATE INDEX ledger_gate_event_date ON ledger (device_date, gateway_id) WHERE type = 'gate_event'",
    """CREATE TABLE tamper_alerts (
        alert_id {serial},
        gateway_id TEXT NOT NULL,
        seq BIGINT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('chain_gap', 'chain_mismatch', 'seq_conflict')),
        detail TEXT NOT NULL,
        detected_at DOUBLE PRECISION NOT NULL,
        state TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'acknowledged', 'resolved')),
        state_changed_at DOUBLE PRECISION,
        UNIQUE (gateway_id, seq, kind))""",
    "CREATE INDEX tamper_alerts_state ON tamper_alerts (state, gateway_id)",
    """CREATE TABLE rejected_messages (
        id {serial},
        received_at DOUBLE PRECISION NOT NULL,
        gateway_id TEXT,
        channel TEXT,
        reason TEXT NOT NULL,
        size BIGINT NOT NULL,
        sha256 TEXT NOT NULL)""",
    "CREATE INDEX rejected_messages_time ON rejected_messages (received_at)",
    "CREATE TABLE counters (name TEXT PRIMARY KEY, value BIGINT NOT NULL)",
    """CREATE TABLE roster_changes (
        change_id TEXT PRIMARY KEY,
        gateway_id TEXT NOT NULL,
        changed_at TEXT NOT NULL,
        action TEXT NOT NULL,
        project_code TEXT NOT NULL,
        worker_ref TEXT NOT NULL,
        id_type TEXT NOT NULL,
        id_number TEXT NOT NULL,
        name TEXT NOT NULL,
        role TEXT NOT NULL,
        post TEXT,
        company_code TEXT NOT NULL,
        team_code TEXT,
        work_type TEXT,
        entry_date TEXT,
        exit_date TEXT,
        face_consent BOOLEAN NOT NULL,
        operator TEXT NOT NULL,
        received_at DOUBLE PRECISION NOT NULL)""",
    "CREATE INDEX roster_changes_worker ON roster_changes (project_code, worker_ref)",
    # supervision (issue 6): projects, their dated status periods (national code table:
    # 001 preparing, 002 approved, 003 under construction, 004 completed, 005 stopped 停工), warnings
    """CREATE TABLE projects (
        project_code TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        district TEXT,
        address TEXT,
        lng DOUBLE PRECISION,
        lat DOUBLE PRECISION,
        general_contractor TEXT,
        supervisor TEXT,
        status TEXT NOT NULL DEFAULT '003' CHECK (status IN ('001', '002', '003', '004', '005')),
        created_at DOUBLE PRECISION NOT NULL,
        updated_at DOUBLE PRECISION NOT NULL)""",
    "CREATE INDEX projects_district ON projects (district, project_code)",
    """CREATE TABLE project_status_periods (
        period_id {serial},
        project_code TEXT NOT NULL REFERENCES projects (project_code),
        status TEXT NOT NULL CHECK (status IN ('001', '002', '003', '004', '005')),
        from_date TEXT NOT NULL,
        to_date TEXT,
        reason TEXT,
        operator TEXT NOT NULL,
        created_at DOUBLE PRECISION NOT NULL,
        CHECK (to_date IS NULL OR to_date >= from_date))""",
    "CREATE INDEX project_status_periods_project ON project_status_periods (project_code, from_date)",
    """CREATE TABLE warnings (
        warning_id {serial},
        rule TEXT NOT NULL,
        subject TEXT NOT NULL,
        project_code TEXT,
        gateway_id TEXT,
        evidence TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'acknowledged', 'resolved')),
        first_seen DOUBLE PRECISION NOT NULL,
        last_seen DOUBLE PRECISION NOT NULL,
        state_changed_at DOUBLE PRECISION,
        state_operator TEXT,
        state_note TEXT)""",
    # at most one live (open or acknowledged) warning per rule and subject: re-evaluation never duplicates
    "CREATE UNIQUE INDEX warnings_live ON warnings (rule, subject) WHERE state <> 'resolved'",
    "CREATE INDEX warnings_project ON warnings (project_code, state, rule)",
]

_GATEWAYS = """CREATE TABLE gateways (
    gateway_id TEXT PRIMARY KEY,
    public_key TEXT NOT NULL,
    project_code TEXT NOT NULL,
    site TEXT,
    vendor TEXT NOT NULL,
    registered_at DOUBLE PRECISION NOT NULL,
    key_replaced_at DOUBLE PRECISION,
    last_seen DOUBLE PRECISION,
    rx_through_seq BIGINT NOT NULL DEFAULT 0,
    last_heartbeat_at DOUBLE PRECISION,
    head_seq BIGINT,
    acked_through_seq BIGINT,
    backlog BIGINT,
    oldest_unacked_age_s DOUBLE PRECISION,
    clock_offset_s DOUBLE PRECISION,
    boot_id TEXT,
    software_version TEXT,
    disk_free_bytes BIGINT,
    disk_alarm BOOLEAN,
    ledger_ok BOOLEAN,
    devices_json TEXT,
    online BOOLEAN NOT NULL DEFAULT FALSE,
    status_since TEXT,
    status_reason TEXT,
    status_at DOUBLE PRECISION)"""


# v2 (issue 6, abnormal attendance): link one person's punches across projects by ID number
_V2 = ["CREATE INDEX roster_changes_person ON roster_changes (id_type, id_number, project_code)"]

# v3: who acknowledged or resolved a tamper alert, and why (an alert is evidence: its handling is too)
_V3 = ["ALTER TABLE tamper_alerts ADD COLUMN state_operator TEXT",
       "ALTER TABLE tamper_alerts ADD COLUMN state_note TEXT"]


def _v1(serial: str, ingest_col: str) -> list[str]:
    ledger = ("CREATE TABLE ledger (" + _LEDGER_COLS + ingest_col +
              ",\n    PRIMARY KEY (gateway_id, seq),\n    UNIQUE (event_id))")
    return [_GATEWAYS, ledger] + [s.replace("{serial}", serial) for s in _COMMON_TAIL]


MIGRATIONS: dict[str, list[tuple[int, str, list[str]]]] = {
    "sqlite": [
        (1, "initial schema", _v1("INTEGER PRIMARY KEY AUTOINCREMENT",
                                  "    ingest_no INTEGER NOT NULL")),
        (2, "roster person index", _V2),
        (3, "tamper alert handling", _V3),
    ],
    "postgresql": [
        (1, "initial schema", _v1("BIGSERIAL PRIMARY KEY",
                                  "    ingest_no BIGINT GENERATED BY DEFAULT AS IDENTITY")),
        (2, "roster person index", _V2),
        (3, "tamper alert handling", _V3),
    ],
}


def latest(dialect: str) -> int:
    return max(v for v, _, _ in MIGRATIONS[dialect])
