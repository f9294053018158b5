"""The base of the receiver sweep loop's periodic hooks (warnings, wage risk, dashboard day).

The sweep loop calls every hook on each pass; a hook runs its evaluation for *today* (in
the attendance rules' time zone) at most once per ``interval_s`` and returns its summary,
or ``None`` when it is not due yet.
"""

from __future__ import annotations

import datetime as _dt
import time


class IntervalHook:
    def __init__(self, store, interval_s: float, tz):
        self.store, self.interval_s, self.tz = store, interval_s, tz
        self._last: float | None = None
        self.runs = 0

    def evaluate(self, today: str, now: float) -> dict:
        raise NotImplementedError

    def __call__(self, now: float | None = None) -> dict | None:
        now = time.time() if now is None else now
        if self._last is not None and now - self._last < self.interval_s:
            return None
        self._last = now
        out = self.evaluate(_dt.datetime.fromtimestamp(now, self.tz).date().isoformat(), now)
        self.runs += 1
        return out
