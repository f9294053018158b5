"""The turnstile driver interface, and the shared machinery of the serial relay drivers.

A driver knows nothing of punches, the ledger or sync. The gate controller
calls :meth:`Turnstile.open` (one pulse, only after a punch is committed),
polls :meth:`Turnstile.read_inputs` (levels; it detects edges itself) and
reads :meth:`Turnstile.health` for the heartbeat. Every serial driver also
uses ``read_inputs()`` as its liveness tick: it reconnects a vanished port and
re-sends any OFF that was not confirmed.
"""

from __future__ import annotations

import abc
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Literal

from .serial_link import DOWN_AFTER_FAILURES, LinkClosed, LinkError, LinkFailed, PortError, SerialLink

log = logging.getLogger(__name__)

__all__ = ["DOWN_AFTER_FAILURES", "LinkError", "PortError"]   # re-exported: drivers import them from here

Direction = Literal["in", "out"]
HealthState = Literal["ok", "degraded", "down"]
CLOSED = "closed"         # health detail of a driver shut down on purpose: not an alarm


class TurnstileError(RuntimeError):
    """An operation did not complete (after its bounded retries); ``health()`` says more."""


@dataclass(frozen=True)
class TurnstileInputs:
    """Sensor levels at the time of the read. ``None`` means this driver has no such sensor
    (it is *unknown*, not "inactive"): e.g. a USB relay board has no inputs at all."""
    passage_in: bool | None
    passage_out: bool | None
    fault: bool | None
    fire: bool | None = None    # the fire/emergency input: while True the gate is held open


@dataclass(frozen=True)
class DriverHealth:
    state: HealthState
    detail: str
    since: float            # time.time() when this state was entered

    def to_dict(self) -> dict[str, Any]:
        return {"state": self.state, "detail": self.detail, "since": self.since}


class Turnstile(abc.ABC):
    """One physical turnstile (one or two directions)."""

    kind: str = ""
    config_class: type = object         # its config dataclass (drivers.config)
    has_passage_sensors: bool = False   # read_inputs() reports passage_in / passage_out
    has_fault_input: bool = False       # read_inputs() reports fault
    has_fire_input: bool = False        # read_inputs() reports fire

    def __init__(self, cfg: Any):
        self.cfg = cfg
        self.id: str = cfg.id

    @abc.abstractmethod
    def open(self, direction: Direction) -> None:
        """One open pulse for ``direction``. Returns when the output is confirmed OFF again.
        Raises :class:`TurnstileError` if the pulse was not delivered or its OFF not confirmed."""

    @abc.abstractmethod
    def read_inputs(self) -> TurnstileInputs:
        """Current sensor levels; raises :class:`TurnstileError` when the device is unreachable."""

    @abc.abstractmethod
    def health(self) -> DriverHealth:
        """Cheap, never blocks on I/O."""

    @abc.abstractmethod
    def close(self) -> None:
        """Best effort: outputs OFF, port closed. Idempotent."""

    def hold_open(self, on: bool) -> None:
        """Keep both directions open (``True``: a fire/emergency release) until ``hold_open(False)``.
        Returns when the device confirmed it; raises :class:`TurnstileError` otherwise."""
        raise TurnstileError(f"turnstile {self.id} ({self.kind}) cannot be held open")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def check_direction(direction: str) -> None:
    if direction not in ("in", "out"):
        raise ValueError(f"direction must be 'in' or 'out', not {direction!r}")


class HealthTracker:
    def __init__(self, name: str, state: HealthState, detail: str, clock: Callable[[], float] = time.time,
                 what: str = "turnstile"):
        self.name = name
        self.what = what              # the device noun in log lines ("turnstile", "camera")
        self._clock = clock
        self._health = DriverHealth(state, detail, clock())

    def get(self) -> DriverHealth:
        return self._health

    def set(self, state: HealthState, detail: str) -> None:
        old = self._health
        if old.state == state and old.detail == detail:
            return
        since = old.since if old.state == state else self._clock()
        self._health = DriverHealth(state, detail, since)
        if old.state != state:
            level = logging.INFO if state == "ok" or detail == CLOSED else logging.WARNING
            log.log(level, "%s %s: %s -> %s (%s)", self.what, self.name, old.state, state, detail)


def driver_for(cfg: Any, registry: dict[str, type], decode: Callable[[dict], Any], what: str):
    """``(cfg, driver class)`` for a config (a table is decoded first): the explicit ``type``
    registry shared by every kind of device. Raises ``ValueError`` naming an unknown ``type``."""
    if isinstance(cfg, dict):
        cfg = decode(cfg)
    driver = registry.get(getattr(cfg, "type", None))
    if driver is None:
        raise ValueError(f"unknown {what} type {getattr(cfg, 'type', None)!r} "
                         f"(known: {', '.join(sorted(registry))})")
    if not isinstance(cfg, driver.config_class):
        raise TypeError(f"{what} {cfg.id}: {type(cfg).__name__} is not a {driver.config_class.__name__}")
    return cfg, driver


class SerialRelayTurnstile(Turnstile):
    """Guaranteed OFF and health for relay drivers, on a :class:`SerialLink` (connection,
    bounded retries, reconnection).

    Subclasses implement the four ``_port_*`` / ``_set_output`` hooks; each is one
    attempt and raises :class:`PortError` or :class:`LinkError`.
    Outputs whose OFF is not confirmed stay in ``pending_off`` and are retried before
    every later operation and on every (re)connect; while any is pending, health is
    ``down``: a relay must never be left latched open unnoticed. The one deliberate
    exception is :meth:`hold_open` (fire/emergency): ``held`` outputs stay ON, are
    re-asserted on every (re)connect, and health is ``down`` until their ON is confirmed.
    """

    def __init__(self, cfg: Any, *, sleep: Callable[[float], None] = time.sleep):
        super().__init__(cfg)
        self._sleep = sleep
        self._bus = threading.RLock()          # one exchange on the line at a time
        self._pulse = threading.Lock()         # one pulse at a time
        self.pending_off: set[int] = set()
        self.held: set[int] = set()                # kept ON on purpose (hold_open)
        self._hold_unconfirmed: set[int] = set()   # held, ON not confirmed yet
        self._tracker = HealthTracker(cfg.id, "down", "not connected yet")
        self._link = SerialLink(cfg.port, self._tracker, retries=cfg.retries,
                                reconnect_interval_s=cfg.reconnect_interval_s, open_port=self._port_open,
                                close_port=self._port_close, on_connect=self._on_connect)
        with self._bus:
            try:
                self._link.connect()
            except PortError as exc:
                self._tracker.set("down", f"port {cfg.port} unavailable: {exc}")

    # ---- hooks -------------------------------------------------------------
    @abc.abstractmethod
    def _port_open(self) -> None: ...

    @abc.abstractmethod
    def _port_close(self) -> None: ...

    @abc.abstractmethod
    def _set_output(self, output: int, on: bool) -> None: ...

    @abc.abstractmethod
    def _output_for(self, direction: Direction) -> int: ...

    @abc.abstractmethod
    def _all_outputs(self) -> tuple[int, ...]: ...

    def _port_check(self) -> None:
        """Cheap check that the open port is still there (raise PortError if not)."""

    # ---- machinery ---------------------------------------------------------
    @property
    def _connected(self) -> bool:
        return self._link.connected

    @property
    def _closed(self) -> bool:
        return self._link.closed

    def _on_connect(self) -> None:
        # Safe state on every (re)connect: the relay may have been left ON across an unplug
        # (and a held output may have lost its state with the module's power).
        self.pending_off.update(set(self._all_outputs()) - self.held)
        self._settle_pending(raise_on_failure=False)
        self._hold_unconfirmed |= self.held
        self._assert_held(raise_on_failure=False)
        if not self.pending_off:
            self._ok()

    def _ok(self) -> None:
        self._link.failures = 0
        if not self._stuck_health():
            held = f"; output {', '.join(map(str, sorted(self.held)))} held ON" if self.held else ""
            self._tracker.set("ok", f"connected on {self.cfg.port}{held}")

    def _stuck_health(self) -> bool:
        """``down`` (True) while an output may be in the wrong state."""
        if self.pending_off:
            outs = ", ".join(str(o) for o in sorted(self.pending_off))
            self._tracker.set("down", f"output {outs} may be stuck ON: OFF not confirmed (retrying)")
            return True
        if self._hold_unconfirmed:
            outs = ", ".join(str(o) for o in sorted(self._hold_unconfirmed))
            self._tracker.set("down", f"output {outs} not confirmed ON: hold open not confirmed (retrying)")
            return True
        return False

    def _io(self, fn: Callable[[], Any], what: str) -> Any:
        """Run one exchange with at most 1 + cfg.retries attempts; reconnects when due."""
        try:
            return self._link.run(fn, what)
        except LinkClosed as exc:
            raise TurnstileError(str(exc)) from None
        except LinkFailed as exc:
            self._stuck_health()
            raise TurnstileError(f"turnstile {self.id}: {exc}") from None

    def _settle_pending(self, raise_on_failure: bool) -> None:
        for out in sorted(self.pending_off):
            try:
                self._io(lambda out=out: self._set_output(out, False), f"OFF output {out}")
            except TurnstileError:
                if raise_on_failure:
                    raise
                return
            self.pending_off.discard(out)
            log.debug("turnstile %s: output %s confirmed OFF", self.id, out)
        if self._connected and self._link.failures == 0:
            self._ok()

    def _assert_held(self, raise_on_failure: bool) -> None:
        for out in sorted(self._hold_unconfirmed):
            try:
                self._io(lambda out=out: self._set_output(out, True), f"hold ON output {out}")
            except TurnstileError:
                if raise_on_failure:
                    raise
                return
            self._hold_unconfirmed.discard(out)
        if self._connected and self._link.failures == 0:
            self._ok()

    # ---- interface ---------------------------------------------------------
    def hold_open(self, on: bool) -> None:
        with self._pulse, self._bus:
            if on:
                self.held = set(self._all_outputs())
                self.pending_off -= self.held
                self._hold_unconfirmed = set(self.held)
                self._assert_held(raise_on_failure=True)
            else:
                self.pending_off |= self.held
                self.held, self._hold_unconfirmed = set(), set()
                self._settle_pending(raise_on_failure=True)

    def open(self, direction: Direction) -> None:
        check_direction(direction)
        out = self._output_for(direction)
        with self._pulse:
            if out in self.held:
                return                                        # held open already: nothing to pulse
            with self._bus:
                self._settle_pending(raise_on_failure=True)   # never pulse on top of a stuck relay
                try:
                    self._io(lambda: self._set_output(out, True), f"ON output {out}")
                except TurnstileError:
                    self.pending_off.add(out)                 # the ON may have landed anyway
                    self._settle_pending(raise_on_failure=False)
                    raise
                t_on = time.monotonic()
            try:
                remaining = self.cfg.pulse_ms / 1000.0 - (time.monotonic() - t_on)
                if remaining > 0:
                    self._sleep(remaining)   # bus released: inputs can be polled meanwhile
            finally:
                with self._bus:
                    self.pending_off.add(out)
                    self._settle_pending(raise_on_failure=True)

    def health(self):
        return self._tracker.get()

    def _tick(self) -> None:
        """Reconnect when due, notice a vanished port, retry pending OFFs."""
        self._link.tick(self._port_check)
        if self._connected and self.pending_off:
            self._settle_pending(raise_on_failure=False)
        if self._connected and self._hold_unconfirmed:
            self._assert_held(raise_on_failure=False)

    def close(self) -> None:
        with self._bus:
            if self._closed:
                return
            self.held.clear()
            self._hold_unconfirmed.clear()
            if self._connected:
                self.pending_off.update(self._all_outputs())
                self._settle_pending(raise_on_failure=False)
            self._link.close()
            self._tracker.set("down", CLOSED)
