"""Supervision fixtures: a migrated store (both dialects via ``store_url``) and a :class:`Site`
that feeds it through the real ingest path (sealed messages → ``Ingestor.handle``)."""

from __future__ import annotations

import datetime as dt

import pytest

from cloud_receiver.ingest import Ingestor
from cloud_receiver.store import open_store
from devtools.fake_gateway import FakeGateway
from shared_schema.idcard import check_character

CST = dt.timezone(dt.timedelta(hours=8))


def cst(day: str, hhmm: str) -> dt.datetime:
    """``cst("2026-03-02", "08:00")`` → that China-local moment (aware)."""
    h, m = hhmm.split(":")[:2]
    s = int(hhmm.split(":")[2]) if hhmm.count(":") == 2 else 0
    return dt.datetime.fromisoformat(day).replace(hour=int(h), minute=int(m), second=s, tzinfo=CST)


def id_number(n: int) -> str:
    """A valid 18-character resident ID number (check character per GB 11643), distinct per n."""
    first17 = f"44010619900101{n:03d}"
    return first17 + check_character(first17)


class Site:
    """One gateway of one project, fed through the real ingest path."""

    def __init__(self, store, project_code: str = "P-100", gateway_id: str = "GW-1"):
        self.store = store
        self.gw = FakeGateway(gateway_id, project_code)
        self.gw.register(store)
        self.ingestor = Ingestor(store, "rx-test", cache_s=0.0)
        self.sent = 0
        self.n = 0

    @property
    def project_code(self) -> str:
        return self.gw.project_code

    def enroll(self, worker_ref: str, *, team: str = "T1", company: str = "C1", **kw) -> str:
        self.n += 1
        number = kw.pop("id_number", None) or id_number(self.n)
        self.roster(worker_ref, id_number=number, team_code=team, company_code=company, **kw)
        return number

    def roster(self, worker_ref: str, **kw) -> None:
        msg = self.gw.roster(kw.pop("id_number", id_number(999)), worker_ref=worker_ref, **kw)
        out = self.ingestor.handle(f"rn/v1/gw/{self.gw.gateway_id}/roster", self.gw.seal(msg))
        assert out.verdict.ok, out.verdict.reason

    def flush(self) -> None:
        """Send every entry not yet sent as one signed batch; all must be stored new."""
        entries = self.gw.entries[self.sent:]
        if not entries:
            return
        out = self.ingestor.handle(f"rn/v1/gw/{self.gw.gateway_id}/punches", self.gw.sealed_batch(entries))
        assert out.verdict.ok, out.verdict.reason
        assert out.result.new == [e.seq for e in entries]
        self.sent = len(self.gw.entries)

    def workday(self, worker_ref: str, day: str, start: str = "08:00", end: str = "17:00") -> None:
        self.gw.punch(worker_ref, cst(day, start), "in")
        self.gw.punch(worker_ref, cst(day, end), "out")


@pytest.fixture
def store(store_url):
    s = open_store(store_url, migrate=True)
    yield s
    s.close()


@pytest.fixture
def site(store) -> Site:
    return Site(store)
