"""The receiver store interface and the plain data it exchanges.

:class:`Store` is what the rest of the receiver uses; ``sqlite.py`` and
``postgres.py`` implement it (shared SQL in ``common.py``). Every method is
safe to call from several threads: each thread gets its own connection.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any

# Column order of ledger rows as :class:`EntryRow` carries them (``ingest_no`` is the store's).
LEDGER_COLUMNS = (
    "gateway_id", "seq", "event_id", "type", "project_code", "gate_id", "prev_hash", "entry_hash",
    "device_time", "device_date", "monotonic_ns", "boot_id", "direction", "worker_ref", "kind",
    "match_score", "liveness_score", "liveness_cue", "snapshot_ref", "reject_reason",
    "manual_reason", "operator", "event_kind", "ref_seq", "chain_status", "batch_id", "received_at",
)


@dataclass(slots=True)
class EntryRow:
    """One verified-signature ledger entry ready to store (chain_status set by the store)."""

    gateway_id: str
    seq: int
    event_id: str
    type: str
    project_code: str
    gate_id: str
    prev_hash: str
    entry_hash: str
    device_time: str
    device_date: str
    monotonic_ns: int
    boot_id: str
    direction: str | None
    worker_ref: str | None
    kind: str | None
    match_score: float | None
    liveness_score: float | None
    liveness_cue: str | None
    snapshot_ref: str | None
    reject_reason: str | None
    manual_reason: str | None
    operator: str | None
    event_kind: str | None
    ref_seq: int | None
    chain_status: str
    batch_id: str
    received_at: float

    def as_tuple(self) -> tuple:  # replaced below by a generated straight-line version
        return tuple(getattr(self, c) for c in LEDGER_COLUMNS)


def _compile_as_tuple():
    body = ", ".join(f"self.{c}" for c in LEDGER_COLUMNS)
    env: dict = {}
    exec(f"def as_tuple(self) -> tuple:\n    return ({body},)\n", env)  # noqa: S102 - fixed column names
    env["as_tuple"].__doc__ = "The row's values in :data:`LEDGER_COLUMNS` order."
    return env["as_tuple"]


EntryRow.as_tuple = _compile_as_tuple()  # type: ignore[method-assign]


@dataclass
class BatchResult:
    """What one committed batch did. ``stored_ranges``/``acked_through_seq`` go into the BatchAck."""

    gateway_id: str
    batch_id: str
    new: list[int] = field(default_factory=list)
    duplicates: list[int] = field(default_factory=list)
    conflicts: list[int] = field(default_factory=list)
    mismatches: list[int] = field(default_factory=list)
    pending: list[int] = field(default_factory=list)
    stored_ranges: list[list[int]] = field(default_factory=list)
    acked_through_seq: int = 0


@dataclass
class SweepResult:
    verified: int = 0
    mismatches: int = 0
    gap_alerts: int = 0
    gaps_resolved: int = 0


def seq_ranges(seqs) -> list[list[int]]:
    """Sorted seqs → ``[[first, last], ...]`` runs."""
    out: list[list[int]] = []
    for s in sorted(set(seqs)):
        if out and s == out[-1][1] + 1:
            out[-1][1] = s
        else:
            out.append([s, s])
    return out


class GatewayKeyConflict(Exception):
    """Re-registering a gateway with a different public key without ``replace``."""


class Store(abc.ABC):
    dialect: str

    # ---- lifecycle / schema
    @abc.abstractmethod
    def migrate(self) -> list[int]:
        """Apply pending migrations; return the versions applied now."""

    @abc.abstractmethod
    def schema_version(self) -> int: ...

    @abc.abstractmethod
    def ping(self) -> bool: ...

    @abc.abstractmethod
    def close(self) -> None: ...

    # ---- gateways
    @abc.abstractmethod
    def register_gateway(self, gateway_id: str, public_key_hex: str, project_code: str, vendor: str,
                         site: str | None = None, *, replace: bool = False, now: float) -> str:
        """Return 'registered', 'updated' or 'replaced'; raise GatewayKeyConflict."""

    @abc.abstractmethod
    def get_gateway(self, gateway_id: str) -> dict[str, Any] | None: ...

    @abc.abstractmethod
    def list_gateways(self) -> list[dict[str, Any]]: ...

    @abc.abstractmethod
    def purge_exited_photos(self, cutoff: float) -> int:
        """Clear head photos of people without an active membership since before ``cutoff``."""

    @abc.abstractmethod
    def revoke_gateway(self, gateway_id: str, now: float) -> bool:
        """Set the gateway's revoked flag (``revoked_at``); False if it is not registered."""

    @abc.abstractmethod
    def watermark(self, gateway_id: str) -> int: ...

    # ---- ingest
    @abc.abstractmethod
    def apply_batch(self, gateway_id: str, batch_id: str, rows: list[EntryRow], now: float) -> BatchResult:
        """Idempotent insert of one batch in ONE transaction (see ``common.py``)."""

    @abc.abstractmethod
    def record_rejection(self, gateway_id: str | None, channel: str | None, reason: str, size: int,
                         sha256: str, now: float) -> None: ...

    @abc.abstractmethod
    def bump(self, name: str, n: int = 1) -> None: ...

    @abc.abstractmethod
    def update_heartbeat(self, gateway_id: str, hb: dict[str, Any], now: float) -> None: ...

    @abc.abstractmethod
    def update_status(self, gateway_id: str, online: bool, since: str, reason: str | None,
                      software_version: str, now: float) -> bool: ...

    @abc.abstractmethod
    def add_roster_change(self, row: dict[str, Any], now: float) -> bool: ...

    # ---- sweep
    @abc.abstractmethod
    def sweep(self, now: float, gap_grace_s: float) -> SweepResult: ...

    # ---- queries
    @abc.abstractmethod
    def punches(self, project_code: str, date: str, limit: int, offset: int) -> list[dict]: ...

    @abc.abstractmethod
    def gate_events(self, gateway_id: str | None, date: str | None, kind: str | None, limit: int,
                    offset: int) -> list[dict]:
        """Gate events (not punches), optionally of one gateway / device date / event kind."""

    @abc.abstractmethod
    def alerts(self, state: str | None, gateway_id: str | None, limit: int, offset: int) -> list[dict]: ...

    @abc.abstractmethod
    def set_alert_state(self, alert_id: int, state: str, now: float, operator: str | None = None,
                        note: str | None = None) -> bool: ...

    @abc.abstractmethod
    def counters(self) -> dict[str, int]: ...

    @abc.abstractmethod
    def stats(self) -> dict[str, Any]: ...

    # ---- supervision (issue 6; SQL in ``supervision.py``)
    @abc.abstractmethod
    def roster(self, project_code: str) -> list[dict]:
        """The latest roster change per worker of the project (incl. the ID number: callers mask)."""

    @abc.abstractmethod
    def attendance_punches(self, project_code: str, first_date: str, last_date: str) -> list[dict]:
        """Punch rows with a worker and ``passage`` for device dates first_date..last_date."""

    @abc.abstractmethod
    def ledger(self, gateway_id: str | None = None) -> list[dict]:
        """All ledger rows (both types) ordered by gateway, seq: for tests and exports."""

    # ---- projects, status periods, warnings (issue 6; SQL in ``projects.py``)
    @abc.abstractmethod
    def upsert_project(self, row: dict, now: float) -> str:
        """Insert or update a validated project row; → 'created' or 'updated'."""

    @abc.abstractmethod
    def list_projects(self, district: str | None = None) -> list[dict]:
        """Projects, each with ``periods`` (its status periods by from_date)."""

    @abc.abstractmethod
    def get_project(self, project_code: str) -> dict | None: ...

    @abc.abstractmethod
    def add_status_period(self, project_code: str, period: dict, now: float) -> dict:
        """Add a validated status period; LookupError / PeriodOverlap."""

    @abc.abstractmethod
    def sync_warnings(self, rules, found: dict, now: float) -> dict:
        """Idempotent re-evaluation of the given warning rules (see ``projects.py``)."""

    @abc.abstractmethod
    def warnings(self, project_code: str | None, state: str | None, rule: str | None,
                 limit: int, offset: int, project_codes=None) -> list[dict]:
        """``project_codes``: only these projects' warnings (a scoped token's); None: all."""

    @abc.abstractmethod
    def get_warning(self, warning_id: int) -> dict | None: ...

    @abc.abstractmethod
    def set_warning_state(self, warning_id: int, state: str, operator: str, note: str | None,
                          now: float) -> dict | None: ...

    @abc.abstractmethod
    def open_tamper_alerts(self) -> list[dict]: ...

    # ---- abnormal attendance (issue 6; SQL in ``anomalies.py``)
    @abc.abstractmethod
    def anomaly_entries(self, first_date: str, last_date: str, project_code: str | None = None) -> list[dict]:
        """Punches and rejected attempts of the device dates (a project's people's, if given)."""

    @abc.abstractmethod
    def anomaly_roster(self, project_codes) -> list[dict]:
        """Latest roster row per (project, worker) of the given projects (incl. ID numbers: never output)."""

    @abc.abstractmethod
    def project_coordinates(self) -> dict[str, tuple[float, float] | None]: ...

    @abc.abstractmethod
    def gate_hour_counts(self, first_date: str, last_date: str, liveness_prefix: str,
                         project_code: str | None = None) -> list[dict]:
        """Per gateway, gate and UTC hour: entries and liveness failures (the spike baseline)."""

    # ---- API tokens (issue 6 roles, issue 7; SQL in ``tokens.py``, only hashes stored)
    @abc.abstractmethod
    def create_token(self, name: str, role: str, scope: list[str], full_ids: bool, token_sha256: str,
                     prefix: str, now: float, expires_at: float | None = None) -> dict: ...

    @abc.abstractmethod
    def token_by_hash(self, token_sha256: str) -> dict | None: ...

    @abc.abstractmethod
    def list_tokens(self, include_revoked: bool = False) -> list[dict]: ...

    @abc.abstractmethod
    def revoke_token(self, name: str, now: float) -> int: ...

    @abc.abstractmethod
    def touch_token(self, token_id: int, now: float) -> None: ...

    # ---- payroll import, wage risk (issue 6; SQL in ``wage.py``)
    @abc.abstractmethod
    def upsert_payroll(self, project_code: str, rows: list[dict], meta: dict, now: float) -> dict:
        """One idempotent payroll import (validated rows, no full ID or card numbers)."""

    @abc.abstractmethod
    def payroll_records(self, project_code: str, first_month: str, last_month: str) -> list[dict]: ...

    @abc.abstractmethod
    def payroll_imports(self, project_code: str, limit: int = 100) -> list[dict]: ...

    @abc.abstractmethod
    def payroll_months(self, project_code: str) -> list[str]: ...

    @abc.abstractmethod
    def add_service_event(self, row: dict, now: float) -> dict: ...

    @abc.abstractmethod
    def service_events(self, project_code: str, first_date: str, last_date: str) -> list[dict]: ...

    @abc.abstractmethod
    def put_wage_facts(self, project_code: str, month: str, facts: dict, now: float) -> None: ...

    @abc.abstractmethod
    def wage_facts(self, first_month: str, last_month: str, project_codes=None) -> list[dict]: ...
