"""The one code path from a gate decision to the turnstile: COMMIT, then open.

Every decision source (the simulated gate today, the camera + liveness + roster
pipeline later) builds a :class:`GateDecision` and calls
:meth:`GateRecorder.record`. The ledger commit happens first; only a committed
punch may open the turnstile (``opener``, supplied by the turnstile driver
issue); then the sync is told so the entry goes out live, ahead of any backlog.
If the commit fails, the exception propagates and the gate stays shut.

What the gate observes afterwards (nobody passed, tailgating, door held, faults)
is recorded with :meth:`GateRecorder.record_event`: a ``gate_event`` entry that
may refer to the punch it is about (``ref_seq``) and never opens anything. A
manual release (fire/emergency, supervisor override) goes through
:meth:`GateRecorder.manual_release`: the event, with who and why, is committed
*before* the turnstile is told to open.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass
from typing import Callable, Literal

from shared_schema.messages import EVENT_KINDS, LedgerEntry
from shared_schema.promtext import CounterVec, Histogram

from .ledger import PunchLedger

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GateDecision:
    gate_id: str
    direction: Literal["in", "out"]
    type: Literal["punch", "rejected"] = "punch"
    worker_ref: str | None = None
    kind: Literal["work", "non_work", "manual"] | None = None
    match_score: float | None = None
    liveness_score: float | None = None
    liveness_cue: str | None = None
    snapshot_ref: str | None = None
    reject_reason: str | None = None
    manual_reason: str | None = None
    operator: str | None = None


Opener = Callable[[str, str], None]          # (gate_id, direction): open the turnstile once
Listener = Callable[[LedgerEntry], None]


def outcome(entry: LedgerEntry) -> str:
    """A bounded category for metrics (never the free-text reason): ``punch``, ``liveness``
    (``reject_reason`` starting with "liveness"), ``gate_fault`` or ``rejected``."""
    if entry.type == "punch":
        return "punch"
    reason = entry.reject_reason or ""
    if reason.startswith("liveness"):
        return "liveness"
    return "gate_fault" if reason == "gate_fault" else "rejected"


class GateRecorder:
    """``record(decision)``: commit → (punch only) open the turnstile → notify listeners."""

    def __init__(self, ledger: PunchLedger, opener: Opener | None = None):
        self.ledger = ledger
        self.opener = opener
        self._committed: list[Listener] = []   # run right after the commit, before opening
        self._live: list[Callable[[int], None]] = []
        # metrics (edge_agent.metrics): per gate and outcome; latency = commit + open pulse
        self.decisions = CounterVec("rn_edge_gate_decisions_total", "Gate decisions recorded, by gate and outcome.",
                                    ("gate", "outcome"))
        self.decision_seconds = Histogram("rn_edge_gate_decision_seconds",
                                          "Gate decision: ledger commit plus turnstile open pulse, seconds.",
                                          ("outcome",))
        self.events = CounterVec("rn_edge_gate_events_total", "Gate events recorded, by gate and kind.",
                                 ("gate", "kind"))

    def on_committed(self, fn: Listener) -> None:
        self._committed.append(fn)

    def on_live(self, fn: Callable[[int], None]) -> None:
        """E.g. :meth:`edge_agent.sync.LedgerSync.notify_live`."""
        self._live.append(fn)

    def record(self, decision: GateDecision) -> LedgerEntry:
        t0 = time.perf_counter()
        entry = self.ledger.append(**dataclasses.asdict(decision))   # durable from here on
        self._committed_hooks(entry)
        if entry.type == "punch" and self.opener is not None:
            try:
                self.opener(entry.gate_id, entry.direction)
            except Exception:  # the record stands; a failed opening is the driver's alarm
                log.exception("turnstile did not open for seq %s", entry.seq)
        kind = outcome(entry)
        self.decisions.inc(entry.gate_id, kind)
        self.decision_seconds.observe(time.perf_counter() - t0, kind)
        self._live_hooks(entry)
        return entry

    def record_event(self, gate_id: str, event_kind: str, *, direction: str | None = None,
                     ref_seq: int | None = None, operator: str | None = None,
                     reason: str | None = None) -> LedgerEntry:
        """Commit a ``gate_event`` (e.g. ``not_passed`` with the punch's ``ref_seq``) and send it
        live. Never opens the turnstile; a manual release must use :meth:`manual_release`."""
        if event_kind == "manual_release":
            raise ValueError("a manual release goes through GateRecorder.manual_release")
        if event_kind not in EVENT_KINDS:
            raise ValueError(f"unknown gate event kind {event_kind!r}")
        entry = self.ledger.append(type="gate_event", gate_id=gate_id, direction=direction,
                                   event_kind=event_kind, ref_seq=ref_seq, operator=operator,
                                   manual_reason=reason)
        self._committed_hooks(entry)
        self._live_hooks(entry)
        return entry

    def manual_release(self, gate_id: str, direction: str, operator: str, reason: str) -> LedgerEntry:
        """Open the gate by hand (fire/emergency, supervisor override), logged with who and why.

        The ``manual_release`` event is committed first, then the turnstile is opened. Fail-safe:
        if the *ledger* fails (disk, I/O), the gate is opened anyway and the error is re-raised
        after opening; an invalid request (no operator or no reason) raises ``ValueError`` and
        opens nothing. An opener failure is re-raised too: the person at the gate must know.
        """
        try:
            entry = self.ledger.append(type="gate_event", gate_id=gate_id, direction=direction,
                                       event_kind="manual_release", operator=operator,
                                       manual_reason=reason)
        except ValueError:
            raise
        except Exception:
            log.critical("manual release on gate %s NOT logged (ledger failure); opening anyway",
                         gate_id, exc_info=True)
            self._open(gate_id, direction)
            raise
        self._committed_hooks(entry)
        try:
            self._open(gate_id, direction)
        finally:
            self._live_hooks(entry)
        log.warning("manual release gate=%s direction=%s seq=%s", gate_id, direction, entry.seq)
        return entry

    def _open(self, gate_id: str, direction: str) -> None:
        if self.opener is None:
            raise RuntimeError("no turnstile opener configured: cannot release the gate")
        self.opener(gate_id, direction)

    def _committed_hooks(self, entry: LedgerEntry) -> None:
        if entry.type == "gate_event":
            self.events.inc(entry.gate_id, entry.event_kind or "unknown")
        for fn in self._committed:
            fn(entry)

    def _live_hooks(self, entry: LedgerEntry) -> None:
        for fn in self._live:
            fn(entry.seq)
