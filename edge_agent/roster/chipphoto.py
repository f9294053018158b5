"""The ID card chip photo of a worker: its raw bytes as the reader delivered them.

The photo on a second-generation ID card's chip is WLT-encoded (only the card vendor's
library decodes it), so the registry keeps the bytes untouched beside the record; the
camera capture is the face used at the gate. Biometric data: never logged, never sent
up (the city gets the ≤ 50 KB head image). Bound as methods of
:class:`~.registry.WorkerRegistry`.
"""

from __future__ import annotations

import sqlite3
import time

MAX_WLT_BYTES = 4096      # a chip photo is 1024 bytes; anything much larger is not one


def check_chip_photo(wlt) -> bytes:
    if not isinstance(wlt, (bytes, bytearray)) or not wlt:
        raise ValueError("身份证照片为空 / chip photo is empty")
    if len(wlt) > MAX_WLT_BYTES:
        raise ValueError(f"身份证照片过大 / chip photo is {len(wlt)} bytes, the limit is {MAX_WLT_BYTES}")
    return bytes(wlt)


def store_chip_photo(c: sqlite3.Connection, worker_ref: str, wlt: bytes, now: float) -> None:
    """Inside the caller's transaction (enroll keeps record and photo in one commit)."""
    c.execute("INSERT OR REPLACE INTO chip_photos (worker_ref, wlt, read_at) VALUES (?, ?, ?)",
              (worker_ref, wlt, now))


def set_chip_photo(self, worker_ref: str, wlt: bytes) -> None:
    """Keep (or replace) an active worker's chip photo; ValueError when empty or oversized,
    NotFound / InvalidState for an unknown or exited worker."""
    wlt = check_chip_photo(wlt)
    with self._tx() as c:
        self._require(worker_ref, active=True)
        store_chip_photo(c, worker_ref, wlt, time.time())


def chip_photo(self, worker_ref: str) -> bytes | None:
    """The raw WLT bytes read from this worker's ID card, or None."""
    with self._lock:
        row = self._conn.execute("SELECT wlt FROM chip_photos WHERE worker_ref = ?", (worker_ref,)).fetchone()
    return None if row is None else bytes(row[0])
