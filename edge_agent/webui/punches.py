"""A worker's punches on this site, read from the gateway's ledger (read-only connection).

The ledger keeps the canonical JSON of every entry; this reads the retained ones (the
ledger prunes acked entries after ``retention_days``) for one ``worker_ref``, newest first.
It never writes: a separate read-only SQLite connection, so the gate's commits never wait
for a page.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path


def local_time(device_time: str | None) -> str:
    """The ledger's UTC device time as the gateway's local wall clock (what staff read on site)."""
    try:
        t = dt.datetime.fromisoformat(device_time)
    except (TypeError, ValueError):
        return device_time or ""
    if t.tzinfo is None:
        return device_time
    return t.astimezone().strftime("%Y-%m-%d %H:%M:%S")


class PunchReader:
    def __init__(self, ledger_path: str | Path):
        self.path = Path(ledger_path)

    def for_worker(self, worker_ref: str, limit: int = 200) -> list[dict]:
        if not self.path.exists():
            return []
        conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
        try:
            conn.execute("PRAGMA busy_timeout = 5000")
            rows = conn.execute(
                "SELECT entry_json FROM entries WHERE json_extract(entry_json, '$.worker_ref') = ? "
                "AND json_extract(entry_json, '$.type') = 'punch' ORDER BY seq DESC LIMIT ?",
                (worker_ref, limit)).fetchall()
        finally:
            conn.close()
        out = []
        for (text,) in rows:
            e = json.loads(text)
            out.append({"seq": e.get("seq"), "time": local_time(e.get("device_time")), "gate_id": e.get("gate_id"),
                        "direction": e.get("direction"), "kind": e.get("kind")})
        return out
