"""The upload job against the national platform emulator and the real client, on both stores:
the platform's order, retries without duplicates, refusals, non-attendance never uploaded,
crash/restart idempotency."""

from __future__ import annotations

import base64
import time

import pytest

from cloud_receiver.store import open_store
from cloud_receiver.supervision.warnings import evaluate_warnings
from cloud_receiver.upstream.job import UploadJob
from devtools.national_platform import Refused

from .upstream_site import Site, drain, upstream_cfg

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 1000


@pytest.fixture
def store(store_url):
    s = open_store(store_url, migrate=True)
    yield s
    s.close()


def _site(store) -> tuple[Site, dict]:
    site = Site(store)
    ids = {"W1": site.enroll("W1", head_image_b64=base64.b64encode(JPEG).decode()),
           "W2": site.enroll("W2"),
           "M1": site.enroll("M1", role="manager", team=None),
           "W3": site.enroll("W3", company="C2", team="T9")}
    site.workday("W1", "2026-03-02")
    site.workday("W2", "2026-03-02")
    site.workday("M1", "2026-03-02")
    site.gw.punch("W3", site_time("2026-03-02", "09:00"), "in", kind="manual", reason="face_failed", operator="admin")
    site.gw.punch("W1", site_time("2026-03-02", "12:00"), "out", kind="non_work")     # a passage, not attendance
    site.gw.reject("W2", site_time("2026-03-02", "12:30"))                              # a rejected attempt
    site.gw.add_event("tailgating", direction="in")                                     # a gate event
    site.workday("W404", "2026-03-02")                                                  # not in the registry
    site.flush()
    return site, ids


def site_time(day, hm):
    from .upstream_site import cst
    return cst(day, hm)


def _methods(platform) -> list[str]:
    return [m for m, _ in platform.received if m != "AsyncHandleResult.Query"]


def test_uploads_everything_in_the_platforms_order(store, platform, client):
    site, ids = _site(store)
    job = UploadJob(store, client, upstream_cfg(batch_size=3))
    drain(job)
    assert {(c["corpCode"], c["corpName"]) for c in platform.companies} == {
        ("C1", "C1 建筑劳务有限公司"), ("C2", "C2 建筑劳务有限公司")}
    assert {t["teamName"] for t in platform.teams} == {"T1 钢筋班", "T9 钢筋班", "管理人员"}
    assert sorted(w["idCardNumber"] for w in platform.workers) == sorted(ids.values())
    w1 = next(w for w in platform.workers if w["idCardNumber"] == ids["W1"])
    assert w1["headImage"] == base64.b64encode(JPEG).decode() and w1["workerName"] == "张三"
    assert sorted(e["idCardNumber"] for e in platform.entry_exits) == sorted(ids.values())
    # attendance: work and manual punches of registered workers only, China time, no image
    att = platform.attendance
    assert len(att) == 7
    assert {a["idCardNumber"] for a in att} == set(ids.values())
    manual = [a for a in att if a["idCardNumber"] == ids["W3"]]
    assert manual == [{**manual[0], "date": "2026-03-02 09:00:00", "direction": "01", "attendType": "02",
                       "image": "", "channel": "gate-1"}]
    assert sorted(a["date"] for a in att if a["idCardNumber"] == ids["W1"]) == [
        "2026-03-02 08:00:00", "2026-03-02 17:00:00"]
    # the order of first appearance: company, team, worker, entry/exit, attendance
    methods = _methods(platform)
    firsts = [methods.index(m) for m in ("ProjectSubContractor.Add", "Team.Add", "ProjectWorker.Add",
                                         "WorkerEntryExit.Add", "WorkerAttendance.Add")]
    assert firsts == sorted(firsts)
    status = store.upstream_status()
    assert status["failures"] == []
    assert status["objects"] == {"company": {"done": 2}, "team": {"done": 3}, "worker": {"done": 4},
                                 "entry_exit": {"done": 4}}
    p = status["projects"][0]
    assert p["waiting"] == 2 and p["waiting_reasons"] == {"not_in_registry": 2}
    assert p["ledger_backlog"] == 0 and p["skipped"] == 3
    # nothing left to do: another run makes no call
    n = len(platform.received)
    assert job.run_once(time.time() + 10_000)["requests"] == 0 and len(platform.received) == n


def test_a_punch_waits_for_its_worker_then_goes(store, platform, client):
    site, ids = _site(store)
    job = UploadJob(store, client, upstream_cfg())
    drain(job)
    site.enroll("W404")                       # registered late: its waiting punches go now
    drain(job, start=time.time() + 5000)
    assert len(platform.attendance) == 9
    assert store.upstream_status()["projects"][0]["waiting"] == 0


def test_attendance_goes_only_after_the_worker_is_done(store, platform, client):
    site, ids = _site(store)
    job = UploadJob(store, client, upstream_cfg())
    seen_workers: set = set()
    real_submit = client.submit

    def submit(method, data):
        if method == "WorkerAttendance.Add":
            assert {r["idCardNumber"] for r in data["dataList"]} <= seen_workers
        if method == "ProjectWorker.Add":
            assert str(data["teamSysNo"]) in {str(t["teamSysNo"]) for t in platform.teams}
        out = real_submit(method, data)
        if method == "ProjectWorker.Add":
            seen_workers.update(w["idCardNumber"] for w in data["workerList"])
        return out

    client.submit = submit
    drain(job)
    assert len(platform.attendance) == 7


@pytest.mark.parametrize("fault", ["http_500", "garbage", "drop_connection", "truncated", "html", "bad_sign_reply"])
def test_platform_trouble_is_retried_without_duplicates(store, platform, client, fault):
    _site(store)
    job = UploadJob(store, client, upstream_cfg())
    t = time.time()
    job.run_once(t)                           # companies submitted
    platform.fault, platform.fault_times = fault, 2
    s = job.run_once(t + 120)
    assert s["stopped"] and s["retry"] == 1
    retrying = store.upstream_status()["retrying"]
    assert retrying and retrying[0]["last_error"].split(":")[0] in ("http_status", "bad_reply", "connection",
                                                                    "bad_sign")
    drain(job, start=t + 240)
    assert len(platform.companies) == 2 and len(platform.teams) == 3 and len(platform.workers) == 4
    assert len(platform.entry_exits) == 4 and len(platform.attendance) == 7
    assert store.upstream_status()["failures"] == []


def test_attendance_fault_mid_way_sends_no_record_twice(store, platform, client):
    _site(store)
    job = UploadJob(store, client, upstream_cfg(batch_size=2))
    real_submit = client.submit
    state = {"n": 0}

    def submit(method, data):
        if method == "WorkerAttendance.Add":
            state["n"] += 1
            if state["n"] in (2, 3):
                platform.fault, platform.fault_times = ("http_500", "drop_connection")[state["n"] - 2], 1
        return real_submit(method, data)

    client.submit = submit
    drain(job)
    keys = [(a["idCardNumber"], a["date"], a["direction"]) for a in platform.attendance]
    assert len(keys) == len(set(keys)) == 7


def test_a_refused_worker_fails_with_the_reason_and_others_proceed(store, platform, client):
    site, ids = _site(store)
    accept = platform._writes["ProjectWorker.Add"]

    def refuse_w2(data):
        if data["workerList"][0]["idCardNumber"] == ids["W2"]:
            raise Refused("身份证号码校验失败 (ID number check failed)")
        return accept(data)

    platform._writes["ProjectWorker.Add"] = refuse_w2
    job = UploadJob(store, client, upstream_cfg())
    drain(job)
    assert len(platform.workers) == 3 and ids["W2"] not in {w["idCardNumber"] for w in platform.workers}
    assert ids["W2"] not in {a["idCardNumber"] for a in platform.attendance}
    assert len(platform.attendance) == 5
    status = store.upstream_status()
    (failed,) = status["failures"]
    assert failed["kind"] == "worker" and "ID number check failed" in failed["last_error"]
    assert ids["W2"] not in str(status)                       # no ID number in the state shown
    p = status["projects"][0]
    assert p["waiting_reasons"] == {"not_in_registry": 2, "worker_failed": 2}
    assert status["objects"]["entry_exit"] == {"done": 3, "pending": 1}
    # the city sees it among the supervision warnings, with the platform's reason, no ID number
    evaluate_warnings(store, "2026-03-02")
    (w,) = [w for w in store.warnings(None, None, "upstream_refused", 100, 0) if w["state"] != "resolved"]
    assert w["project_code"] == site.project_code and "ID number check failed" in str(w["evidence"])
    assert ids["W2"] not in str(w)
    # the record is corrected at the gateway (a new change): the worker goes again, then its punches
    platform._writes["ProjectWorker.Add"] = accept
    site.enroll("W2", id_number=ids["W2"])
    drain(job, start=time.time() + 5000)
    assert len(platform.workers) == 4 and len(platform.attendance) == 7
    assert store.upstream_status()["failures"] == []
    evaluate_warnings(store, "2026-03-02")
    assert [w["state"] for w in store.warnings(None, None, "upstream_refused", 100, 0)] == ["resolved"]


def test_a_refused_entry_does_not_block_attendance(store, platform, client):
    site = Site(store)
    site.enroll("W1", entry_date="2099-01-01")              # the platform refuses a future date
    site.workday("W1", "2026-03-02")
    site.flush()
    drain(UploadJob(store, client, upstream_cfg()))
    assert len(platform.attendance) == 2 and platform.entry_exits == []
    (failed,) = store.upstream_status()["failures"]
    assert failed["kind"] == "entry_exit" and "future" in failed["last_error"]


def test_a_punch_dated_in_the_future_waits_and_does_not_sink_its_batch(store, platform, client):
    """A gateway clock set two days ahead: the platform refuses future dates, and one such punch
    used to get its whole attendance batch refused (the other workers' punches with it)."""
    import datetime as dt
    site = Site(store)
    site.enroll("W1")
    site.enroll("W2")
    site.workday("W1", "2026-03-02")
    ahead = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=2)
    site.gw.punch("W2", ahead, "in")
    site.flush()
    now = time.time()
    drain(UploadJob(store, client, upstream_cfg()), start=now)
    assert len(platform.attendance) == 2 and store.upstream_status()["failures"] == []
    waiting = [p for p in store.upstream_status()["projects"] if p.get("waiting")]
    assert waiting and "future_time" in str(waiting), waiting
    platform.clock = lambda: time.time() + 3 * 86400                              # the date has come
    drain(UploadJob(store, client, upstream_cfg()), start=now + 3 * 86400)
    assert len(platform.attendance) == 3 and store.upstream_status()["failures"] == []


def test_a_punch_nobody_passed_for_is_not_attendance(store, platform, client):
    """The gateway's not_passed event (the worker turned back at the open gate) takes the punch out
    of attendance, as in the city's own attendance days; it was uploaded before."""
    site = Site(store)
    site.enroll("W1")
    site.workday("W1", "2026-03-02")
    turned_back = site.gw.punch("W1", site_time("2026-03-02", "12:00"), "out")
    site.gw.add_event("not_passed", ref_seq=turned_back.seq, direction="out")
    site.flush()
    drain(UploadJob(store, client, upstream_cfg()))
    assert sorted(a["date"] for a in platform.attendance) == ["2026-03-02 08:00:00", "2026-03-02 17:00:00"]


def test_run_once_twice_and_a_job_recreated_mid_way(store_url, platform, client):
    store = open_store(store_url, migrate=True)
    _site(store)
    t = time.time()
    UploadJob(store, client, upstream_cfg(max_requests_per_run=3), holder="rx-a").run_once(t)
    UploadJob(store, client, upstream_cfg(max_requests_per_run=3), holder="rx-a").run_once(t)
    store.close()
    store = open_store(store_url, migrate=True)   # a restart: a new store and job from the saved state
    try:
        drain(UploadJob(store, client, upstream_cfg(), holder="rx-a"), start=t + 120)
        assert len(platform.companies) == 2 and len(platform.teams) == 3 and len(platform.workers) == 4
        assert len(platform.attendance) == 7
        assert store.upstream_status()["failures"] == []
    finally:
        store.close()


class Crash(BaseException):
    """The process dies (no except clause of the job catches it)."""


@pytest.mark.parametrize("method", ["Team.Add", "ProjectWorker.Add", "ProjectSubContractor.Add"])
def test_crash_between_submit_and_storing_the_serial(store, platform, client, method):
    _site(store)
    real_submit = client.submit
    crashed = []

    def submit(m, data):
        out = real_submit(m, data)             # the platform has it ...
        if m == method and not crashed:
            crashed.append(m)
            raise Crash                         # ... but the serial never reaches the store
        return out

    client.submit = submit
    t = time.time()
    with pytest.raises(Crash):
        drain(UploadJob(store, client, upstream_cfg(), holder="rx-a"), start=t)
    # the restarted job resubmits: the platform says "already exists", which is done
    drain(UploadJob(store, client, upstream_cfg(), holder="rx-a"), start=t + 600)
    assert len(platform.companies) == 2 and len(platform.teams) == 3 and len(platform.workers) == 4
    assert len(platform.attendance) == 7
    status = store.upstream_status()
    assert status["failures"] == [] and status["objects"]["team"] == {"done": 3}


def test_one_uploader_at_a_time(store, platform, client):
    _site(store)
    t = time.time()
    assert UploadJob(store, client, upstream_cfg(), holder="rx-a").run_once(t)["lease"]
    assert not UploadJob(store, client, upstream_cfg(), holder="rx-b").run_once(t + 1)["lease"]
    assert UploadJob(store, client, upstream_cfg(), holder="rx-b").run_once(t + 10_000)["lease"]   # expired


def test_only_the_configured_projects(store, platform, client):
    _site(store)
    other = Site(store, "P-200", "GW-2")
    other.enroll("X1")
    other.workday("X1", "2026-03-02")
    other.flush()
    drain(UploadJob(store, client, upstream_cfg(projects=["P-200"])))
    assert {c["projectCode"] for c in platform.companies} == {"P-200"}
    assert len(platform.attendance) == 2


def test_the_sweep_hook_runs_at_most_every_interval(store, platform, client):
    from cloud_receiver.upstream.job import UpstreamHook

    _site(store)
    hook = UpstreamHook(store, upstream_cfg(interval_s=60.0), client=client, holder="rx-a")
    t = time.time() + 1
    assert hook(t)["submitted"] == {"company": 2}
    assert hook(t + 30) is None
    again = hook(t + 61)                     # the two polls: the platform still says pending
    assert again["requests"] == 2 and again["done"] == {} and hook.runs == 2


def test_the_sweep_loop_runs_the_hook(store, platform, client):
    from cloud_receiver.sweep import Sweeper
    from cloud_receiver.upstream.job import UpstreamHook
    from devtools import wait_for

    _site(store)
    sweeper = Sweeper(store, 1.0, 0.05, hooks=[UpstreamHook(store, upstream_cfg(interval_s=1.0), client=client,
                                                            holder="rx-a")]).start()
    try:
        wait_for(lambda: len(platform.teams) == 3, timeout=20)
    finally:
        sweeper.stop()


def test_a_persons_entries_and_exits_are_read_by_their_own_key_prefix(store, platform, client):
    """The entry/exit order check reads one person's objects (``<person_id>/``), not the project's:
    person 1's prefix must not take person 10, 11 or 12's."""
    site = Site(store)
    for i in range(12):
        site.enroll(f"W{i}")
    drain(UploadJob(store, client, upstream_cfg()))
    every = store.upstream_objects("entry_exit", site.project_code)
    people = {k.split("/")[0] for k in every}
    assert {"1", "12"} <= people
    for pid in people:
        mine = store.upstream_objects("entry_exit", site.project_code, key_prefix=f"{pid}/")
        assert set(mine) == {k for k in every if k.split("/")[0] == pid} != set()
