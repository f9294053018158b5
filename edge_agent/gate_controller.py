"""The gate controller: one state machine per gate, between the verdict and the turnstile.

    idle → face seen → verdict → punch committed → open pulse → wait for passage → closed → idle

* The verdict comes from outside (the simulated gate today, the vision pipeline
  later) as a :class:`~edge_agent.gate.GateDecision` through :meth:`GateController.decide`.
  The controller hands it to :meth:`GateRecorder.record`: the commit happens first,
  and only then does the recorder call this controller's :meth:`open` (the
  recorder's opener), which pulses the turnstile. No passage without a record.
* :meth:`tick` is the step clock. It polls ``read_inputs()`` (which is also the
  serial drivers' reconnection tick), hands the passage sensors to
  :mod:`edge_agent.gate_passage` (``not_passed``, ``tailgating``, ``door_held``) and
  times out each step: no verdict within ``verdict_timeout_s`` after :meth:`face_seen`
  → back to idle with "请正视摄像头"; an open pulse slower than ``open_timeout_s`` →
  fault. A gate with no turnstile only records.
* Fail-safe: while the driver is faulted (health down/degraded, ``read_inputs()``
  raising, fault contact active, ``open()`` raising or too slow) a punch is recorded
  as a rejected attempt with ``reject_reason="gate_fault"`` and the gate does not
  open; ``fault`` is recorded once on entering the fault and ``fault_cleared`` once
  the turnstile has been healthy for ``fault_clear_s``. :meth:`manual_release`
  (fire/emergency, supervisor override) always goes to the turnstile, faulted or
  not, and is committed with who and why *before* the relay moves.
* Fire/emergency input (:mod:`edge_agent.gate_release`): while the turnstile's fire input
  is active the gate is held open both ways (``manual_release`` by ``fire_alarm``, once
  per activation, committed before the hold; ``release_ended`` once the turnstile confirmed
  the hold's end); no tailgating/door_held meanwhile.

Threading: each controller may run its own polling thread (:meth:`start`), or a
test calls :meth:`tick` itself with an injected ``clock``. Decisions come from any
thread; one decision per gate at a time.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import threading
import time
from typing import Callable

from shared_schema.messages import LedgerEntry

from .config import GateConfig, GateTimingConfig
from .drivers import Turnstile, TurnstileInputs
from .feedback import Feedback, LogFeedback, rejection_key
from .gate import GateDecision, GateRecorder
from .gate_passage import DIRECTIONS, Opening, PassageTracker
from .gate_release import FireRelease

log = logging.getLogger(__name__)


class GateState(str, enum.Enum):
    IDLE = "idle"
    FACE_SEEN = "face_seen"            # waiting for the verdict
    OPENING = "opening"                # punch committed, open pulse in progress
    WAIT_PASSAGE = "wait_passage"      # opened; waiting for the passage (or the tailgate window)
    PASSING = "passing"                # a passage sensor is active
    FAULT = "fault"                    # face entry refused; manual release still works
    FIRE_RELEASE = "fire_release"      # held open both ways while the fire input is active


class GateController:
    def __init__(self, gate: GateConfig, recorder: GateRecorder, turnstile: Turnstile | None,
                 timing: GateTimingConfig | None = None, feedback: Feedback | None = None, *,
                 clock: Callable[[], float] = time.monotonic):
        self.gate = gate
        self.gate_id = gate.id
        self.recorder = recorder
        self.turnstile = turnstile
        self.timing = timing or GateTimingConfig()
        self.feedback = feedback or LogFeedback()
        self._clock = clock
        self._decide = threading.Lock()             # one decision / release at a time on this gate
        self._lock = threading.RLock()              # the state below
        self._changed = threading.Condition(self._lock)
        self._passages = PassageTracker(self)      # openings and passage sensors
        self._fault_input = False
        self._fault: str | None = None              # why the gate is faulted, or None
        self._healthy_since: float | None = None
        self._face_at: float | None = None
        self._tl = threading.local()                # the commit that precedes an open() call
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._fire = FireRelease(self)
        recorder.on_committed(self._on_committed)

    # ---- state --------------------------------------------------------------------
    @property
    def state(self) -> GateState:
        with self._lock:
            if self._fire.active:
                return GateState.FIRE_RELEASE
            if self._fault is not None:
                return GateState.FAULT
            if self._passages.passing:
                return GateState.PASSING
            if any(op.opened_at is None for op in self._passages.openings):
                return GateState.OPENING
            if self._passages.openings:
                return GateState.WAIT_PASSAGE
            if self._face_at is not None:
                return GateState.FACE_SEEN
            return GateState.IDLE

    @property
    def fault(self) -> str | None:
        """Why the gate refuses face entry, or None."""
        return self._fault

    @property
    def fire_active(self) -> bool:
        """The fire input holds the gate open."""
        return self._fire.active

    @property
    def passage_confirmation(self) -> bool:
        return self.turnstile is not None and self.turnstile.has_passage_sensors

    def ready(self) -> bool:
        """Nothing in progress: no opening waits for its passage, no sensor is active."""
        with self._lock:
            return not self._passages.openings and not self._passages.passing

    def wait_ready(self, timeout: float) -> bool:
        with self._changed:
            return self._changed.wait_for(self.ready, timeout)

    # ---- inputs from the decision source ----------------------------------------------
    def face_seen(self) -> None:
        """A face entered the camera's view: the verdict must follow within verdict_timeout_s."""
        with self._lock:
            if self._face_at is None:
                self._face_at = self._clock()

    def decide(self, decision: GateDecision) -> LedgerEntry:
        """Record the verdict (commit first); a punch opens the turnstile unless the gate is faulted."""
        if decision.gate_id != self.gate_id:
            raise ValueError(f"decision for gate {decision.gate_id!r} sent to gate {self.gate_id!r}")
        with self._decide:
            events: list[tuple] = []
            with self._lock:
                self._face_at = None
                if decision.type == "punch" and self.turnstile is not None:
                    self._assess(self._clock(), self._problem_now(), events)
                faulted = self._fault is not None
            self._flush(events)
            if decision.type == "punch" and faulted:
                refused = dataclasses.replace(decision, type="rejected", kind=None, reject_reason="gate_fault",
                                              manual_reason=None, operator=None)
                entry = self.recorder.record(refused)      # the attempt is on record; nothing opens
                self._show("gate_fault", decision.direction)
                return entry
            if decision.type != "punch":
                entry = self.recorder.record(decision)
                self._show(rejection_key(decision.reject_reason, decision.liveness_cue), decision.direction)
                return entry
            self._tl.open_error = None
            entry = self.recorder.record(decision)         # commit, then the recorder calls self.open()
            error, self._tl.open_error = self._tl.open_error, None
            if error is not None:
                self._open_failed(error)
            else:
                self._show("please_pass", decision.direction)
            return entry

    def manual_release(self, direction: str, operator: str, reason: str) -> LedgerEntry:
        """Open by hand, faulted or not: the release (who, why) is committed, then the relay moves.
        Raises if the turnstile could not be told to open (the operator must know)."""
        if direction not in DIRECTIONS:
            raise ValueError(f"direction must be 'in' or 'out', not {direction!r}")
        if self.turnstile is None:
            raise ValueError(f"gate {self.gate_id} has no turnstile to release")
        with self._decide:
            self._tl.open_error = None
            try:
                entry = self.recorder.manual_release(self.gate_id, direction, operator, reason)
            except Exception:
                error, self._tl.open_error = self._tl.open_error, None
                if error is not None:
                    self._open_failed(error)
                raise
            error, self._tl.open_error = self._tl.open_error, None
            if error is not None:                           # slow, but it did open
                self._open_failed(error)
            self._show("manual_release", direction)
            return entry

    # ---- the recorder's opener -------------------------------------------------------
    def _on_committed(self, entry: LedgerEntry) -> None:
        if entry.gate_id == self.gate_id:
            self._tl.entry = entry

    def open(self, direction: str | None) -> None:
        """Called by :class:`GateRecorder` right after it committed the entry that opens the gate
        (``direction`` None: a whole-gate release, held open until :class:`FireRelease` ends it)."""
        entry: LedgerEntry | None = getattr(self._tl, "entry", None)
        self._tl.entry = None
        if self.turnstile is None:
            return   # a gate without a turnstile only records
        if direction is None:        # a whole-gate release (the fire input): hold both ways open
            try:
                self.turnstile.hold_open(True)
            except Exception as exc:
                self._tl.open_error = exc
                raise
            self._tl.hold_confirmed = True
            return
        release = entry is not None and entry.type == "gate_event"
        op = None
        if self.turnstile.has_passage_sensors:
            op = Opening(direction, entry.seq if entry is not None and not release else None, release)
            with self._lock:
                self._passages.openings.append(op)
        t0 = self._clock()
        try:
            self.turnstile.open(direction)
        except Exception as exc:
            self._tl.open_error = exc
            raise
        finally:
            if op is not None:   # even after a failure: the ON may have landed, the sensor will tell
                with self._lock:
                    op.opened_at = self._clock()
        took = self._clock() - t0
        if took > self.timing.open_timeout_s:
            self._tl.open_error = TimeoutError(f"open pulse took {took:.2f}s > open_timeout_s")

    # ---- the step clock -----------------------------------------------------------
    def tick(self) -> None:
        """Poll the turnstile once and advance every timer."""
        inputs: TurnstileInputs | None = None
        problem = None
        if self.turnstile is not None:
            try:
                inputs = self.turnstile.read_inputs()
            except Exception as exc:  # TurnstileError, or a driver bug: either way a fault
                problem = f"inputs unreadable: {exc}"
        events: list[tuple] = []
        fire_action = None
        with self._lock:
            now = self._clock()
            if self.turnstile is not None:
                if inputs is not None:
                    self._fault_input = bool(inputs.fault)
                    fire_action = self._fire.sense(now, inputs.fire)
                    self._passages.sense(now, inputs, events)
                self._assess(now, problem or self._problem_now(), events)
            self._passages.expire(now, events)
            if self._face_at is not None and now - self._face_at >= self.timing.verdict_timeout_s:
                self._face_at = None
                events.append(("show", "look_at_camera", None))
            self._changed.notify_all()
        self._flush(events)
        if fire_action is not None:
            fire_action()

    def start(self) -> "GateController":
        self._thread = threading.Thread(target=self._run, name=f"gate-{self.gate_id}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread.is_alive():
            self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.wait(self.timing.poll_interval_s):
            try:
                self.tick()
            except Exception:  # the poller must survive a ledger hiccup; the next tick retries
                log.exception("gate %s: tick failed", self.gate_id)

    # ---- internals (called with self._lock held) ----------------------------------------
    def _problem_now(self) -> str | None:
        h = self.turnstile.health()
        if h.state != "ok":
            return f"turnstile {h.state}: {h.detail}"
        if self._fault_input:
            return "turnstile fault contact active"
        return None

    def _assess(self, now: float, problem: str | None, events: list) -> None:
        if problem is not None:
            self._healthy_since = None
            if self._fault is None:
                log.error("gate %s: FAULT, face entry refused: %s", self.gate_id, problem)
                events.append(("event", "fault", {}))
                events.append(("show", "gate_fault", None))
            self._fault = problem
        elif self._fault is not None:
            if self._healthy_since is None:
                self._healthy_since = now
            if now - self._healthy_since >= self.timing.fault_clear_s:
                log.warning("gate %s: fault cleared (was: %s)", self.gate_id, self._fault)
                self._fault = None
                self._healthy_since = None
                events.append(("event", "fault_cleared", {}))
                events.append(("show", "gate_ready", None))

    def _open_failed(self, error: BaseException) -> None:
        events: list[tuple] = []
        with self._lock:
            self._assess(self._clock(), f"open failed: {error}", events)
        self._flush(events)

    # ---- outside the state lock ----------------------------------------------------
    def _flush(self, events: list) -> None:
        for item in events:
            if item[0] == "event":
                self.recorder.record_event(self.gate_id, item[1], **item[2])
            else:
                self._show(item[1], item[2])

    def _show(self, key: str, direction: str | None) -> None:
        try:
            self.feedback.show(self.gate_id, key, direction)
        except Exception:  # noqa: BLE001 - a broken display never stops the gate
            log.exception("gate %s: feedback %s failed", self.gate_id, key)


class GateControllers(dict):
    """gate_id → :class:`GateController`; :meth:`open` is the :class:`GateRecorder`'s opener."""

    def open(self, gate_id: str, direction: str) -> None:
        self[gate_id].open(direction)

    def start(self) -> None:
        for c in self.values():
            c.start()

    def stop(self) -> None:
        for c in self.values():
            c.stop()
