#!/usr/bin/env python3
"""Punch commit latency through PunchLedger vs. a bare sqlite3 insert+commit.

Both write to a real file on the same disk with the same settings (WAL,
synchronous=FULL) and a row of the same size. Runs alternate in rounds so
that the machine's noise hits both alike; the ratio is ledger p50 / raw p50
(1.0 = no overhead; above 1 = slower).

    python bench/ledger.py [--punches 2000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import tempfile
import time
from pathlib import Path

from _common import emit, median, percentile

from edge_agent.ledger import PunchLedger


def raw_commits(path: Path, n: int, row: str) -> list[float]:
    conn = sqlite3.connect(str(path), isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE IF NOT EXISTS t (seq INTEGER PRIMARY KEY, event_id TEXT UNIQUE,"
                 " entry_json TEXT, entry_hash TEXT, state TEXT, committed_at REAL)")
    start = conn.execute("SELECT coalesce(max(seq), 0) FROM t").fetchone()[0]
    out = []
    for i in range(start + 1, start + n + 1):
        t0 = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t VALUES (?, ?, ?, ?, 'pending', ?)",
                     (i, os.urandom(16).hex(), row, os.urandom(32).hex(), time.time()))
        conn.execute("COMMIT")
        out.append((time.perf_counter() - t0) * 1000)
    conn.close()
    return out


def ledger_commits(ledger: PunchLedger, n: int) -> list[float]:
    out = []
    for i in range(n):
        t0 = time.perf_counter()
        ledger.append(gate_id="gate-1", direction="in", type="punch", worker_ref=f"W{i % 500:04d}",
                      kind="work", match_score=0.91, liveness_score=0.97, liveness_cue="multi",
                      snapshot_ref="snap-" + "0" * 40)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--punches", type=int, default=2000, help="commits per round per side")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="rn-bench-ledger-", dir=os.environ.get("BENCH_DIR")) as d:
        ledger = PunchLedger(Path(d) / "ledger.db", "GW-BENCH", "P-BENCH")
        row = ledger.entries(1)[0].canonical_bytes().decode() if ledger.head_seq else None
        ledger_ms, raw_ms = [], []
        for _ in range(args.rounds):
            ledger_ms += ledger_commits(ledger, args.punches)
            row = row or ledger.entries(1)[0].canonical_bytes().decode()
            raw_ms += raw_commits(Path(d) / "raw.db", args.punches, row)
        ledger.close()
    result = {
        "bench": "ledger",
        "punches": len(ledger_ms),
        "commit_p50_ms": round(percentile(ledger_ms, 50), 4),
        "commit_p99_ms": round(percentile(ledger_ms, 99), 4),
        "raw_p50_ms": round(percentile(raw_ms, 50), 4),
        "raw_p99_ms": round(percentile(raw_ms, 99), 4),
        "ratio": round(median(ledger_ms) / median(raw_ms), 3),
        "target_commit_p99_ms": 5.0,
    }
    result["target_met"] = result["commit_p99_ms"] <= 5.0
    print(f"ledger commit p50 {result['commit_p50_ms']} ms p99 {result['commit_p99_ms']} ms; "
          f"raw p50 {result['raw_p50_ms']} ms p99 {result['raw_p99_ms']} ms")
    emit(result)


if __name__ == "__main__":
    main()
