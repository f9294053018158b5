"""Roster changes decided at the city → this gateway, once each and in order (attached to LedgerSync).

Pull-based, so it catches up after any outage: the downlink reports the version it has
applied (:class:`~shared_schema.messages.RosterDownState`, signed, on the roster topic) on
every (re)connect, every ``poll_s`` and right after a batch that leaves more to fetch; the
receiver answers on the ack topic with the following changes (``RosterDownBatch``); after
applying some, it reports again, which tells the city how far it is. Each
change is applied only if its version is exactly the next one; anything older is ignored,
anything beyond a gap triggers a new report.

Applying (idempotent, so a crash between the effect and its log entry is harmless):

* ``exit`` — the person's active record exits (the exit goes back up as a RosterChange);
  no active record (never enrolled here, already exited) → ``skipped``;
* ``correct`` — the fields are updated and the record validated in full; invalid → ``failed``;
* ``project_stopped`` / ``project_resumed`` — the registry's project status (listeners hear it).

A ``failed`` or ``skipped`` change still counts as processed (the log says why; the detail
names fields, never personal data), so one bad change cannot block those after it. Every state
report carries the last 50 of them (``outcomes``), so the city learns that an exit or a
correction did not take effect here (after 50 of them in one batch the downlink reports before
going on, so none drops off the list unreported); a report with none omits the field, which
keeps it readable by receivers that predate it.
"""

from __future__ import annotations

import collections
import logging
import re
import sqlite3
import time

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared_schema import SCHEMA_VERSION, topics
from shared_schema.envelope import seal
from shared_schema.messages import (MAX_DOWN_OUTCOMES, OUTCOME_DETAIL, RosterDownBatch, RosterDownChange,
                                    RosterDownOutcome, RosterDownState)
from shared_schema.wire import canonical_json, to_wire, utc_now

from .registry import InvalidState, NotFound, WorkerRegistry
from .validate import ValidationFailed

log = logging.getLogger(__name__)

_DETAIL_RE = re.compile(OUTCOME_DETAIL, re.ASCII)
_DETAIL_MAX = 128


def wire_detail(detail: str | None) -> str:
    """A down log detail as the wire takes it: printable ASCII, 1-128 characters (a longer list
    of field names is cut with ``...``; anything else becomes a fixed pointer to the log)."""
    text = (detail or "").strip()
    if len(text) > _DETAIL_MAX:
        text = text[:_DETAIL_MAX - 3] + "..."
    return text if _DETAIL_RE.fullmatch(text) else "see the gateway's roster down log"


def encode_state(state: RosterDownState) -> bytes:
    """The bytes to sign: canonical JSON, without ``outcomes`` when there are none (an older
    receiver refuses the unknown field; one that knows it reads the absence as empty)."""
    wire = to_wire(state)
    if not state.outcomes:
        del wire["outcomes"]
    return canonical_json(wire)


class RosterDownlink:
    def __init__(self, registry: WorkerRegistry, key: Ed25519PrivateKey, *, poll_s: float = 30.0):
        self.registry = registry
        self.key = key
        self.poll_s = poll_s
        self.topic = topics.roster(registry.gateway_id)
        self.counters: collections.Counter = collections.Counter()
        self._want = True
        self._next_poll = 0.0

    # ---- the LedgerSync channel protocol (sync thread) ---------------------------------
    def pump(self, publish, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        if not self._want and now < self._next_poll:
            return
        if publish(self.topic, seal(encode_state(self.state()), self.key)):
            self._want = False
            self._next_poll = now + self.poll_s
            self.counters["state_sent"] += 1

    def state(self) -> RosterDownState:
        """The report: the applied version and the most recent changes that did not apply."""
        reg = self.registry
        applied = reg.down_applied_version()
        outcomes = tuple(RosterDownOutcome(version=o["version"], action=o["action"], status=o["status"],
                                           detail=wire_detail(o["detail"]))
                         for o in reg.down_outcomes(MAX_DOWN_OUTCOMES) if o["version"] <= applied)
        return RosterDownState(v=SCHEMA_VERSION, type="roster_down_state", gateway_id=reg.gateway_id,
                               project_code=reg.project_code, applied_version=applied, sent_at=utc_now(),
                               outcomes=outcomes)

    def handle(self, msg) -> bool:
        if not isinstance(msg, RosterDownBatch):
            return False
        try:
            self._handle(msg)
        except sqlite3.Error:   # never take the sync thread down: ask again later
            log.exception("roster down batch not applied (registry error); will ask again")
            self._want = True
        return True

    def _handle(self, msg: RosterDownBatch) -> None:
        if msg.gateway_id != self.registry.gateway_id or msg.project_code != self.registry.project_code:
            self.counters["batch_invalid"] += 1
            log.warning("ignored a roster down batch for another gateway or project")
            return
        applied = start = self.registry.down_applied_version()
        not_applied = 0
        for change in msg.changes:
            if change.version <= applied:
                self.counters["already_applied"] += 1
                continue
            if change.version != applied + 1:
                self.counters["gaps"] += 1
                log.warning("roster down gap: have v%s, got v%s; asking again", applied, change.version)
                self._want = True
                return
            not_applied += self.apply(change) != "applied"
            applied = change.version
            if not_applied >= MAX_DOWN_OUTCOMES and change is not msg.changes[-1]:
                # a report carries the last 50 only: report these before going on, so none is lost
                log.info("roster down: %s changes not applied in one batch; reporting before the rest", not_applied)
                self._want = True
                return
        if msg.latest_version > applied or applied > start:   # fetch the rest / tell the city how far we are
            self._want = True

    def reset(self) -> None:
        self._want = True        # ask again as soon as the link is back

    # ---- applying ----------------------------------------------------------------------
    def apply(self, c: RosterDownChange) -> str:
        operator = f"city:{c.operator}"[:64]
        status, detail = "applied", None
        reg = self.registry
        try:
            if c.action in ("project_stopped", "project_resumed"):
                reg.set_project_status("stopped" if c.action == "project_stopped" else "active")
            else:
                w = reg.find_by_id(c.id_type, c.id_number)
                if w is None:
                    status, detail = "skipped", "no active record of this person on the gateway"
                elif c.action == "exit":
                    reg.exit(w.worker_ref, {"exit_date": c.exit_date, "credit_remarks": c.reason},
                             operator=operator, confirm_wages=False)
                else:
                    reg.update(w.worker_ref, {f.name: f.value for f in c.corrections}, operator=operator)
        except ValidationFailed as exc:
            status, detail = "failed", "invalid: " + ", ".join(sorted({e.field for e in exc.errors}))
        except InvalidState as exc:
            status, detail = "skipped", exc.en
        except NotFound:            # gone between the lookup and the change; str(exc) is its worker_ref
            status, detail = "skipped", "no record of this person on the gateway"
        reg.record_down(c.version, c.action, status, detail)
        self.counters[status] += 1
        log.info("roster down v%s %s: %s", c.version, c.action, status)
        return status
