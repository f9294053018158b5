"""The ID card chip photo's raw bytes (WLT-encoded: only the vendor's library decodes it),
kept per worker beside the accounts database until the worker registry has a place for it.
Biometric data: the file is the service's only (0600), never logged, never sent."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

from aiohttp import web

MAX_WLT_BYTES = 4096


class ChipPhotos:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode = WAL")
        self._conn.execute("CREATE TABLE IF NOT EXISTS chip_photos (worker_ref TEXT PRIMARY KEY, "
                           "wlt BLOB NOT NULL, read_at REAL NOT NULL)")
        self.path.chmod(0o600)

    def put(self, worker_ref: str, wlt: bytes) -> None:
        if not wlt or len(wlt) > MAX_WLT_BYTES:
            raise ValueError("chip photo size out of range")
        with self._lock:
            self._conn.execute("INSERT OR REPLACE INTO chip_photos VALUES (?, ?, ?)", (worker_ref, wlt, time.time()))

    def get(self, worker_ref: str) -> bytes | None:
        with self._lock:
            row = self._conn.execute("SELECT wlt FROM chip_photos WHERE worker_ref = ?", (worker_ref,)).fetchone()
        return None if row is None else bytes(row[0])

    def close(self) -> None:
        with self._lock:
            self._conn.close()


CHIP_PHOTOS = web.AppKey("chip_photos", ChipPhotos)
