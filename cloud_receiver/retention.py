"""Retention job at the receiver, run by APScheduler (3.11, a background thread): the workers' head
photos (``persons.head_image_b64``, from the roster's enrollments) are cleared once a person has no
active membership on any project and the last one ended more than ``[receiver.retention]
photo_days`` ago (PIPL: biometric data no longer than needed). The person's record and attendance
stay; only the photo goes. A failed pass is logged and runs again at the next interval.
"""

from __future__ import annotations

import datetime as _dt
import logging
import time
from dataclasses import dataclass

from shared_schema.wire import field

log = logging.getLogger(__name__)
# APScheduler logs every run of every job at INFO; our jobs log what they deleted themselves
logging.getLogger("apscheduler.executors.default").setLevel(logging.WARNING)
logging.getLogger("apscheduler.scheduler").setLevel(logging.WARNING)


@dataclass(frozen=True)
class ReceiverRetentionConfig:
    """``[receiver.retention]``."""
    photo_days: int = field(default=180, min=1, max=3650)
    interval_s: float = field(default=3600.0, min=1.0, max=86400.0)


class ReceiverRetention:
    def __init__(self, store, cfg: ReceiverRetentionConfig | None = None):
        from apscheduler.schedulers.background import BackgroundScheduler

        self.store = store
        self.cfg = cfg or ReceiverRetentionConfig()
        self.runs = 0
        self.cleared = 0
        self.scheduler = BackgroundScheduler(daemon=True, timezone="UTC",
                                             job_defaults={"coalesce": True, "max_instances": 1,
                                                           "misfire_grace_time": None})
        self.scheduler.add_job(self.purge_photos, "interval", seconds=self.cfg.interval_s, id="photos",
                               next_run_time=_dt.datetime.now(_dt.timezone.utc))

    def purge_photos(self, now: float | None = None) -> int:
        now = time.time() if now is None else now
        try:
            n = self.store.purge_exited_photos(now - self.cfg.photo_days * 86400)
        except Exception:  # noqa: BLE001 - logged; the job runs again at its next time
            log.exception("retention job photos failed")
            return 0
        self.runs += 1
        self.cleared += n
        if n:
            log.info("retention: cleared %s head photos of people gone more than %s days", n, self.cfg.photo_days)
        return n

    def start(self) -> "ReceiverRetention":
        self.scheduler.start()
        return self

    def stop(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)
