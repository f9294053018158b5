"""Consent to face processing (the 2025 face-recognition rules): separate from enrollment,
recorded with time and operator in ``consent_log``. A refusal or a withdrawal deletes the
worker's templates and records the alternative way through; the worker stays enrolled.

``record_consent`` / ``consent_history`` are methods of :class:`~.registry.WorkerRegistry`
(bound there); ``write_consent`` runs inside the caller's transaction, so
:meth:`~.registry.WorkerRegistry.enroll` can record the form's decision in its own commit.
"""

from __future__ import annotations

import json
import sqlite3
import time

from .model import Worker
from .validate import FieldError, ValidationFailed

ALTERNATIVES = {"id_card_swipe": ("刷身份证并由工作人员确认", "ID card swipe, confirmed by staff")}


def record_consent(self, worker_ref: str, *, granted: bool, operator: str,
                   alternative: str | None = "id_card_swipe") -> Worker:
    """Face-processing consent, separate from enrollment, with time and operator. A refusal
    (or a withdrawal) deletes any stored templates and records the ``alternative`` way
    through (:data:`ALTERNATIVES`); the worker stays enrolled."""
    operator = self._operator(operator)
    check_alternative(granted, alternative)
    now = time.time()
    with self._tx() as c:
        row = self._require(worker_ref, active=True)
        write_consent(c, row, granted, alternative, operator, now)
        self._change(c, "update", row, json.loads(row["record_json"]), operator, now)
    self._notify("consent", worker_ref)
    return self.get(worker_ref)


def check_alternative(granted: bool, alternative: str | None) -> None:
    if not granted and alternative not in ALTERNATIVES:
        raise ValidationFailed([FieldError("alternative", "请选择替代通行方式", "choose an alternative way through")])


def write_consent(c: sqlite3.Connection, row: dict, granted: bool, alternative: str | None, operator: str,
                  now: float, *, bump: bool = True) -> None:
    """The decision, its log line and (refusal) the templates' deletion; ``row`` is updated."""
    ref = row["worker_ref"]
    decision = "granted" if granted else ("withdrawn" if row.get("consent") == "granted" else "refused")
    c.execute("UPDATE workers SET consent = ?, consent_at = ?, consent_operator = ?, alternative = ?, "
              f"version = version + {int(bump)}, updated_at = ? WHERE worker_ref = ?",
              ("granted" if granted else "refused", now, operator, None if granted else alternative, now, ref))
    c.execute("INSERT INTO consent_log (worker_ref, decision, alternative, operator, at) VALUES (?, ?, ?, ?, ?)",
              (ref, decision, None if granted else alternative, operator, now))
    if not granted:
        c.execute("DELETE FROM templates WHERE worker_ref = ?", (ref,))
    row["consent"] = "granted" if granted else "refused"


def consent_history(self, worker_ref: str) -> list[dict]:
    with self._lock:
        cur = self._conn.execute("SELECT decision, alternative, operator, at FROM consent_log "
                                 "WHERE worker_ref = ? ORDER BY id", (worker_ref,))
        return [dict(zip(("decision", "alternative", "operator", "at"), r)) for r in cur]
