"""One serial device link: bounded attempts, reconnection with backoff, health after failures.

Shared by every serial driver (the relay turnstiles in :mod:`.base`, the ID card reader,
OSDP). The device code supplies ``open_port`` / ``close_port`` (one attempt each; opening
raises :class:`PortError`) and runs each exchange through :meth:`SerialLink.run`, whose
``fn`` is one attempt and raises

* :class:`PortError` — the port is missing or failed: drop it, reconnect (when due);
* :class:`LinkError` — the port is fine but the device gave no (valid) answer: try again;
* anything else — the device's own verdict: it propagates untouched.

No lock here: the owner serialises calls (one exchange on the line at a time). The link
never imports the drivers' health types: it is handed a tracker with ``get()`` / ``set()``.
"""

from __future__ import annotations

import logging
import termios
import time
from typing import Any, Callable, Protocol

import serial

log = logging.getLogger(__name__)

# What a serial port raises when the adapter goes away: pyserial's own errors, OS errors, and
# termios.error from tcflush/tcdrain (not an OSError) when it is unplugged mid-call.
SERIAL_ERRORS = (serial.SerialException, OSError, termios.error)

DOWN_AFTER_FAILURES = 3   # consecutive failed operations before a reachable port counts as down


class PortError(Exception):
    """The serial port is missing, cannot be opened, or failed: drop it and reconnect."""


class LinkError(Exception):
    """The port is fine but the device gave no (valid) answer."""


class LinkFailed(Exception):
    """Every attempt of one :meth:`SerialLink.run` failed; ``last`` is the last attempt's error."""

    def __init__(self, what: str, last: Exception | None):
        super().__init__(f"{what} failed: {last}")
        self.what = what
        self.last = last


class LinkClosed(Exception):
    """The link was closed on purpose."""


class Tracker(Protocol):
    name: str
    what: str

    def get(self) -> Any: ...

    def set(self, state: str, detail: str) -> None: ...


class SerialLink:
    """Connection state of one port. ``on_connect`` runs right after every (re)open (a safe-state
    write, a self-check); it may raise :class:`PortError` and may itself call :meth:`run`."""

    def __init__(self, port: str, tracker: Tracker, *, retries: int, reconnect_interval_s: float,
                 open_port: Callable[[], None], close_port: Callable[[], None],
                 on_connect: Callable[[], None] | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.port = port
        self.tracker = tracker
        self.retries = retries
        self.reconnect_interval_s = reconnect_interval_s
        self._open_port = open_port
        self._close_port = close_port
        self._on_connect = on_connect
        self._clock = clock
        self.connected = False
        self.closed = False
        self.failures = 0              # consecutive failed run() calls
        self.next_connect = 0.0        # monotonic time before which no reconnect is attempted

    @property
    def _label(self) -> str:
        return f"{self.tracker.what} {self.tracker.name}"

    def connect(self) -> None:
        """One open attempt (and ``on_connect``); raises :class:`PortError`. Sets the backoff."""
        self.next_connect = self._clock() + self.reconnect_interval_s
        self._open_port()
        self.connected = True
        log.info("%s: connected on %s", self._label, self.port)
        if self._on_connect is not None:
            self._on_connect()

    def drop(self, exc: Exception) -> None:
        """The port failed: close it (best effort) and report ``down`` until it is back."""
        if self.connected:
            log.warning("%s: port %s lost: %s", self._label, self.port, exc)
        self.connected = False
        try:
            self._close_port()
        except Exception:  # noqa: BLE001 - closing a dead port may fail in many ways
            log.debug("%s: close after failure", self._label, exc_info=True)
        self.tracker.set("down", f"port {self.port} unavailable: {exc}")

    def run(self, fn: Callable[[], Any], what: str, *,
            benign: Callable[[Exception], bool] | None = None) -> Any:
        """``fn()`` with at most 1 + ``retries`` attempts; reconnects first when due.

        A call that starts disconnected waits out the backoff (fails at once with the current
        health detail); a port lost during the call is reopened at once for the next attempt.
        After the last failed attempt, raises :class:`LinkFailed` and, unless ``benign(last)``
        says the device itself answered properly (e.g. a card-side error), counts the failure:
        ``degraded``, then ``down`` after ``DOWN_AFTER_FAILURES`` in a row."""
        last: Exception | None = None
        for attempt in range(1 + self.retries):
            if self.closed:
                raise LinkClosed(f"{self._label} is closed")
            if not self.connected:
                if attempt == 0 and self._clock() < self.next_connect:
                    last = PortError(f"{self.tracker.get().detail}; next reconnect attempt pending")
                    break
                try:
                    self.connect()
                except PortError as exc:
                    self.drop(exc)
                    last = exc
                    break     # the port is not there: retrying now would not help
            try:
                result = fn()
            except PortError as exc:
                self.drop(exc)
                last = exc
                continue
            except LinkError as exc:
                last = exc
                log.debug("%s: %s attempt %d failed: %s", self._label, what, attempt + 1, exc)
                continue
            self.failures = 0
            return result
        if not (benign is not None and last is not None and self.connected and benign(last)):
            self.failures += 1
            if self.connected:
                state = "degraded" if self.failures < DOWN_AFTER_FAILURES else "down"
                self.tracker.set(state, f"{what}: {last}")
        raise LinkFailed(what, last)

    def tick(self, check: Callable[[], None] | None = None) -> None:
        """Liveness: ``check()`` (raises :class:`PortError`) notices a vanished port; a dropped
        port is reopened once the backoff has passed. Never raises :class:`PortError`."""
        if self.closed:
            return
        if self.connected and check is not None:
            try:
                check()
            except PortError as exc:
                self.drop(exc)
        if not self.connected and self._clock() >= self.next_connect:
            try:
                self.connect()
            except PortError as exc:
                self.drop(exc)

    def close(self) -> None:
        """Closed for good (idempotent); the owner reports its own ``closed`` health."""
        self.closed = True
        self.connected = False
        try:
            self._close_port()
        except Exception:  # noqa: BLE001
            log.debug("%s: close", self._label, exc_info=True)
