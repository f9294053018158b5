"""What the anomaly detectors (:mod:`cloud_receiver.supervision.anomalies`) read off a ledger
row: which rows are punches, their device times parsed once, the person behind a punch, the
distance between two projects, and the evidence ref a row becomes in a finding.

*Person*: the cross-project rules link punches of one person by the roster's ID number (a
``worker_ref`` is a project's reference, not necessarily the city's); a punch whose
``(project_code, worker_ref)`` has no roster row stands for ``worker_ref`` itself. The link key
is a hash, never output.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import math
from collections.abc import Iterable, Mapping

from shared_schema.wire import parse_utc

from .anomaly_rules import AnomalyRules
from .roster import RosterEntry

# What an evidence entry carries (never an ID number; face data never reaches the receiver).
REF_FIELDS = ("gateway_id", "seq", "type", "project_code", "gate_id", "device_time", "direction", "worker_ref",
              "kind", "snapshot_ref", "match_score", "liveness_score", "liveness_cue", "reject_reason",
              "manual_reason", "operator", "passage")
EARTH_RADIUS_KM = 6371.0088


def entry_key(e: Mapping) -> tuple:
    """Evidence order: device time, then gateway and seq."""
    return (e["device_time"], e.get("gateway_id") or "", e.get("seq") or 0)


def ref(e: Mapping) -> dict:
    """An evidence entry: the ledger identity and what to look at (no ID number)."""
    return {k: e.get(k) for k in REF_FIELDS}


def evidence(entries: Iterable[Mapping], cap: int) -> dict:
    """A finding's ``evidence`` (at most ``cap`` refs, in :func:`entry_key` order) and ``evidence_total``."""
    rows = sorted(entries, key=entry_key)
    return {"evidence": [ref(e) for e in rows[:cap]], "evidence_total": len(rows)}


def local_dt(device_time: str, tz: _dt.tzinfo) -> _dt.datetime:
    return parse_utc(device_time).astimezone(tz)


class DeviceTimes:
    """Each device time parsed once per :func:`~cloud_receiver.supervision.anomalies.detect` call,
    shared by the detectors (a city day is half a million rows; parsing was most of the detectors'
    time): ``times(device_time)`` → (UTC datetime, UTC timestamp, local datetime, local day ISO)."""

    __slots__ = ("_memo", "tz")

    def __init__(self, tz: _dt.tzinfo):
        self.tz, self._memo = tz, {}

    def __call__(self, device_time: str) -> tuple[_dt.datetime, float, _dt.datetime, str]:
        t = self._memo.get(device_time)
        if t is None:
            utc = parse_utc(device_time)
            loc = utc.astimezone(self.tz)
            t = self._memo[device_time] = (utc, utc.timestamp(), loc, loc.date().isoformat())
        return t


class People:
    """:func:`person_key` memoised per (project, worker_ref) for one
    :func:`~cloud_receiver.supervision.anomalies.detect` call."""

    __slots__ = ("_memo", "roster")

    def __init__(self, roster: Mapping):
        self.roster, self._memo = roster, {}

    def __call__(self, e: Mapping) -> str:
        k = (e["project_code"], e["worker_ref"])
        p = self._memo.get(k)
        if p is None:
            p = self._memo[k] = person_key(e, self.roster)
        return p


def haversine_km(lng1: float, lat1: float, lng2: float, lat2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def person_key(e: Mapping, roster: Mapping[tuple[str, str], RosterEntry]) -> str:
    """The person behind a punch: a hash of the roster's ID number, else ``ref:<worker_ref>``."""
    m = roster.get((e["project_code"], e["worker_ref"]))
    if m is None:
        return "ref:" + e["worker_ref"]
    return "id:" + hashlib.sha256(f"{m.id_type}|{m.id_number}".encode()).hexdigest()[:24]


def punches_of(entries: Iterable[Mapping]) -> list[Mapping]:
    """Only the punches that name a worker."""
    return [e for e in entries if e.get("type", "punch") == "punch" and e.get("worker_ref")]


def in_windows(t: _dt.datetime, windows: list[tuple[int, int]]) -> bool:
    """``t`` (local) falls in one of the (first, last) minute-of-day windows."""
    m = t.hour * 60 + t.minute
    return any(a <= m <= b for a, b in windows)


def utc_hour(device_time: str) -> str:
    return device_time[:13]          # UTC hour ("2026-03-02T01"): CST hours are whole UTC hours


def is_liveness_failure(e: Mapping, rules: AnomalyRules) -> bool:
    return e.get("type") == "rejected" and (e.get("reject_reason") or "").startswith(rules.liveness_reason_prefix)
