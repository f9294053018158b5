#!/usr/bin/env python3
"""Receiver ingest throughput, with signature and chain checks, into PostgreSQL and SQLite.

Our path: ``Ingestor.handle`` on signed 500-entry batches (envelope split, Ed25519
verify, strict decode, chain check, idempotent insert, commit). Baseline, in the
same run and on the same store: the very same rows written raw, COPY into an
identical PostgreSQL table / executemany into an identical SQLite table, one
commit per 500 rows. ``ratio`` = PostgreSQL ingest / raw COPY (1.0 = no overhead).

PostgreSQL is a private cluster made here with its durability settings left on.

    python bench/ingest.py [--punches 20000] [--rounds 3] [--gateways 4]
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import tempfile
import time
from pathlib import Path

from _common import emit, median

from cloud_receiver.ingest import Ingestor, Registration, verify_message
from cloud_receiver.store import open_store
from cloud_receiver.store.base import LEDGER_COLUMNS
from devtools.fake_gateway import FakeGateway
from devtools.postgres import PostgresCluster

BATCH = 500
COLS = ", ".join(LEDGER_COLUMNS)


def make_traffic(tag: str, punches: int, gateways: int):
    """Signed batches from ``gateways`` synthetic gateways, interleaved as they would arrive."""
    gws = [FakeGateway(f"GW-{tag}-{i}", "P-BENCH") for i in range(gateways)]
    per_gw = punches // gateways
    streams = []
    for gw in gws:
        entries = gw.add(per_gw, rejected_every=20)
        streams.append([(f"rn/v1/gw/{gw.gateway_id}/punches", gw.sealed_batch(entries[i:i + BATCH]))
                        for i in range(0, len(entries), BATCH)])
    traffic = [m for group in zip(*streams) for m in group]
    return gws, traffic


def ingest(store, gws, traffic) -> float:
    for gw in gws:
        gw.register(store)
    ing = Ingestor(store, "rx-bench")
    t0 = time.perf_counter()
    for topic, payload in traffic:
        out = ing.handle(topic, payload)
        assert out.verdict.ok and out.result is not None, out.verdict.reason
    return time.perf_counter() - t0


def rows_of(gws, traffic):
    regs = {}
    for gw in gws:
        regs[gw.gateway_id] = Registration(gw.gateway_id, gw.key.public_key(), gw.project_code)
    out = []
    for topic, payload in traffic:
        v = verify_message(topic, payload, regs.get, time.time())
        out.append([r.as_tuple() for r in v.rows])
    return out


def raw_postgres(dsn: str, batches) -> float:
    import psycopg
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS raw_ledger")
        conn.execute("CREATE TABLE raw_ledger (LIKE ledger INCLUDING ALL)")
        t0 = time.perf_counter()
        for rows in batches:
            with conn.transaction(), conn.cursor() as cur:
                with cur.copy(f"COPY raw_ledger ({COLS}) FROM STDIN") as copy:
                    for r in rows:
                        copy.write_row(r)
        return time.perf_counter() - t0


def raw_sqlite(path: str, batches) -> float:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    ddl = conn.execute("SELECT sql FROM sqlite_master WHERE name='ledger'").fetchone()[0]
    conn.execute("DROP TABLE IF EXISTS raw_ledger")
    conn.execute(ddl.replace("ledger", "raw_ledger", 1))
    marks = ", ".join("?" * (len(LEDGER_COLUMNS) + 1))
    t0 = time.perf_counter()
    no = 0
    for rows in batches:
        conn.execute("BEGIN")
        conn.executemany(f"INSERT INTO raw_ledger ({COLS}, ingest_no) VALUES ({marks})",
                         [(*r, no + i + 1) for i, r in enumerate(rows)])
        no += len(rows)
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - t0
    conn.close()
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--punches", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--gateways", type=int, default=4)
    args = ap.parse_args()
    n = (args.punches // args.gateways) * args.gateways
    pg_rate, pg_raw, sq_rate, sq_raw = [], [], [], []
    with tempfile.TemporaryDirectory(prefix="rn-bench-ingest-") as d, PostgresCluster(fast=False) as pg:
        dsn = pg.create_database("bench")
        pg_url = f"postgresql://postgres@127.0.0.1:{pg.port}/bench"
        sq_path = str(Path(d) / "receiver.db")
        pg_store, sq_store = open_store(pg_url, migrate=True), open_store(f"sqlite:///{sq_path}", migrate=True)
        for rnd in range(args.rounds):
            for name, store, rates in (("pg", pg_store, pg_rate), ("sq", sq_store, sq_rate)):
                gws, traffic = make_traffic(f"{name}{rnd}", n, args.gateways)
                rates.append(n / ingest(store, gws, traffic))
            gws, traffic = make_traffic(f"raw{rnd}", n, args.gateways)
            batches = rows_of(gws, traffic)
            pg_raw.append(n / raw_postgres(dsn, batches))
            sq_raw.append(n / raw_sqlite(sq_path, batches))
            print(f"round {rnd}: postgres {pg_rate[-1]:.0f}/s (raw COPY {pg_raw[-1]:.0f}/s), "
                  f"sqlite {sq_rate[-1]:.0f}/s (raw {sq_raw[-1]:.0f}/s)", flush=True)
        pg_store.close()
        sq_store.close()
    result = {
        "bench": "ingest",
        "punches_per_round": n,
        "rounds": args.rounds,
        "postgres_punches_per_s": round(median(pg_rate)),
        "sqlite_punches_per_s": round(median(sq_rate)),
        "raw_copy_punches_per_s": round(median(pg_raw)),
        "raw_sqlite_punches_per_s": round(median(sq_raw)),
        "ratio": round(median(pg_rate) / median(pg_raw), 3),
        "sqlite_ratio": round(median(sq_rate) / median(sq_raw), 3),
        "cpus": os.cpu_count(),
    }
    result["target_met"] = result["postgres_punches_per_s"] >= 20000 and result["ratio"] >= 0.5
    emit(result)


if __name__ == "__main__":
    main()
