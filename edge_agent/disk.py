"""Free space on the ledger's file system, with an alarm *before* the disk fills."""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DiskState:
    free_bytes: int
    total_bytes: int
    alarm: bool


class DiskMonitor:
    """``check()`` statvfs's the folder; the alarm is logged once per transition."""

    def __init__(self, folder: str | Path, free_mb: int, free_percent: float):
        self.folder = Path(folder)
        self.free_mb = free_mb
        self.free_percent = free_percent
        self.alarm = False
        self._lock = threading.Lock()

    def check(self) -> DiskState:
        st = os.statvfs(self.folder)
        free = st.f_bavail * st.f_frsize
        total = st.f_blocks * st.f_frsize
        percent = 100.0 * free / total if total else 0.0
        alarm = free < self.free_mb * 1024 * 1024 or percent < self.free_percent
        with self._lock:
            if alarm and not self.alarm:
                log.error("磁盘空间不足 / disk space low on %s: %s MB free (%.1f%%), threshold %s MB / %.1f%%",
                          self.folder, free // (1024 * 1024), percent, self.free_mb, self.free_percent)
            elif self.alarm and not alarm:
                log.warning("disk space back above threshold on %s: %s MB free",
                            self.folder, free // (1024 * 1024))
            self.alarm = alarm
        return DiskState(free, total, alarm)
