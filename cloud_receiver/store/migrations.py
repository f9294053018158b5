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


# v4 (issue 6 roles and wage risk, issue 7 revocable tokens): API tokens (SHA-256 of the token only),
# imported payroll (no full ID or bank card numbers: a hash links a row to the roster, cards keep
# their last 4 digits), the months' wage-risk facts behind the trend series, and service events
# (disputes, evaluations) that the service-quality rule reads.
_V4 = [
    """CREATE TABLE api_tokens (
        token_id {serial},
        name TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('city', 'district', 'project')),
        scope TEXT NOT NULL,
        full_ids BOOLEAN NOT NULL DEFAULT FALSE,
        token_sha256 TEXT NOT NULL UNIQUE,
        prefix TEXT NOT NULL,
        created_at DOUBLE PRECISION NOT NULL,
        expires_at DOUBLE PRECISION,
        last_used_at DOUBLE PRECISION,
        revoked_at DOUBLE PRECISION)""",
    "CREATE UNIQUE INDEX api_tokens_live_name ON api_tokens (name) WHERE revoked_at IS NULL",
    """CREATE TABLE payroll_imports (
        import_id {serial},
        project_code TEXT NOT NULL,
        source TEXT NOT NULL,
        format TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        rows_total INTEGER NOT NULL,
        rows_rejected INTEGER NOT NULL,
        inserted INTEGER NOT NULL,
        updated INTEGER NOT NULL,
        unchanged INTEGER NOT NULL,
        operator TEXT NOT NULL,
        imported_at DOUBLE PRECISION NOT NULL)""",
    "CREATE INDEX payroll_imports_project ON payroll_imports (project_code, imported_at)",
    """CREATE TABLE payroll_records (
        project_code TEXT NOT NULL,
        pay_month TEXT NOT NULL,
        id_hash TEXT NOT NULL,
        id_type TEXT NOT NULL,
        id_masked TEXT NOT NULL,
        corp_code TEXT NOT NULL,
        team_code TEXT,
        days INTEGER NOT NULL,
        work_hours DOUBLE PRECISION NOT NULL,
        total_pay_cents BIGINT NOT NULL,
        actual_pay_cents BIGINT NOT NULL,
        payroll_card_last4 TEXT,
        payroll_bank_code TEXT,
        pay_card_last4 TEXT,
        pay_bank_code TEXT,
        is_back_pay BOOLEAN NOT NULL,
        balance_date TEXT,
        back_pay_month TEXT,
        third_code TEXT,
        import_id BIGINT NOT NULL,
        updated_at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (project_code, pay_month, id_hash))""",
    "CREATE INDEX payroll_records_month ON payroll_records (pay_month, project_code)",
    """CREATE TABLE wage_service_events (
        event_id {serial},
        project_code TEXT NOT NULL,
        corp_code TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('dispute', 'evaluation')),
        occurred_on TEXT NOT NULL,
        score DOUBLE PRECISION,
        detail TEXT,
        operator TEXT NOT NULL,
        created_at DOUBLE PRECISION NOT NULL)""",
    "CREATE INDEX wage_service_events_project ON wage_service_events (project_code, occurred_on)",
    """CREATE TABLE wage_risk_months (
        project_code TEXT NOT NULL,
        month TEXT NOT NULL,
        facts TEXT NOT NULL,
        computed_at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (project_code, month))""",
    "CREATE INDEX wage_risk_months_month ON wage_risk_months (month)",
]

# v5 (issue 6, dashboard): the daily computation's figures per project and day, its
# abnormal-attendance findings (one row per project involved, the one it is filed under
# is_primary; fkey identifies the finding), and the by-date index city-wide queries need
_V5 = [
    "CREATE INDEX ledger_date_type ON ledger (device_date, type)",
    """CREATE TABLE dash_project_days (
        date TEXT NOT NULL,
        project_code TEXT NOT NULL,
        district TEXT,
        status TEXT NOT NULL,
        stopped BOOLEAN NOT NULL,
        roster INTEGER NOT NULL,
        present INTEGER NOT NULL,
        on_site INTEGER NOT NULL,
        manual_punches INTEGER NOT NULL,
        off_roster INTEGER NOT NULL,
        computed_at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (date, project_code))""",
    "CREATE INDEX dash_project_days_district ON dash_project_days (district, date)",
    "CREATE INDEX dash_project_days_project ON dash_project_days (project_code, date)",
    """CREATE TABLE dash_findings (
        finding_id {serial},
        date TEXT NOT NULL,
        project_code TEXT NOT NULL,
        district TEXT,
        rule TEXT NOT NULL,
        worker_ref TEXT,
        gateway_id TEXT,
        fkey TEXT NOT NULL,
        is_primary BOOLEAN NOT NULL,
        body TEXT NOT NULL)""",
    "CREATE INDEX dash_findings_date ON dash_findings (date, rule)",
    "CREATE INDEX dash_findings_project ON dash_findings (project_code, date)",
    "CREATE INDEX dash_findings_worker ON dash_findings (project_code, worker_ref)",
]


# v6 (issue 5, roster sync): the city worker registry. One person (ID type + number) across
# projects, their memberships (one active role per project at a time: the partial unique
# index) and the history of every roster change with what the registry made of it; the
# down direction's numbered changes per project and each gateway's applied version.
_V6 = [
    """CREATE TABLE persons (
        id_type TEXT NOT NULL,
        id_number TEXT NOT NULL,
        name TEXT NOT NULL,
        head_image_b64 TEXT,
        first_seen DOUBLE PRECISION NOT NULL,
        last_seen DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (id_type, id_number))""",
    """CREATE TABLE memberships (
        membership_id {serial},
        id_type TEXT NOT NULL,
        id_number TEXT NOT NULL,
        project_code TEXT NOT NULL,
        worker_ref TEXT NOT NULL,
        gateway_id TEXT NOT NULL,
        role TEXT NOT NULL,
        post TEXT,
        company_code TEXT NOT NULL,
        team_code TEXT,
        work_type TEXT,
        entry_date TEXT,
        exit_date TEXT,
        status TEXT NOT NULL CHECK (status IN ('active', 'exited')),
        opened_at DOUBLE PRECISION NOT NULL,
        updated_at DOUBLE PRECISION NOT NULL,
        last_change_id TEXT NOT NULL,
        details_json TEXT,
        FOREIGN KEY (id_type, id_number) REFERENCES persons (id_type, id_number))""",
    "CREATE UNIQUE INDEX memberships_one_active ON memberships (id_type, id_number, project_code) "
    "WHERE status = 'active'",
    "CREATE INDEX memberships_project ON memberships (project_code, status)",
    """CREATE TABLE person_history (
        change_id TEXT PRIMARY KEY,
        id_type TEXT NOT NULL,
        id_number TEXT NOT NULL,
        project_code TEXT NOT NULL,
        gateway_id TEXT NOT NULL,
        worker_ref TEXT NOT NULL,
        action TEXT NOT NULL,
        role TEXT NOT NULL,
        post TEXT,
        outcome TEXT NOT NULL CHECK (outcome IN ('applied', 'conflict')),
        detail TEXT,
        changed_at TEXT NOT NULL,
        received_at DOUBLE PRECISION NOT NULL)""",
    "CREATE INDEX person_history_person ON person_history (id_type, id_number, changed_at)",
    # the down direction: changes decided at the city, numbered 1, 2, 3 ... per project, and the
    # version each gateway last reported as applied
    """CREATE TABLE roster_down (
        project_code TEXT NOT NULL,
        version BIGINT NOT NULL,
        action TEXT NOT NULL,
        body TEXT NOT NULL,
        issued_at TEXT NOT NULL,
        operator TEXT NOT NULL,
        created_at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (project_code, version))""",
    """CREATE TABLE gateway_roster_down (
        gateway_id TEXT PRIMARY KEY,
        project_code TEXT NOT NULL,
        applied_version BIGINT NOT NULL,
        reported_at DOUBLE PRECISION NOT NULL)""",
]


# v7 (issue 7, operations): a gateway revoked with `cloud-receiver ca revoke` (same step as the CRL);
# ingest rejects its messages with reason "revoked_gateway". NULL = not revoked; cleared when its key
# is replaced (register-gateway --replace: the new box of a replaced gateway).
_V7 = ["ALTER TABLE gateways ADD COLUMN revoked_at DOUBLE PRECISION"]

# v8 (issue 5): an opaque number per person of the city registry, so the API addresses a person
# (/api/v1/persons/{person_id}) without an ID number in the URL. Filled for existing persons.
_V8 = [
    """CREATE TABLE person_ids (
        person_id {serial},
        id_type TEXT NOT NULL,
        id_number TEXT NOT NULL,
        UNIQUE (id_type, id_number))""",
    "INSERT INTO person_ids (id_type, id_number) SELECT id_type, id_number FROM persons "
    "ORDER BY first_seen, id_type, id_number",
]


# v9 (issue 5): what the gateways report of down changes that did not take effect there
# (skipped: e.g. no active record of the person; failed: e.g. a correction that does not
# validate), one row per gateway, project and version; reports repeat, rows do not.
_V9 = [
    """CREATE TABLE roster_down_outcomes (
        gateway_id TEXT NOT NULL,
        project_code TEXT NOT NULL,
        version BIGINT NOT NULL,
        action TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('skipped', 'failed')),
        detail TEXT NOT NULL,
        reported_at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (gateway_id, project_code, version))""",
    "CREATE INDEX roster_down_outcomes_project ON roster_down_outcomes (project_code, version)",
]


# v10 (requirement 13, upload to the national platform: cloud_receiver.upstream): one row per
# object uploaded (company, team, worker, entry/exit) with its state; per project the ledger
# cursor (ingest_no) of the attendance upload and the registry changes already looked at; the
# punches waiting for their worker (counted, never dropped) and the submitted attendance batches
# (ledger ingest_nos only: the payload is rebuilt from the ledger and the registry, so no ID
# number is stored twice). last_error never holds an ID number.
_UPSTREAM_STATUS = "status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'submitted', 'done', 'failed'))"
_V10 = [
    f"""CREATE TABLE upstream_objects (
        object_id {{serial}},
        kind TEXT NOT NULL CHECK (kind IN ('company', 'team', 'worker', 'entry_exit')),
        project_code TEXT NOT NULL,
        local_key TEXT NOT NULL,
        {_UPSTREAM_STATUS},
        request_serial TEXT,
        remote_ref TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_try_at DOUBLE PRECISION NOT NULL DEFAULT 0,
        last_error TEXT,
        source_at DOUBLE PRECISION NOT NULL,
        created_at DOUBLE PRECISION NOT NULL,
        updated_at DOUBLE PRECISION NOT NULL,
        UNIQUE (kind, project_code, local_key))""",
    "CREATE INDEX upstream_objects_due ON upstream_objects (status, next_try_at)",
    """CREATE TABLE upstream_cursors (
        project_code TEXT PRIMARY KEY,
        through_ingest_no BIGINT NOT NULL DEFAULT 0,
        skipped BIGINT NOT NULL DEFAULT 0,
        registry_seen_at DOUBLE PRECISION NOT NULL DEFAULT 0,
        updated_at DOUBLE PRECISION NOT NULL)""",
    """CREATE TABLE upstream_punch_queue (
        project_code TEXT NOT NULL,
        ingest_no BIGINT NOT NULL,
        worker_ref TEXT NOT NULL,
        wait_reason TEXT,
        queued_at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (project_code, ingest_no))""",
    f"""CREATE TABLE upstream_attendance (
        batch_id {{serial}},
        project_code TEXT NOT NULL,
        team_key TEXT NOT NULL,
        ingest_nos TEXT NOT NULL,
        records INTEGER NOT NULL,
        {_UPSTREAM_STATUS},
        request_serial TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_try_at DOUBLE PRECISION NOT NULL DEFAULT 0,
        last_error TEXT,
        created_at DOUBLE PRECISION NOT NULL,
        updated_at DOUBLE PRECISION NOT NULL)""",
    "CREATE INDEX upstream_attendance_due ON upstream_attendance (status, next_try_at)",
    "CREATE INDEX upstream_attendance_project ON upstream_attendance (project_code, status)",
    # one uploader at a time across receiver processes sharing the store: a lease, renewed by each run
    """CREATE TABLE upstream_lease (
        name TEXT PRIMARY KEY,
        holder TEXT NOT NULL,
        expires_at DOUBLE PRECISION NOT NULL)""",
]


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
        (4, "api tokens, payroll import, wage risk", [q.replace("{serial}", "INTEGER PRIMARY KEY AUTOINCREMENT")
                                                      for q in _V4]),
        (5, "dashboard daily figures", [q.replace("{serial}", "INTEGER PRIMARY KEY AUTOINCREMENT") for q in _V5]),
        (6, "city worker registry", [q.replace("{serial}", "INTEGER PRIMARY KEY AUTOINCREMENT") for q in _V6]),
        (7, "gateway revocation", _V7),
        (8, "person ids", [q.replace("{serial}", "INTEGER PRIMARY KEY AUTOINCREMENT") for q in _V8]),
        (9, "roster down outcomes", _V9),
        (10, "national platform upload state", [q.replace("{serial}", "INTEGER PRIMARY KEY AUTOINCREMENT")
                                                for q in _V10]),
    ],
    "postgresql": [
        (1, "initial schema", _v1("BIGSERIAL PRIMARY KEY",
                                  "    ingest_no BIGINT GENERATED BY DEFAULT AS IDENTITY")),
        (2, "roster person index", _V2),
        (3, "tamper alert handling", _V3),
        (4, "api tokens, payroll import, wage risk", [q.replace("{serial}", "BIGSERIAL PRIMARY KEY") for q in _V4]),
        (5, "dashboard daily figures", [q.replace("{serial}", "BIGSERIAL PRIMARY KEY") for q in _V5]),
        (6, "city worker registry", [q.replace("{serial}", "BIGSERIAL PRIMARY KEY") for q in _V6]),
        (7, "gateway revocation", _V7),
        (8, "person ids", [q.replace("{serial}", "BIGSERIAL PRIMARY KEY") for q in _V8]),
        (9, "roster down outcomes", _V9),
        (10, "national platform upload state", [q.replace("{serial}", "BIGSERIAL PRIMARY KEY") for q in _V10]),
    ],
}


def latest(dialect: str) -> int:
    return max(v for v, _, _ in MIGRATIONS[dialect])
