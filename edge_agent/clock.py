"""The gateway's wall clock, checked before a punch is stamped with it.

A site box may boot with a flat RTC battery (year 2000), be set by hand to a wrong day, or lose
NTP for months. Its ``device_time`` is what the city counts attendance by, so the clock is checked
at every stamp against:

* the **floor**: the ``device_time`` of the ledger's last committed entry. A wall clock more than
  ``max_backward_s`` before it went back (RTC reset, manual change) -- checked only while there is
  no receiver time and NTP does not say it is synchronized (a floor set by an earlier bad clock
  must not pin every later stamp);
* the **receiver's time**: every signed :class:`~shared_schema.messages.BatchAck` carries the
  city's ``acked_at``; anchored to CLOCK_MONOTONIC on arrival it gives an estimate of true time
  that does not depend on the wall clock. A wall clock more than ``max_skew_s`` away from it is
  wrong (ahead: "far in the future"; behind: also wrong);
* plausibility: a year outside 2024-2099.

Decision (docs/operations.md, "Clock"): a punch is **never refused or lost** because of the clock;
it is committed at once as always. Only its ``device_time`` is not the suspect wall reading: it is
the receiver-based estimate (receiver time + monotonic elapsed), or the floor itself when there is
no receiver reference in this process. Every such stamp is counted, logged (seq, wall
reading, stamp: no personal data) and raises the clock alarm, which the heartbeat carries to the
city (device ``_clock``, state ``degraded``) and ``doctor`` shows. Order is always the ledger's
``seq`` (and the hash chain), never ``device_time``: nothing sorts or links by wall time.

NTP status is read from systemd-timesyncd's ``/run/systemd/timesync/synchronized``, else
``timedatectl``, else ``chronyc``; "unknown" when none answers.
"""

from __future__ import annotations

import datetime as _dt
import logging
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from shared_schema import timesync
from shared_schema.wire import field, format_utc, parse_utc

log = logging.getLogger(__name__)

MIN_YEAR, MAX_YEAR = 2024, 2099
CLOCK_DEVICE_ID = "_clock"       # in the heartbeat's device list; "_" keeps it apart from gate devices
TIMESYNCD_FLAG = Path("/run/systemd/timesync/synchronized")
MAX_REFERENCE_RTT_S = 10.0       # an ack slower than this is not a time reference (max_skew_s ≥ 30)


@dataclass(frozen=True)
class ClockConfig:
    """``[edge.clock]``: bounds for a believable wall clock."""
    max_skew_s: float = field(default=300.0, min=30.0, max=86400.0)     # vs the receiver's time
    max_backward_s: float = field(default=5.0, min=0.0, max=3600.0)     # vs the last committed entry


@dataclass(frozen=True)
class ClockStatus:
    state: str                       # "ok", "suspect" (stamps are being corrected) or "unchecked"
    detail: str                      # ASCII/zh-CN text for the heartbeat and doctor (≤128 chars)
    offset_s: float | None           # wall clock minus receiver estimate; None without a reference
    corrected: int                   # stamps not taken from the wall clock since start
    ntp: str                         # "synchronized", "not synchronized" or "unknown"


def epoch_of(utc_text: str) -> float:
    return parse_utc(utc_text).timestamp()


def stamp_text(epoch: float) -> str:
    return format_utc(_dt.datetime.fromtimestamp(epoch, _dt.timezone.utc))


def plausible(epoch: float) -> bool:
    try:
        year = time.gmtime(epoch).tm_year
    except (OverflowError, OSError, ValueError):
        return False
    return MIN_YEAR <= year <= MAX_YEAR


def ntp_status(run: Callable = subprocess.run) -> str:
    """shared_schema.timesync.ntp_status (timesyncd flag, timedatectl, chronyc)."""
    return timesync.ntp_status(run, TIMESYNCD_FLAG)


class ClockGuard:
    """Thread-safe. ``stamp(floor)`` gives the epoch to write; ``observe_ack`` feeds the receiver's time."""

    def __init__(self, cfg: ClockConfig | None = None, *, wall: Callable[[], float] = time.time,
                 mono: Callable[[], float] = time.monotonic, ntp: Callable[[], str] = ntp_status):
        self.cfg = cfg or ClockConfig()
        self._wall, self._mono, self._ntp = wall, mono, ntp
        self._lock = threading.Lock()
        self._ref: tuple[float, float] | None = None     # (receiver epoch, monotonic at arrival)
        self.corrected = 0
        self._episode: str | None = None                  # the current problem, logged once
        self._ntp_cache: tuple[float, str] | None = None
        self._last_floor: float | None = None

    # ---- references -------------------------------------------------------------------
    def observe_reference(self, epoch: float) -> None:
        """The receiver's time, just received (a verified ack's ``acked_at``)."""
        if not plausible(epoch):
            return
        with self._lock:
            self._ref = (epoch, self._mono())

    def observe_ack(self, ack, rtt_s: float | None) -> None:
        """For :attr:`edge_agent.sync.LedgerSync.ack_listeners` (signature-verified acks only). The ack's
        ``acked_at`` lies between the batch's publication and the ack's arrival, so it is a reference
        good to ``rtt_s``; an ack that took longer (queued in the broker while this box was offline)
        or answers a batch of an earlier connection says nothing about *now* and is ignored."""
        if rtt_s is None or not 0 <= rtt_s <= MAX_REFERENCE_RTT_S:
            return
        try:
            self.observe_reference(epoch_of(ack.acked_at))
        except (ValueError, AttributeError):
            pass

    def estimate(self) -> float | None:
        """True time from the receiver's last time plus monotonic elapsed; None without one."""
        with self._lock:
            if self._ref is None:
                return None
            epoch, at = self._ref
            return epoch + (self._mono() - at)

    # ---- the check ----------------------------------------------------------------------
    def problem(self, wall: float, floor: float | None, est: float | None) -> tuple[str, str] | None:
        """(kind, text) of what is wrong with ``wall``, or None. Kinds: implausible, skew, backward."""
        if not plausible(wall):
            return "implausible", "wall clock year is implausible (RTC battery? NTP?)"
        if est is not None:      # the receiver's time outranks the floor (which a bad clock may have set)
            if abs(wall - est) > self.cfg.max_skew_s:
                side = "ahead of" if wall > est else "behind"
                return "skew", f"wall clock {abs(wall - est):.0f}s {side} the receiver's time"
            return None
        if floor is not None and wall < floor - self.cfg.max_backward_s and self.cached_ntp() != "synchronized":
            return "backward", f"wall clock {floor - wall:.0f}s before the last committed entry"
        return None

    def stamp(self, floor: float | None, seq: int | None = None) -> float:
        """The ``device_time`` (epoch) for the next entry, committed right after. ``floor``: the
        last committed entry's ``device_time``."""
        wall, est = self._wall(), self.estimate()
        self._last_floor = floor
        found = self.problem(wall, floor, est)
        if found is None:
            if self._episode is not None:
                log.warning("clock alarm cleared: wall clock believable again (seq %s)", seq)
                self._episode = None
            return wall
        # the receiver's estimate when there is one, else the floor (never earlier than the last
        # entry), else (no reference at all) the wall reading: there is nothing better to write
        chosen = est if est is not None else floor if floor is not None and plausible(floor) else wall
        with self._lock:
            self.corrected += 1
        kind, why = found
        if self._episode != kind:      # once per episode at ERROR, then each stamp at WARNING
            log.error("CLOCK ALARM: %s; seq %s stamped %s instead of the wall reading %.3f "
                      "(ordering uses seq; the punch is kept)", why, seq, stamp_text(chosen), wall)
            self._episode = kind
        else:
            log.warning("clock: seq %s stamped %s (wall %.3f: %s)", seq, stamp_text(chosen), wall, why)
        return chosen

    # ---- reporting ----------------------------------------------------------------------
    def cached_ntp(self) -> str:
        """The last NTP answer without asking again (the gate thread must not wait on a subprocess)."""
        return self._ntp_cache[1] if self._ntp_cache else "unknown"

    def ntp(self) -> str:
        now = self._mono()
        if self._ntp_cache is None or now - self._ntp_cache[0] > 60.0:
            self._ntp_cache = (now, self._ntp())
        return self._ntp_cache[1]

    def status(self, floor: float | None = None) -> ClockStatus:
        wall, est = self._wall(), self.estimate()
        floor = floor if floor is not None else self._last_floor
        found = self.problem(wall, floor, est)
        why = found[1] if found else None
        ntp = self.ntp()
        offset = None if est is None else wall - est
        parts = [f"ntp {ntp}"]
        if offset is not None:
            parts.append(f"offset {offset:+.1f}s vs receiver")
        else:
            parts.append("no receiver time yet")
        if self.corrected:
            parts.append(f"{self.corrected} stamps corrected")
        if why:
            parts.insert(0, why)
        state = "suspect" if why else ("ok" if offset is not None else "unchecked")
        return ClockStatus(state, "; ".join(parts)[:128], offset, self.corrected, ntp)

    def health(self, floor: float | None = None):
        """The clock as a heartbeat device (kind "clock"): ok, degraded while suspect."""
        from shared_schema.messages import DeviceHealth
        st = self.status(floor)
        now = self.estimate() or self._wall()
        return DeviceHealth(id=CLOCK_DEVICE_ID, kind="clock", state="degraded" if st.state == "suspect" else "ok",
                            detail=st.detail, since=stamp_text(now if plausible(now) else 1704067200.0))
