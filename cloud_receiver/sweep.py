"""Periodic chain sweep: re-verify ``pending`` links whose predecessor has arrived
(several receivers race, so a predecessor may be committed by another process after
its successor), and raise a ``chain_gap`` tamper alert for a hole still open after
``gap_grace_s``. Runs in a daemon thread every ``sweep_interval_s`` and whenever the
consumer reports being idle (:meth:`Sweeper.poke`)."""

from __future__ import annotations

import logging
import threading
import time

from .store import Store, SweepResult

log = logging.getLogger(__name__)


def run_sweep(store: Store, gap_grace_s: float, now: float | None = None) -> SweepResult:
    res = store.sweep(time.time() if now is None else now, gap_grace_s)
    if res.verified or res.mismatches or res.gap_alerts:
        log.info("sweep: %s links verified, %s mismatches, %s gap alerts, %s gaps closed",
                 res.verified, res.mismatches, res.gap_alerts, res.gaps_resolved)
    return res


class Sweeper:
    def __init__(self, store: Store, gap_grace_s: float, interval_s: float, hooks=()):
        self.store = store
        self.hooks = list(hooks)  # callables run after each sweep, e.g. supervision.warnings.WarningHook
        self.gap_grace_s = gap_grace_s
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.runs = 0

    def start(self) -> "Sweeper":
        self._thread = threading.Thread(target=self._loop, name="rx-sweep", daemon=True)
        self._thread.start()
        return self

    def poke(self) -> None:
        """Ask for a sweep soon (ingest went idle)."""
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                run_sweep(self.store, self.gap_grace_s)
            except Exception:  # noqa: BLE001 - the sweep never kills the service
                log.exception("sweep failed; retrying next interval")
            for hook in self.hooks:
                try:
                    hook()
                except Exception:  # noqa: BLE001 - a hook never kills the sweep
                    log.exception("sweep hook %r failed; retrying next interval", hook)
            self.runs += 1
            self._wake.wait(self.interval_s)
            self._wake.clear()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
