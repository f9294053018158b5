"""Retention jobs (APScheduler): face snapshots and acked punches on the gateway, head photos at
the receiver, each with its configured period; nothing unacked, recent or active is touched."""

from __future__ import annotations

import base64
import datetime as dt
import os
import time

import pytest

from cloud_receiver.ingest import Ingestor
from cloud_receiver.retention import ReceiverRetention, ReceiverRetentionConfig
from cloud_receiver.store import open_store
from devtools import wait_for
from devtools.fake_gateway import FakeGateway
from edge_agent.ledger import PunchLedger
from edge_agent.retention import RetentionConfig, RetentionJobs, prune_snapshots
from shared_schema import topics

DAY = 86400.0


def _day(folder, days_ago: float, now: float, files=("G1-x.jpg",)):
    d = folder / time.strftime("%Y%m%d", time.gmtime(now - days_ago * DAY))
    d.mkdir(parents=True, exist_ok=True)
    for f in files:
        (d / f).write_bytes(b"\xff\xd8\xff jpeg")
    return d


def test_prune_snapshots_keeps_recent_days_and_foreign_folders(tmp_path):
    now = time.time()
    old = _day(tmp_path, 31, now, ("a.jpg", "b.jpg"))
    edge = _day(tmp_path, 29, now)
    today = _day(tmp_path, 0, now)
    stale_tmp, fresh_tmp = today / "c.tmp", today / "d.tmp"
    stale_tmp.write_bytes(b"x")
    fresh_tmp.write_bytes(b"x")
    os.utime(stale_tmp, (now - 7200, now - 7200))
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "keep.txt").write_text("operator's")
    (tmp_path / "2026").mkdir()                          # not a day folder: left alone
    assert prune_snapshots(tmp_path, 30, now) == 3       # a.jpg, b.jpg and the stale tmp
    assert not old.exists() and edge.exists() and today.exists()
    assert not stale_tmp.exists() and fresh_tmp.exists()
    assert (tmp_path / "notes" / "keep.txt").exists() and (tmp_path / "2026").exists()
    assert prune_snapshots(tmp_path / "missing", 30, now) == 0


def test_prune_snapshots_never_follows_a_symlinked_day(tmp_path):
    now = time.time()
    target = tmp_path / "elsewhere"
    target.mkdir()
    (target / "precious.jpg").write_bytes(b"x")
    snaps = tmp_path / "snaps"
    snaps.mkdir()
    (snaps / "20000101").symlink_to(target, target_is_directory=True)
    assert prune_snapshots(snaps, 30, now) == 0 and (target / "precious.jpg").exists()


def test_gateway_jobs_prune_acked_punches_and_old_snapshots(tmp_path):
    ledger = PunchLedger(tmp_path / "l.db", "GW-R1", "P-1", retention_days=1)
    for i in range(6):
        ledger.append(gate_id="G1", direction="in", worker_ref=f"W{i}", kind="work")
    ledger.mark_acked([(1, 4)])
    # committed two days ago (the ledger's own clock column), so 1..4 are past retention; 5, 6 unacked
    ledger._conn.execute("UPDATE entries SET committed_at = committed_at - ?", (2 * DAY,))
    snaps = tmp_path / "snapshots"
    old = _day(snaps, 40, time.time())
    jobs = RetentionJobs(ledger, 0.2, snaps, RetentionConfig(snapshot_days=30, interval_s=1.0)).start()
    try:
        wait_for(lambda: jobs.runs["ledger"] >= 1 and jobs.runs["snapshots"] >= 1, timeout=10, what="jobs ran")
        assert sorted(ledger.states()) == [5, 6] and ledger.stats().anchor_seq == 4
        assert not old.exists() and jobs.deleted == {"ledger": 4, "snapshots": 1}
        wait_for(lambda: jobs.runs["ledger"] >= 3, timeout=10, what="the interval job repeats")
        assert sorted(ledger.states()) == [5, 6]          # unacked rows never go
        assert ledger.verify().ok
    finally:
        jobs.stop()
        ledger.close()


def test_a_failing_pass_is_logged_and_the_job_keeps_running(tmp_path, caplog):
    class Broken:
        calls = 0

        def prune(self):
            Broken.calls += 1
            raise OSError("disk I/O error")
    jobs = RetentionJobs(Broken(), 0.1, None).start()
    try:
        wait_for(lambda: Broken.calls >= 3, timeout=10, what="retried")
        assert "retention job ledger failed" in caplog.text and jobs.runs["ledger"] == 0
    finally:
        jobs.stop()


@pytest.fixture
def head_jpeg(shared_dir) -> str:
    """A real face photo from ../shared, re-encoded to fit the national 50 KB head-image limit."""
    import cv2
    src = next((shared_dir / "data" / "faces" / "identities").rglob("*.jpg"))
    img = cv2.imread(str(src))
    assert img is not None, src
    img = cv2.resize(img, (96, 120))
    ok, data = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 80])
    assert ok and len(data) < 50_000
    return base64.b64encode(data.tobytes()).decode()


def test_receiver_clears_photos_of_people_gone_longer_than_the_period(store_url, head_jpeg):
    import dataclasses
    store = open_store(store_url, migrate=True)
    try:
        gw = FakeGateway()
        gw.register(store)
        ing = Ingestor(store, "rx-1", cache_s=0.0)
        now = time.time()

        def send(idn, action, at, ref):
            msg = dataclasses.replace(gw.roster(idn, worker_ref=ref, action=action,
                                                exit_date="2026-03-05" if action == "exit" else None,
                                                changed_at=dt.datetime.fromtimestamp(at, dt.timezone.utc)),
                                      head_image_b64=head_jpeg if action == "enroll" else None)
            assert ing.handle(topics.roster(gw.gateway_id), gw.seal(msg), now=at).verdict.ok
        gone_long, gone_recently, active = "11010519491231002X", "110105194912310038", "110105194912310046"
        send(gone_long, "enroll", now - 400 * DAY, "W1")
        send(gone_long, "exit", now - 200 * DAY, "W1")
        send(gone_recently, "enroll", now - 400 * DAY, "W2")
        send(gone_recently, "exit", now - 10 * DAY, "W2")
        send(active, "enroll", now - 400 * DAY, "W3")

        def photo(idn):
            return store.person("01", idn)["head_image_b64"] if store.person("01", idn) else "missing"
        assert all(photo(i) == head_jpeg for i in (gone_long, gone_recently, active))
        job = ReceiverRetention(store, ReceiverRetentionConfig(photo_days=180, interval_s=3600))
        assert job.purge_photos(now) == 1
        assert photo(gone_long) is None and photo(gone_recently) == head_jpeg and photo(active) == head_jpeg
        assert store.person("01", gone_long)["name"]            # the person stays; only the photo goes
        assert job.purge_photos(now) == 0
    finally:
        store.close()


def test_receiver_retention_runs_on_its_scheduler(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'rx.db'}", migrate=True)
    job = ReceiverRetention(store, ReceiverRetentionConfig(interval_s=1.0)).start()
    try:
        wait_for(lambda: job.runs >= 1, timeout=10, what="first pass at start")
    finally:
        job.stop()
        store.close()
