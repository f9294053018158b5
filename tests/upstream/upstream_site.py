"""A receiver store with one site's registry and punches, fed through the real ingest path, and
an upload job against the national platform emulator: the upload tests' common ground."""

from __future__ import annotations

import dataclasses
import datetime as dt
import time

from cloud_receiver.ingest import Ingestor
from cloud_receiver.upstream.config import UpstreamConfig
from cloud_receiver.upstream.job import UploadJob
from devtools.fake_gateway import FakeGateway
from shared_schema.messages import FieldValue

CST = dt.timezone(dt.timedelta(hours=8))


def cst(day: str, hm: str) -> dt.datetime:
    return dt.datetime.fromisoformat(f"{day}T{hm}:00").replace(tzinfo=CST)


def id_number(n: int) -> str:
    """A syntactically valid resident ID number (check digit computed), distinct per n."""
    body = f"11010519{80 + n % 20:02d}0101{n % 1000:03d}"
    w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return body + "10X98765432"[sum(int(c) * k for c, k in zip(body, w)) % 11]


class Site:
    def __init__(self, store, project_code: str = "P-100", gateway_id: str = "GW-1"):
        self.store = store
        self.project_code = project_code
        self.gw = FakeGateway(gateway_id, project_code)
        self.gw.register(store)
        self.ingestor = Ingestor(store, "rx-test", cache_s=0.0)
        self.sent = 0
        self.n = 0

    def enroll(self, worker_ref: str, *, company: str = "C1", team: str | None = "T1", role: str = "worker",
               head_image_b64: str | None = None, **kw) -> str:
        self.n += 1
        number = kw.pop("id_number", None) or id_number(self.n)
        details = {"company_name": f"{company} 建筑劳务有限公司", "company_kind": "subcontractor",
                   "phone": "13800000000"}
        if team:
            details["team_name"] = f"{team} 钢筋班"
        msg = self.gw.roster(number, worker_ref=worker_ref, company_code=company, team_code=team, role=role,
                             post="项目经理" if role == "manager" else None,
                             work_type=None if role == "manager" else "020", **kw)
        msg = dataclasses.replace(msg, details=tuple(FieldValue(k, v) for k, v in sorted(details.items())),
                                  head_image_b64=head_image_b64)
        out = self.ingestor.handle(f"rn/v1/gw/{self.gw.gateway_id}/roster", self.gw.seal(msg))
        assert out.verdict.ok and out.roster_outcome == "applied", (out.verdict.reason, out.roster_outcome)
        return number

    def workday(self, worker_ref: str, day: str, start: str = "08:00", end: str = "17:00", **kw) -> None:
        self.gw.punch(worker_ref, cst(day, start), "in", **kw)
        self.gw.punch(worker_ref, cst(day, end), "out", **kw)

    def flush(self) -> None:
        entries = self.gw.entries[self.sent:]
        if entries:
            out = self.ingestor.handle(f"rn/v1/gw/{self.gw.gateway_id}/punches", self.gw.sealed_batch(entries))
            assert out.verdict.ok, out.verdict.reason
            self.sent = len(self.gw.entries)


def upstream_cfg(**kw) -> UpstreamConfig:
    base = dict(enabled=True, endpoint="http://127.0.0.1:1/", appid="44060620230801001", settle_s=0.0,
                max_backoff_s=60.0, interval_s=60.0)
    return UpstreamConfig(**{**base, **kw})


def drain(job: UploadJob, *, start: float | None = None, step: float = 120.0, runs: int = 40) -> list[dict]:
    """Run the job until a run does nothing, advancing its clock by ``step`` (past any backoff)."""
    now = (start or time.time()) + 1.0
    out = []
    for _ in range(runs):
        s = job.run_once(now)
        out.append(s)
        if not s["requests"] and not s["queued"] and not s["batches"] and not s["stopped"]:
            return out
        now += step
    raise AssertionError(f"the upload did not settle in {runs} runs: {out[-3:]}")
