"""A generated city's traffic and its bulk write into a migrated receiver store.

:func:`project_entries` makes one project's ledger entries (every day of the range, time
ordered, hash-chained per gateway with the wire's own canonical hash); :func:`write_city`
writes projects, status periods, gateways, roster changes and ledger rows, a few projects at
a time (PostgreSQL ``COPY``, SQLite ``executemany``), as ingest would have stored them.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import logging
import random
import time

from cloud_receiver.store.base import LEDGER_COLUMNS
from shared_schema.chain import GENESIS_HASH, hash_wire_dict
from shared_schema.wire import format_utc

from .citygen import CST, MANUAL_REASONS, SPRING_FESTIVAL, City, CitySpec, Project, Worker

log = logging.getLogger(__name__)

BOOT = "6a1c2f0e-3b4d-4e5f-8a9b-0c1d2e3f4a5b"
_WIRE_KEYS = ("type", "event_id", "gateway_id", "project_code", "gate_id", "seq", "prev_hash", "device_time",
              "monotonic_ns", "boot_id", "direction", "worker_ref", "kind", "match_score", "liveness_score",
              "liveness_cue", "snapshot_ref", "reject_reason", "manual_reason", "operator", "event_kind", "ref_seq")
ROSTER_COLS = ("change_id", "gateway_id", "changed_at", "action", "project_code", "worker_ref", "id_type",
               "id_number", "name", "role", "post", "company_code", "team_code", "work_type", "entry_date",
               "exit_date", "face_consent", "operator", "received_at")
GATEWAY_COLS = ("gateway_id", "public_key", "project_code", "site", "vendor", "registered_at", "last_seen",
                "rx_through_seq", "last_heartbeat_at", "head_seq", "acked_through_seq", "backlog",
                "oldest_unacked_age_s", "clock_offset_s", "boot_id", "software_version", "disk_free_bytes",
                "disk_alarm", "ledger_ok", "devices_json", "online", "status_since", "status_at")
_CHUNK_PROJECTS = 40


def _rnd(spec: CitySpec, *key) -> random.Random:
    """A generator of its own per (project, ...): a project's traffic does not depend on the others'."""
    h = hashlib.sha256(repr((spec.seed, *key)).encode()).digest()
    return random.Random(int.from_bytes(h[:8], "big"))


def _status_on(p: Project, date: str) -> str:
    for s in p.periods:
        if s["from_date"] <= date <= (s["to_date"] or "9999"):
            return s["status"]
    return p.status


def _at(date: str, minute: float) -> _dt.datetime:
    return _dt.datetime.fromisoformat(date).replace(tzinfo=CST) + _dt.timedelta(minutes=minute)


def _clamp(m: float, lo: float, hi: float) -> float:
    return min(hi, max(lo, m))


def _worker_day(rnd: random.Random, w: Worker, date: str, gates: int, out: list) -> None:
    def punch(t, direction, kind="work"):
        gate = f"gate-{rnd.randrange(gates) + 1}"
        if kind == "work" and rnd.random() < 0.005:     # a liveness failure, then a good try
            out.append({"t": t - _dt.timedelta(seconds=rnd.randint(5, 20)), "type": "rejected", "worker": w.ref,
                        "direction": direction, "gate": gate, "reason": "liveness_failed"})
        out.append({"t": t, "worker": w.ref, "direction": direction, "gate": gate, "kind": kind})
        if rnd.random() < 0.04:                         # the same person twice at the gate
            out.append({"t": t + _dt.timedelta(seconds=rnd.randint(4, 90)), "worker": w.ref, "direction": direction,
                        "gate": gate, "kind": "work"})

    t_in = _at(date, _clamp(w.shift[0] + rnd.uniform(-10, 10), 6 * 60 + 31, 8 * 60 + 29))
    t_out = _at(date, _clamp(w.shift[1] + rnd.uniform(-10, 10), 17 * 60 + 1, 18 * 60 + 59))
    punch(t_in, "in", "manual" if rnd.random() < 0.003 else "work")
    if w.lunch:
        punch(_at(date, rnd.uniform(11 * 60 + 45, 12 * 60 + 15)), "out")
        punch(_at(date, rnd.uniform(12 * 60 + 45, 13 * 60 + 15)), "in")
    if rnd.random() < 0.01:   # forgot to punch out: an incomplete day (no_out_punch)
        return
    punch(t_out, "out")


def project_entries(spec: CitySpec, p: Project) -> list[dict]:
    """Every planned entry of the project over the spec's dates, by time (no seq yet)."""
    out: list[dict] = []
    sole = {(e["worker"], e["t"].astimezone(CST).date().isoformat()) for e in p.extra if e.get("sole")}
    gates = 1 + (len(p.workers) > 60)
    for date in spec.dates:
        if p.silent_from and date >= p.silent_from:
            break
        status = _status_on(p, date)
        if status == "004":
            continue
        day = _dt.date.fromisoformat(date)
        rain = _rnd(spec, p.district, date).random() < 0.08
        holiday = SPRING_FESTIVAL[0] <= date <= SPRING_FESTIVAL[1]
        rnd = _rnd(spec, p.code, date)
        for w in p.workers:
            if w.entry > date or (w.exit and date > w.exit) or (w.ref, date) in sole:
                continue
            if status == "005":   # 停工: only a manager or two look after the site
                chance = 0.3 if w.post in ("项目经理", "安全员") else 0.0
            elif w.role == "manager":
                chance = w.presence
            else:
                chance = w.presence * (0.6 if day.weekday() == 6 else 0.95 if day.weekday() == 5 else 1.0)
                chance *= (0.4 if rain else 1.0) * (0.15 if holiday else 1.0)
            if rnd.random() < chance:
                _worker_day(rnd, w, date, gates, out)
    for e in p.extra:
        out.append({"gate": "gate-1", "kind": "work", **e})
    out.sort(key=lambda e: (e["t"], e["worker"] or "", e["direction"]))
    return out


def ledger_rows(spec: CitySpec, p: Project) -> list[tuple]:
    """The project's entries as stored ledger rows (LEDGER_COLUMNS order), hash-chained."""
    rnd = _rnd(spec, p.code, "ids")
    prev, rows = GENESIS_HASH, []
    for seq, e in enumerate(project_entries(spec, p), start=1):
        rejected = e.get("type") == "rejected"
        manual = e.get("kind") == "manual"
        wire = {"type": "rejected" if rejected else "punch", "event_id": f"{rnd.getrandbits(128):032x}",
                "gateway_id": p.gateway, "project_code": p.code, "gate_id": e["gate"], "seq": seq,
                "prev_hash": prev, "device_time": format_utc(e["t"]), "monotonic_ns": seq * 1_000_000_007,
                "boot_id": BOOT, "direction": e["direction"], "worker_ref": e["worker"],
                "kind": None if rejected else e.get("kind", "work"),
                "match_score": None if manual else round(rnd.uniform(0.82, 0.98), 3),
                "liveness_score": None if manual else round(rnd.uniform(0.1, 0.4) if rejected else
                                                            rnd.uniform(0.9, 0.995), 3),
                "liveness_cue": None if manual else "blink",
                "snapshot_ref": None if manual else f"snap/{p.gateway}/{seq:08d}.jpg",
                "reject_reason": e.get("reason") if rejected else None,
                "manual_reason": rnd.choice(MANUAL_REASONS) if manual else None,
                "operator": f"{p.code}-admin" if manual else None, "event_kind": None, "ref_seq": None}
        h = hash_wire_dict(wire)
        local = e["t"].astimezone(CST).date().isoformat()
        received = e["t"].timestamp() + 2.0
        rows.append((
            p.gateway, seq, wire["event_id"], wire["type"], p.code, e["gate"], prev, h, wire["device_time"], local,
            wire["monotonic_ns"], BOOT, wire["direction"], wire["worker_ref"], wire["kind"], wire["match_score"],
            wire["liveness_score"], wire["liveness_cue"], wire["snapshot_ref"], wire["reject_reason"],
            wire["manual_reason"], wire["operator"], None, None, "verified", f"b-{p.gateway}-{local}", received))
        prev = h
    return rows


def roster_rows(spec: CitySpec, p: Project) -> list[tuple]:
    rnd = _rnd(spec, p.code, "roster")
    rows = []
    for w in p.workers:
        base = {"gateway_id": p.gateway, "project_code": p.code, "worker_ref": w.ref, "id_type": "01",
                "id_number": w.id_number, "name": w.name, "role": w.role, "post": w.post, "company_code": w.company,
                "team_code": w.team, "work_type": w.work_type, "entry_date": w.entry, "face_consent": True,
                "operator": "enroll-desk"}
        t = _at(w.entry, 7 * 60)
        rows.append({**base, "change_id": f"{rnd.getrandbits(128):032x}", "changed_at": format_utc(t),
                     "action": "enroll", "exit_date": None, "received_at": t.timestamp() + 5})
        if w.exit:
            t = _at(w.exit, 19 * 60)
            rows.append({**base, "change_id": f"{rnd.getrandbits(128):032x}", "changed_at": format_utc(t),
                         "action": "exit", "exit_date": w.exit, "received_at": t.timestamp() + 5})
    return [tuple(r[c] for c in ROSTER_COLS) for r in rows]


def gateway_row(spec: CitySpec, p: Project, last_seq: int) -> tuple:
    now = spec.now()
    if p.status == "004":
        seen = _at(spec.first_date, -40 * 24 * 60).timestamp()
    elif p.silent_from:
        seen = _at(p.silent_from, -4 * 60).timestamp()
    else:
        seen = now - 30.0
    key = f"{_rnd(spec, p.code, 'key').getrandbits(256):064x}"
    return (p.gateway, key, p.code, "北门", "CityGen", seen - 200 * 86400, seen, last_seq, seen, last_seq, last_seq,
            0, 0.0, 0.2, BOOT, "0.1.0", 10**10, False, True, "[]", seen == now - 30.0, format_utc(
                _dt.datetime.fromtimestamp(seen, _dt.timezone.utc)), seen)


def _insert(store, cur, table: str, cols, rows) -> None:
    if not rows:
        return
    if store.dialect == "postgresql":
        with cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
            for r in rows:
                copy.write_row(r)
    else:
        cur.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", rows)


def write_city(store, city: City) -> dict:
    """Write the whole city into ``store`` (migrated, empty of this city). → row counts."""
    spec, t0 = city.spec, time.perf_counter()
    counts = {"projects": 0, "workers": 0, "roster_changes": 0, "ledger": 0, "punches": 0}
    now = spec.now()
    ingest_no = 0
    for i in range(0, len(city.projects), _CHUNK_PROJECTS):
        chunk = city.projects[i:i + _CHUNK_PROJECTS]
        projects, periods, gateways, roster, ledger = [], [], [], [], []
        for p in chunk:
            projects.append((p.code, p.name, p.district, f"{p.district}{p.code}地块", p.lng, p.lat, p.gc.split("|")[1],
                             p.supervisor, p.status, now - 400 * 86400, now - 400 * 86400))
            periods += [(p.code, s["status"], s["from_date"], s["to_date"], s["reason"], s["operator"], now - 86400)
                        for s in p.periods]
            rows = ledger_rows(spec, p)
            gateways.append(gateway_row(spec, p, len(rows)))
            roster += roster_rows(spec, p)
            ledger += rows
            counts["workers"] += len(p.workers)
        if store.dialect == "sqlite":
            ledger = [(*r, ingest_no + k + 1) for k, r in enumerate(ledger)]
            ingest_no += len(ledger)
        with store._write() as cur:
            _insert(store, cur, "projects", ("project_code", "name", "district", "address", "lng", "lat",
                                             "general_contractor", "supervisor", "status", "created_at",
                                             "updated_at"), projects)
            _insert(store, cur, "project_status_periods", ("project_code", "status", "from_date", "to_date",
                                                           "reason", "operator", "created_at"), periods)
            _insert(store, cur, "gateways", GATEWAY_COLS, gateways)
            _insert(store, cur, "roster_changes", ROSTER_COLS, roster)
            cols = LEDGER_COLUMNS + (("ingest_no",) if store.dialect == "sqlite" else ())
            _insert(store, cur, "ledger", cols, ledger)
        counts["projects"] += len(chunk)
        counts["roster_changes"] += len(roster)
        counts["ledger"] += len(ledger)
        counts["punches"] += sum(1 for r in ledger if r[3] == "punch")
    if store.dialect == "postgresql":
        with store._write() as cur:
            cur.execute("ANALYZE")
    counts["seconds"] = round(time.perf_counter() - t0, 2)
    log.info("city written: %s projects, %s ledger rows in %.1f s", counts["projects"], counts["ledger"],
             counts["seconds"])
    return counts
