"""The fire/emergency hold of one gate, driven by the turnstile's fire input.

While the fire input (``TurnstileInputs.fire``, e.g. a Modbus relay module's discrete
input wired to the fire panel) is active, the gate is held open in both directions.
One *activation* is on record as a pair of gate events, operator ``fire_alarm``:

* on activation, a ``manual_release`` (``direction`` empty = the whole gate) is committed,
  and only then is the turnstile told to :meth:`~edge_agent.drivers.Turnstile.hold_open`;
* if the hold was not confirmed (port gone, no reply) it is retried on every tick,
  without another event, and the gate's fault is raised meanwhile;
* the hold ends once the input has been clear for ``fire_clear_s`` (a chattering contact
  makes one activation) *and* the turnstile confirmed the release
  (``hold_open(False)``); only then is ``release_ended`` committed, with ``ref_seq`` =
  the seq of the activation's ``manual_release`` and how long the gate stood open. The
  release is committed after the coils moved (it records that the gate is back to normal),
  where the ``manual_release`` is committed before (nothing opens without a record).
* An unconfirmed release (``hold_open(False)`` raising) raises the gate's fault and is
  retried on every tick while the input stays clear; the activation goes on meanwhile
  (``active``), so an input that comes back before the release is confirmed continues it
  (the hold is asserted again, no second ``manual_release``, no ``release_ended``).

An unreadable input (``read_inputs()`` failing) is *unknown*, not clear: the hold stays, and
an unconfirmed release waits for a readable, clear input.

A gateway stop or restart during a hold (or a power loss) leaves that activation's
``manual_release`` without its ``release_ended``: nothing is known about the gate while the
agent is down, and nothing is guessed afterwards. The city sees the restart (gateway status,
the heartbeat's ``boot_id``). If the input is still active after the restart, the hold starts
again as a *new* activation with its own pair. Likewise, a ``manual_release`` that could not be
committed (ledger failure: the gate opened anyway) has no ``release_ended``; its end is logged.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Callable

from shared_schema.messages import LedgerEntry

if TYPE_CHECKING:
    from .gate_controller import GateController

log = logging.getLogger(__name__)

FIRE_OPERATOR = "fire_alarm"
FIRE_REASON = "消防联动：火警输入动作，闸机常开 / fire alarm input active: gate held open"
END_REASON = "消防联动解除，闸机恢复正常 / fire input cleared after {held_s:.0f} s: gate back to normal"


class FireRelease:
    def __init__(self, controller: "GateController"):
        self._ctl = controller
        self.since: float | None = None        # when the current activation began (controller clock)
        self.clear_at: float | None = None     # when the input last went clear during an activation
        self.confirmed = False                 # the turnstile confirmed the hold
        self.releasing = False                 # the release was tried and not confirmed yet
        self.start_seq: int | None = None      # the current activation's manual_release, if committed
        self.activations = 0
        controller.recorder.on_committed(self._note_start)

    @property
    def active(self) -> bool:
        return self.since is not None

    def sense(self, now: float, level: bool | None) -> Callable[[], None] | None:
        """Called with the controller's state lock held; returns what to do once it is released."""
        if level:
            self.clear_at = None
            if self.since is None:
                self.since = now
                self.activations += 1
                return self._start
            return None if self.confirmed else self._retry
        if self.since is None or level is None:
            return None
        if self.clear_at is None:
            self.clear_at = now
        if now - self.clear_at >= self._ctl.timing.fire_clear_s:
            return self._end       # every tick until the turnstile confirms the release
        return None

    def _note_start(self, entry: LedgerEntry) -> None:
        """Committed-entry listener: a whole-gate ``manual_release`` of this gate is the fire
        hold's start (a supervisor's release always names a direction). Runs inside
        :meth:`_start`'s commit, before the turnstile is told anything."""
        if (entry.gate_id == self._ctl.gate_id and entry.event_kind == "manual_release"
                and entry.direction is None):
            self.start_seq = entry.seq

    # ---- actions (outside the state lock, one at a time with decisions) ----------------
    def _start(self) -> None:
        ctl = self._ctl
        log.critical("gate %s: FIRE input active: holding the gate open (both directions)", ctl.gate_id)
        with ctl._decide:
            ctl._tl.hold_confirmed = False
            self.start_seq = None
            try:   # commit (who, why), then the recorder's opener calls ctl.open(None) = hold
                ctl.recorder.manual_release(ctl.gate_id, None, FIRE_OPERATOR, FIRE_REASON)
            except Exception as exc:  # noqa: BLE001 - ledger or turnstile: the hold is retried per tick
                log.error("gate %s: fire release incomplete: %s", ctl.gate_id, exc)
            self.confirmed = bool(getattr(ctl._tl, "hold_confirmed", False))
        if not self.confirmed:
            ctl._open_failed(RuntimeError("fire hold not confirmed by the turnstile"))
        ctl._show("manual_release", None)

    def _retry(self) -> None:
        ctl = self._ctl
        with ctl._decide:
            try:
                ctl.turnstile.hold_open(True)
            except Exception as exc:  # noqa: BLE001
                log.debug("gate %s: fire hold retry failed: %s", ctl.gate_id, exc)
                return
            self.confirmed = True
            self.releasing = False
        log.warning("gate %s: fire hold confirmed by the turnstile", ctl.gate_id)

    def _end(self) -> None:
        ctl = self._ctl
        with ctl._decide:
            if self.since is None:
                return
            self.confirmed = False             # from here on the hold is not asserted
            try:
                ctl.turnstile.hold_open(False)
            except Exception as exc:  # noqa: BLE001 - the driver keeps retrying its OFF; health says so
                if not self.releasing:
                    log.error("gate %s: ending the fire hold failed (retried): %s", ctl.gate_id, exc)
                else:
                    log.debug("gate %s: fire hold release retry failed: %s", ctl.gate_id, exc)
                self.releasing = True
                failed: Exception | None = exc
            else:
                failed = None
                held_s = max(0.0, ctl._clock() - self.since)
                start_seq, self.start_seq = self.start_seq, None
                self.since = self.clear_at = None
                self.releasing = False
                self._record_end(start_seq, held_s)
        if failed is not None:
            ctl._open_failed(failed)           # keeps the gate faulted until the release is confirmed
            return
        log.warning("gate %s: fire input clear for %.1fs: hold ended, gate back to face entry",
                    ctl.gate_id, ctl.timing.fire_clear_s)
        ctl._show("release_ended", None)

    def _record_end(self, start_seq: int | None, held_s: float) -> None:
        """Commit the activation's ``release_ended`` (under the decision lock, after the release)."""
        ctl = self._ctl
        if start_seq is None:
            log.error("gate %s: fire hold ended after %.0fs; its manual_release was not committed, "
                      "so its end is not recorded either", ctl.gate_id, held_s)
            return
        try:
            ctl.recorder.record_event(ctl.gate_id, "release_ended", ref_seq=start_seq, operator=FIRE_OPERATOR,
                                      reason=END_REASON.format(held_s=held_s))
        except Exception:  # noqa: BLE001 - the gate is back to normal; the ledger's failure is its own alarm
            log.critical("gate %s: end of the fire hold (manual_release seq %s) NOT recorded",
                         ctl.gate_id, start_seq, exc_info=True)
