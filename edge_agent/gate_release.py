"""The fire/emergency hold of one gate, driven by the turnstile's fire input.

While the fire input (``TurnstileInputs.fire``, e.g. a Modbus relay module's discrete
input wired to the fire panel) is active, the gate is held open in both directions:

* on activation, a ``manual_release`` gate event with operator ``fire_alarm`` is
  committed (once per activation, ``direction`` empty = the whole gate), and only then is
  the turnstile told to :meth:`~edge_agent.drivers.Turnstile.hold_open`;
* if the hold was not confirmed (port gone, no reply) it is retried on every tick,
  without another event, and the gate's fault is raised meanwhile;
* the hold ends once the input has been clear for ``fire_clear_s`` (a chattering contact
  makes one activation). The wire schema has no event kind for that end, so it is logged
  here (and the hold's end is visible in the driver's health detail), not sent.

An unreadable input (``read_inputs()`` failing) is *unknown*, not clear: the hold stays.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from .gate_controller import GateController

log = logging.getLogger(__name__)

FIRE_OPERATOR = "fire_alarm"
FIRE_REASON = "消防联动：火警输入动作，闸机常开 / fire alarm input active: gate held open"


class FireRelease:
    def __init__(self, controller: "GateController"):
        self._ctl = controller
        self.since: float | None = None        # when the current activation began (controller clock)
        self.clear_at: float | None = None     # when the input last went clear during an activation
        self.confirmed = False                 # the turnstile confirmed the hold
        self.activations = 0

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
            return self._end
        return None

    # ---- actions (outside the state lock, one at a time with decisions) ----------------
    def _start(self) -> None:
        ctl = self._ctl
        log.critical("gate %s: FIRE input active: holding the gate open (both directions)", ctl.gate_id)
        with ctl._decide:
            ctl._tl.hold_confirmed = False
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
        log.warning("gate %s: fire hold confirmed by the turnstile", ctl.gate_id)

    def _end(self) -> None:
        ctl = self._ctl
        with ctl._decide:
            self.since = self.clear_at = None
            self.confirmed = False
            try:
                ctl.turnstile.hold_open(False)
            except Exception as exc:  # noqa: BLE001 - the driver keeps retrying its OFF; health says so
                log.error("gate %s: ending the fire hold failed: %s", ctl.gate_id, exc)
                ctl._open_failed(exc)
                return
        log.warning("gate %s: fire input clear for %.1fs: hold ended, gate back to face entry",
                    ctl.gate_id, ctl.timing.fire_clear_s)
        ctl._show("gate_ready", None)
