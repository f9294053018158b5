"""The one code path from a gate decision to the turnstile: COMMIT, then open.

Every decision source (the simulated gate today, the camera + liveness + roster
pipeline later) builds a :class:`GateDecision` and calls
:meth:`GateRecorder.record`. The ledger commit happens first; only a committed
punch may open the turnstile (``opener``, supplied by the turnstile driver
issue); then the sync is told so the entry goes out live, ahead of any backlog.
If the commit fails, the exception propagates and the gate stays shut.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from typing import Callable, Literal

from shared_schema.messages import LedgerEntry

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


class GateRecorder:
    """``record(decision)``: commit → (punch only) open the turnstile → notify listeners."""

    def __init__(self, ledger: PunchLedger, opener: Opener | None = None):
        self.ledger = ledger
        self.opener = opener
        self._committed: list[Listener] = []   # run right after the commit, before opening
        self._live: list[Callable[[int], None]] = []

    def on_committed(self, fn: Listener) -> None:
        self._committed.append(fn)

    def on_live(self, fn: Callable[[int], None]) -> None:
        """E.g. :meth:`edge_agent.sync.LedgerSync.notify_live`."""
        self._live.append(fn)

    def record(self, decision: GateDecision) -> LedgerEntry:
        entry = self.ledger.append(**dataclasses.asdict(decision))   # durable from here on
        for fn in self._committed:
            fn(entry)
        if entry.type == "punch" and self.opener is not None:
            try:
                self.opener(entry.gate_id, entry.direction)
            except Exception:  # the record stands; a failed opening is the driver's alarm
                log.exception("turnstile did not open for seq %s", entry.seq)
        for fn in self._live:
            fn(entry.seq)
        return entry
