"""Retention jobs on the gateway, run by APScheduler (3.11, a background thread):

* **acked punches**: :meth:`PunchLedger.prune` every ``[edge.ledger] prune_interval_s``: rows the
  city acknowledged more than ``retention_days`` ago go (the chain anchor stays); unacked rows never;
* **face snapshots**: ``[edge.retention] snapshot_days``: the day folders ``<snapshot_dir>/YYYYMMDD``
  older than that go, with leftover ``*.tmp`` files of interrupted writes (PIPL: keep biometric
  data no longer than needed). The ledger keeps the file name (``snapshot_ref``) of a deleted one.

A job that fails is logged and runs again at its next time; jobs never overlap (max_instances=1)
and a missed run is run once, not repeatedly (coalesce).
"""

from __future__ import annotations

import logging
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from shared_schema.wire import field

log = logging.getLogger(__name__)
# APScheduler logs every run of every job at INFO; our jobs log what they deleted themselves
logging.getLogger("apscheduler.executors.default").setLevel(logging.WARNING)
logging.getLogger("apscheduler.scheduler").setLevel(logging.WARNING)

DAY_DIR = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
TMP_GRACE_S = 3600.0          # a *.tmp this old is an interrupted write, never one in progress


@dataclass(frozen=True)
class RetentionConfig:
    """``[edge.retention]``: face snapshots on the gateway (acked punches: ``[edge.ledger]``)."""
    snapshot_days: int = field(default=30, min=1, max=3650)
    interval_s: float = field(default=3600.0, min=1.0, max=86400.0)


def prune_snapshots(folder: str | Path, days: int, now: float | None = None) -> int:
    """Delete day folders older than ``days`` (by their UTC date name) and stale ``*.tmp`` files;
    returns the number of files deleted. Anything not named like a day folder is left alone."""
    folder = Path(folder)
    if not folder.is_dir():
        return 0
    now = time.time() if now is None else now
    cutoff = time.strftime("%Y%m%d", time.gmtime(now - days * 86400))
    deleted = 0
    for day in sorted(folder.iterdir()):
        m = DAY_DIR.match(day.name)
        if not day.is_dir() or day.is_symlink() or not m:
            continue
        if day.name < cutoff:
            files = sum(1 for p in day.rglob("*") if p.is_file())
            shutil.rmtree(day)
            deleted += files
            log.info("retention: removed snapshot folder %s (%s files)", day.name, files)
            continue
        for tmp in day.glob("*.tmp"):
            try:
                if now - tmp.stat().st_mtime > TMP_GRACE_S:
                    tmp.unlink()
                    deleted += 1
            except FileNotFoundError:
                pass
    return deleted


class RetentionJobs:
    """The gateway's retention jobs on one APScheduler background scheduler."""

    def __init__(self, ledger, prune_interval_s: float, snapshot_dir: str | Path | None,
                 cfg: RetentionConfig | None = None):
        from apscheduler.schedulers.background import BackgroundScheduler

        self.ledger = ledger
        self.snapshot_dir = Path(snapshot_dir) if snapshot_dir else None
        self.cfg = cfg or RetentionConfig()
        self.runs = {"ledger": 0, "snapshots": 0}
        self.deleted = {"ledger": 0, "snapshots": 0}
        self.scheduler = BackgroundScheduler(daemon=True, timezone="UTC",
                                             job_defaults={"coalesce": True, "max_instances": 1,
                                                           "misfire_grace_time": None})
        first = _now_dt()
        self.scheduler.add_job(self.prune_ledger, "interval", seconds=prune_interval_s, id="ledger",
                               next_run_time=first)
        if self.snapshot_dir is not None:
            self.scheduler.add_job(self.prune_snapshots, "interval", seconds=self.cfg.interval_s, id="snapshots",
                                   next_run_time=first)

    def prune_ledger(self) -> int:
        return self._run("ledger", self.ledger.prune)

    def prune_snapshots(self) -> int:
        return self._run("snapshots", lambda: prune_snapshots(self.snapshot_dir, self.cfg.snapshot_days))

    def _run(self, name: str, fn) -> int:
        try:
            n = fn()
        except Exception:  # noqa: BLE001 - a failed pass is logged; the job runs again next time
            log.exception("retention job %s failed", name)
            return 0
        self.runs[name] += 1
        self.deleted[name] += n
        return n

    def start(self) -> "RetentionJobs":
        self.scheduler.start()
        return self

    def stop(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)


def _now_dt():
    import datetime as _dt
    return _dt.datetime.now(_dt.timezone.utc)
