"""Roster changes → city, over the agent's MQTT link (attached to :class:`~edge_agent.sync.LedgerSync`).

Up to ``max_inflight`` changes in flight, in outbox order, but never two of the same person
(ID type + number) at once: the city applies one person's enroll → update → exit (and an
exit before a re-enrollment) in order even with several receivers sharing the subscription.
Each is signed with the gateway key and published (QoS 1) on ``rn/v1/gw/{id}/roster``; it
leaves the outbox only on a signed :class:`~shared_schema.messages.RosterAck` with
``status="stored"`` for its change id (the receiver sends that after its commit). No ack
within ``ack_timeout_s``, a lost link or a restart → back to ``pending`` and sent again
(the receiver stores by change id, so a resend is a ``duplicate``, never a second
change). ``rejected`` → back to ``pending`` and the uplink pauses ``reject_retry_s``.
All of this runs on the sync thread.
"""

from __future__ import annotations

import collections
import json
import logging
import sqlite3
import time

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared_schema import topics
from shared_schema.envelope import seal
from shared_schema.messages import RosterAck

from .registry import WorkerRegistry

log = logging.getLogger(__name__)


class RosterUplink:
    def __init__(self, registry: WorkerRegistry, key: Ed25519PrivateKey, *, ack_timeout_s: float = 30.0,
                 reject_retry_s: float = 60.0, max_inflight: int = 8):
        self.registry = registry
        self.outbox = registry.outbox
        self.gateway_id = registry.gateway_id
        self.key = key
        self.ack_timeout_s, self.reject_retry_s = ack_timeout_s, reject_retry_s
        self.max_inflight = max(1, max_inflight)
        self.topic = topics.roster(self.gateway_id)
        self.counters: collections.Counter = collections.Counter()
        self._inflight: dict[str, tuple[tuple[str, str], float]] = {}   # change_id → (person, monotonic deadline)
        self._paused_until = 0.0
        self._dirty = True            # there may be pending rows (the sync loop spins every ~10 ms:
        self._next_look = 0.0         # an idle outbox is looked at once a second, or when told)
        registry.on_change(self._changed)

    def _changed(self, action: str, worker_ref: str) -> None:
        self._dirty = True

    # ---- the LedgerSync channel protocol (sync thread) ---------------------------------
    def pump(self, publish, now: float | None = None) -> None:
        try:
            self._pump(publish, time.monotonic() if now is None else now)
        except sqlite3.Error:   # never take the sync thread down; the outbox is retried next loop
            log.exception("roster outbox unavailable")
            self._inflight.clear()
            self._next_look = (time.monotonic() if now is None else now) + 1.0

    def _pump(self, publish, now: float) -> None:
        expired = [cid for cid, (_, deadline) in self._inflight.items() if deadline <= now]
        if expired:
            self.counters["ack_timeouts"] += len(expired)
            log.warning("no roster ack within %ss for %s changes; resending", self.ack_timeout_s, len(expired))
            for cid in expired:
                self.outbox.release(cid)
                del self._inflight[cid]
            self._dirty = True
        room = self.max_inflight - len(self._inflight)
        if room <= 0 or now < self._paused_until or (not self._dirty and now < self._next_look):
            return
        rows = self.outbox.pending(room)
        if not rows:
            self._dirty, self._next_look = False, now + 1.0
            return
        busy = {person for person, _ in self._inflight.values()}
        for seq, change_id, body in rows:
            obj = json.loads(body)
            person = (obj["id_type"], obj["id_number"])
            if person in busy:
                break         # a person's changes go one after the other, in outbox order
            self.outbox.mark_sent(seq)          # before publishing: an ack can only find a 'sent' row
            if not publish(self.topic, seal(body, self.key)):
                self.outbox.release(change_id)
                return
            self._inflight[change_id] = (person, now + self.ack_timeout_s)
            busy.add(person)
            self.counters["sent"] += 1

    def handle(self, msg) -> bool:
        if not isinstance(msg, RosterAck):
            return False
        try:
            self._handle(msg)
        except sqlite3.Error:   # the ack is lost: the change is sent again after the ack timeout
            log.exception("roster ack not recorded (registry error)")
        return True

    def _handle(self, msg: RosterAck) -> None:
        if msg.gateway_id != self.gateway_id:
            self.counters["ack_invalid"] += 1
            return
        mine = self._inflight.pop(msg.change_id, None) is not None
        if msg.status == "rejected":
            self.counters["rejected"] += 1
            log.error("receiver %s rejected roster change %s: %s; retrying in %ss", msg.receiver_id,
                      msg.change_id, msg.reason, self.reject_retry_s)
            self.outbox.release(msg.change_id)
            self._paused_until = time.monotonic() + self.reject_retry_s
        else:
            if self.outbox.mark_acked(msg.change_id, msg.outcome):
                self.counters["acked"] += 1
                if msg.outcome == "conflict":
                    log.warning("the city registry reports a conflict for roster change %s", msg.change_id)
            elif not mine:
                self.counters["acks_unknown"] += 1

    def reset(self) -> None:
        self._inflight.clear()
        self._dirty = True
        self.outbox.release()
