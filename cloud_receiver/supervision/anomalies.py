"""Abnormal attendance (异常考勤, issue 6 / requirement #8): pure detectors over ledger rows, so a
supervisor can trace every anomaly back to the punches behind it. No store, no I/O: the SQL is in
:mod:`cloud_receiver.store.anomalies`, the wiring in :func:`detect_range`, the API in
:mod:`cloud_receiver.api_anomalies`.

Every detector returns *findings*::

    {"rule", "project_code", "projects", "worker_ref"?, "gateway_id"?, "gate_id"?, "day", ...,
     "evidence": [entry refs]}

``projects`` lists every project the finding involves (two for the cross-project rules);
``project_code`` is the one the finding is filed under. An entry ref is a ledger row's identity
and what the supervisor needs to look at (:data:`~.anomaly_punches.REF_FIELDS`: gateway, seq,
gate, device time, snapshot ref, match and liveness scores...). ID numbers never appear in a finding.

*Person*: the cross-project rules link punches of one person by the roster's ID number (a hash,
never output; see :mod:`cloud_receiver.supervision.anomaly_punches`, which also holds the per-row
helpers the detectors share).

Rules (ids are stable API values; thresholds in :class:`AnomalyRules`):

* ``impossible_travel``: consecutive punches of one person at two projects whose distance
  (haversine, projects' ``lng``/``lat``) needs a speed above ``max_speed_kmh``. Projects
  without coordinates are skipped and listed (``skipped.projects_without_coordinates``).
* ``multi_project_day``: one person punching at two or more projects the same day.
* ``punch_burst``: ``burst_min_punches`` or more punches on one gate within ``burst_window_s``
  seconds, counting only punches outside the shift-change windows (集中代刷: mass proxy
  punching). Overlapping windows merge into one burst.
* ``off_roster_punch``: punches by people not on the project's roster (``reason: unknown``)
  or after their exit date (``reason: exited``).
* ``manual_share``: manual (补卡) punches above ``manual_share_max`` of a project's or a
  team's punches on a day with at least ``manual_min_punches`` punches (``scope``).
* ``liveness_spike``: liveness failures (rejected attempts whose ``reject_reason`` starts
  with ``liveness_reason_prefix``) at a gate in one hour: at least ``liveness_min_count`` and
  at least ``liveness_spike_factor`` × the gate's baseline (median failures over the other
  hours it recorded anything in the query window and ``baseline_days`` before it; at least 1).

Every detector is independent of the order of its input rows (evidence sorted by time, then
gateway and seq).
"""

from __future__ import annotations

import datetime as _dt
import itertools
import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping

from .anomaly_punches import (  # haversine_km is re-exported (devtools, tests import it from here)
    DeviceTimes,
    People,
    entry_key,
    evidence,
    haversine_km,
    in_windows,
    is_liveness_failure,
    punches_of,
    utc_hour,
)
from .anomaly_rules import (  # re-exported: the rules' ids and config live there
    ANOMALY_RULE_IDS,
    DEFAULT_ANOMALY_RULES,
    IMPOSSIBLE_TRAVEL,
    LIVENESS_SPIKE,
    MANUAL_SHARE,
    MULTI_PROJECT_DAY,
    OFF_ROSTER_PUNCH,
    PUNCH_BURST,
    AnomalyRules,
)
from .roster import RosterEntry
from .rules import DEFAULT_RULES

# ---- detectors -------------------------------------------------------------------------------

def impossible_travel(entries: Iterable[Mapping], roster: Mapping, coords: Mapping[str, tuple[float, float] | None],
                      rules: AnomalyRules, tz: _dt.tzinfo, *, times: DeviceTimes | None = None,
                      people: People | None = None) -> tuple[list[dict], list[str]]:
    """→ (findings, projects skipped for lack of coordinates). One finding per person, day and
    pair of projects, with the fastest violating pair of consecutive punches as evidence."""
    times, people = times or DeviceTimes(tz), people or People(roster)
    by_person: dict[str, list] = defaultdict(list)
    skipped: set[str] = set()
    for e in punches_of(entries):
        by_person[people(e)].append(e)
    best: dict[tuple, dict] = {}
    for rows in by_person.values():
        rows.sort(key=entry_key)
        for a, b in itertools.pairwise(rows):
            pa, pb = a["project_code"], b["project_code"]
            if pa == pb:
                continue
            ca, cb = coords.get(pa), coords.get(pb)
            if ca is None or cb is None:
                skipped.update(p for p, c in ((pa, ca), (pb, cb)) if c is None)
                continue
            km = haversine_km(ca[0], ca[1], cb[0], cb[1])
            if km < rules.min_distance_km:
                continue
            tb = times(b["device_time"])
            hours = (tb[0] - times(a["device_time"])[0]).total_seconds() / 3600.0
            needed = math.inf if hours <= 0 else km / hours
            if needed <= rules.max_speed_kmh:
                continue
            day = tb[3]
            k = (people(b), day, tuple(sorted((pa, pb))))
            cur = best.get(k)
            if cur is None or needed > cur["speed_kmh"] or (
                    needed == cur["speed_kmh"] and entry_key(a) < entry_key(cur["_a"])):
                best[k] = {"rule": IMPOSSIBLE_TRAVEL, "project_code": pb, "projects": sorted((pa, pb)),
                           "worker_ref": b["worker_ref"], "worker_refs": sorted({a["worker_ref"], b["worker_ref"]}),
                           "gateway_id": b["gateway_id"], "day": day, "distance_km": round(km, 3),
                           "minutes_between": round(hours * 60.0, 2),
                           "speed_kmh": needed, "max_speed_kmh": rules.max_speed_kmh, "pairs": 0,
                           "_a": a, **evidence((a, b), rules.max_evidence)}
            best[k]["pairs"] += 1
    out = []
    for k in sorted(best):
        f = best[k]
        f.pop("_a")
        f["speed_kmh"] = None if math.isinf(f["speed_kmh"]) else round(f["speed_kmh"], 1)
        out.append(f)
    return out, sorted(skipped)


def multi_project_day(entries: Iterable[Mapping], roster: Mapping, rules: AnomalyRules,
                      tz: _dt.tzinfo, *, times: DeviceTimes | None = None, people: People | None = None) -> list[dict]:
    """One finding per person and day with punches at two or more projects; evidence: the first
    and the last punch at each project."""
    times, people = times or DeviceTimes(tz), people or People(roster)
    days: dict[tuple[str, str], dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for e in punches_of(entries):
        days[(people(e), times(e["device_time"])[3])][e["project_code"]].append(e)
    out = []
    for (person, day), projects in sorted(days.items()):
        if len(projects) < 2:
            continue
        ev, first = [], []
        for rows in projects.values():
            rows.sort(key=entry_key)
            ev += [rows[0], rows[-1]] if len(rows) > 1 else [rows[0]]
            first.append(rows[0])
        last = max((rows[-1] for rows in projects.values()), key=entry_key)
        out.append({"rule": MULTI_PROJECT_DAY, "project_code": last["project_code"], "projects": sorted(projects),
                    "worker_ref": last["worker_ref"],
                    "worker_refs": sorted({r["worker_ref"] for rows in projects.values() for r in rows}),
                    "day": day, "punches": {p: len(r) for p, r in sorted(projects.items())},
                    **evidence(ev, rules.max_evidence)})
    return out


def punch_bursts(entries: Iterable[Mapping], rules: AnomalyRules, tz: _dt.tzinfo, *,
                 times: DeviceTimes | None = None) -> list[dict]:
    """Maximal bursts per gate: punches outside the shift-change windows, each in some window of
    ``burst_window_s`` holding ``burst_min_punches`` of them; overlapping windows merge."""
    times = times or DeviceTimes(tz)
    windows = rules.shift_windows()
    gates: dict[tuple[str, str], list] = defaultdict(list)
    for e in punches_of(entries):
        if not in_windows(times(e["device_time"])[2], windows):
            gates[(e["gateway_id"], e["gate_id"])].append(e)
    out = []
    n, span = rules.burst_min_punches, rules.burst_window_s
    for (gw, gate), rows in sorted(gates.items()):
        rows.sort(key=entry_key)
        ts = [times(r["device_time"])[1] for r in rows]
        flagged = [False] * len(rows)
        for i in range(len(rows) - n + 1):          # window rows[i..i+n-1] spans <= burst_window_s
            if ts[i + n - 1] - ts[i] <= span:
                for j in range(i, i + n):
                    flagged[j] = True
        i = 0
        while i < len(rows):
            if not flagged[i]:
                i += 1
                continue
            j = i
            while j + 1 < len(rows) and flagged[j + 1] and ts[j + 1] - ts[j] <= span:
                j += 1
            burst = rows[i:j + 1]
            start, end = times(burst[0]["device_time"])[2], times(burst[-1]["device_time"])[2]
            out.append({"rule": PUNCH_BURST, "project_code": burst[0]["project_code"],
                        "projects": [burst[0]["project_code"]], "gateway_id": gw, "gate_id": gate,
                        "day": start.date().isoformat(), "start": start.isoformat(), "end": end.isoformat(),
                        "punches": len(burst), "workers": len({r["worker_ref"] for r in burst}),
                        "seconds": round(ts[j] - ts[i], 3), **evidence(burst, rules.max_evidence)})
            i = j + 1
    return out


def off_roster_punches(entries: Iterable[Mapping], roster: Mapping, rules: AnomalyRules,
                       tz: _dt.tzinfo, *, times: DeviceTimes | None = None) -> list[dict]:
    """Per project, worker and day: punches by someone not on the roster (``unknown``) or after
    their exit date (``exited``). Before-entry punches are not flagged (entry dates are often late)."""
    times = times or DeviceTimes(tz)
    groups: dict[tuple[str, str, str], list] = defaultdict(list)
    for e in punches_of(entries):
        groups[(e["project_code"], e["worker_ref"], times(e["device_time"])[3])].append(e)
    out = []
    for (code, wref, day), rows in sorted(groups.items()):
        m = roster.get((code, wref))
        if m is None:
            reason, extra = "unknown", {}
        elif m.exit_date and day > m.exit_date:
            reason, extra = "exited", {"exit_date": m.exit_date, "company_code": m.company_code,
                                       "team_code": m.team_code}
        else:
            continue
        gws = sorted({r["gateway_id"] for r in rows})
        out.append({"rule": OFF_ROSTER_PUNCH, "project_code": code, "projects": [code], "worker_ref": wref,
                    "gateway_id": gws[0], "day": day, "reason": reason, "punches": len(rows), **extra,
                    **evidence(rows, rules.max_evidence)})
    return out


def manual_shares(entries: Iterable[Mapping], roster: Mapping, rules: AnomalyRules, tz: _dt.tzinfo, *,
                  times: DeviceTimes | None = None) -> list[dict]:
    """Per project and day, and per team and day: manual share above the limit (evidence: the manual punches)."""
    times = times or DeviceTimes(tz)
    groups: dict[tuple, list] = defaultdict(list)
    for e in punches_of(entries):
        day = times(e["device_time"])[3]
        m = roster.get((e["project_code"], e["worker_ref"]))
        groups[(e["project_code"], day, "project", None, None)].append(e)
        if m is not None:
            groups[(e["project_code"], day, "team", m.company_code, m.team_code)].append(e)
    out = []
    for (code, day, scope, company, team), rows in sorted(groups.items(), key=lambda kv: tuple(
            "" if v is None else v for v in kv[0])):
        manual = [r for r in rows if r.get("kind") == "manual"]
        share = len(manual) / len(rows)
        if len(rows) < rules.manual_min_punches or share <= rules.manual_share_max:
            continue
        f = {"rule": MANUAL_SHARE, "project_code": code, "projects": [code], "day": day, "scope": scope,
             "punches": len(rows), "manual_punches": len(manual), "share": round(share, 4),
             "limit": rules.manual_share_max}
        if scope == "team":
            f.update(company_code=company, team_code=team)
        f["operators"] = sorted({r.get("operator") or "" for r in manual})
        out.append({**f, **evidence(manual, rules.max_evidence)})
    return out


def liveness_spikes(entries: Iterable[Mapping], hour_counts: Iterable[Mapping], rules: AnomalyRules,
                    tz: _dt.tzinfo) -> list[dict]:
    """``hour_counts``: rows ``{gateway_id, gate_id, hour, entries, liveness_failures}`` for the
    baseline window (every hour a gate recorded anything). A gate-hour of ``entries`` spikes when
    its failures reach ``liveness_min_count`` and ``liveness_spike_factor`` × the gate's median
    over its *other* active hours (at least 1)."""
    hourly: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    for h in hour_counts:
        hourly[(h["gateway_id"], h["gate_id"])][h["hour"]] = int(h["liveness_failures"])
    fails: dict[tuple[str, str, str], list] = defaultdict(list)
    for e in entries:
        if is_liveness_failure(e, rules):
            fails[(e["gateway_id"], e["gate_id"], utc_hour(e["device_time"]))].append(e)
    out = []
    for (gw, gate, hour), rows in sorted(fails.items()):
        others = [n for hr, n in hourly.get((gw, gate), {}).items() if hr != hour]
        base = max(1.0, float(statistics.median(others or [0])))
        if len(rows) < rules.liveness_min_count or len(rows) < rules.liveness_spike_factor * base:
            continue
        start = _dt.datetime.fromisoformat(hour + ":00:00+00:00").astimezone(tz)
        out.append({"rule": LIVENESS_SPIKE, "project_code": rows[0]["project_code"],
                    "projects": [rows[0]["project_code"]], "gateway_id": gw, "gate_id": gate,
                    "day": start.date().isoformat(), "hour_start": start.isoformat(), "failures": len(rows),
                    "baseline_per_hour": base, "workers_named": len({r["worker_ref"] for r in rows if r.get("worker_ref")}),
                    **evidence(rows, rules.max_evidence)})
    return out


# ---- all rules -------------------------------------------------------------------------------

def detect(entries: list[Mapping], roster: Mapping[tuple[str, str], RosterEntry],
           coords: Mapping[str, tuple[float, float] | None], hour_counts: Iterable[Mapping],
           rules: AnomalyRules, tz: _dt.tzinfo, first: str, last: str) -> dict:
    """Every rule over ``entries`` (punches and rejected attempts); findings whose ``day`` is
    outside ``first..last`` are dropped (the query may be wider). → ``{"findings", "skipped"}``."""
    times, people, punches = DeviceTimes(tz), People(roster), punches_of(entries)
    travel, no_coords = impossible_travel(punches, roster, coords, rules, tz, times=times, people=people)
    findings = (travel + multi_project_day(punches, roster, rules, tz, times=times, people=people)
                + punch_bursts(punches, rules, tz, times=times)
                + off_roster_punches(punches, roster, rules, tz, times=times)
                + manual_shares(punches, roster, rules, tz, times=times)
                + liveness_spikes(entries, hour_counts, rules, tz))
    findings = [f for f in findings if first <= f["day"] <= last]
    findings.sort(key=lambda f: (f["day"], ANOMALY_RULE_IDS.index(f["rule"]), f["project_code"],
                                 f["evidence"][0]["device_time"] if f["evidence"] else ""))
    return {"findings": findings, "skipped": {"projects_without_coordinates": no_coords}}


def matches(f: Mapping, *, project: str | None = None, rule: str | None = None, worker_ref: str | None = None,
            gateway_id: str | None = None) -> bool:
    """The API's filters: a finding matches a project it involves, a worker or gateway named in
    it or in its evidence."""
    if rule is not None and f["rule"] != rule:
        return False
    if project is not None and project not in f["projects"]:
        return False
    if worker_ref is not None and worker_ref != f.get("worker_ref") and worker_ref not in f.get("worker_refs", ()) \
            and all(e.get("worker_ref") != worker_ref for e in f["evidence"]):
        return False
    return gateway_id is None or gateway_id == f.get("gateway_id") or any(
        e.get("gateway_id") == gateway_id for e in f["evidence"])


__all__ = ["ANOMALY_RULE_IDS", "DEFAULT_ANOMALY_RULES", "AnomalyRules", "detect", "detect_range", "haversine_km",
           "matches"]


# ---- from the store --------------------------------------------------------------------------

def _shift(date: str, days: int) -> str:
    return (_dt.date.fromisoformat(date) + _dt.timedelta(days=days)).isoformat()


def detect_range(store, first: str, last: str, rules: AnomalyRules = DEFAULT_ANOMALY_RULES,
                 attendance=None, *, project: str | None = None, rule: str | None = None,
                 worker_ref: str | None = None, gateway_id: str | None = None) -> dict:
    """Run every rule over China-local days ``first..last`` and filter the findings (:func:`matches`).
    With a project (or a gateway: its project) only that project's people are loaded. Device
    dates widen by a day on each side (an attendance-day time zone other than CST, and travel
    across midnight); findings outside ``first..last`` are dropped."""
    attendance = attendance or DEFAULT_RULES
    tz = attendance.tz
    scope = project
    if scope is None and gateway_id is not None:
        g = store.get_gateway(gateway_id)
        if g is None:
            return {"findings": [], "skipped": {"projects_without_coordinates": []}}
        scope = g["project_code"]
    q_first, q_last = _shift(first, -1), _shift(last, 1)
    entries = store.anomaly_entries(q_first, q_last, scope)
    roster = {(r["project_code"], r["worker_ref"]): RosterEntry.from_row(r, attendance)
              for r in store.anomaly_roster({e["project_code"] for e in entries})}
    hours = store.gate_hour_counts(_shift(first, -rules.baseline_days - 1), q_last, rules.liveness_reason_prefix,
                                   scope)
    out = detect(entries, roster, store.project_coordinates(), hours, rules, tz, first, last)
    out["findings"] = [f for f in out["findings"] if matches(f, project=project, rule=rule, worker_ref=worker_ref,
                                                             gateway_id=gateway_id)]
    if rule not in (None, IMPOSSIBLE_TRAVEL):
        out["skipped"]["projects_without_coordinates"] = []
    return out
