"""A realistic generated city for the supervision dashboard's tests and ``bench/supervision.py``.

Districts, projects (coordinates around each district's centre, general contractors,
supervisors, status history with 停工 periods and completed projects), companies, teams,
workers with key posts (项目经理, 技术负责人, 安全员, 质量负责人, 总监理工程师), gateways, and days
of gate traffic with realistic patterns: morning and evening shift changes, lunch breaks for
some, individual rest days (more on Sundays), rainy days per district, the Spring Festival
dip, repeat punches, forgotten punch-outs, a low background of liveness failures and manual
(补卡) punches, people joining and leaving, 停工 periods (only a manager or two on site). Everything is seeded: the same :class:`CitySpec` gives the same city.

With ``plant=True`` it also plants what supervision must find, and :func:`generate` returns
the list (``City.planted``): impossible travel, one person in two projects a day, a proxy-punch
burst, punches by an exited and by an unknown person, a team's day of mostly manual punches,
a liveness-failure spike, a project without a safety officer, a safety officer rarely on site,
a gateway silent for days. A clean city (``plant=False``) has none of these.

Rows are written straight into a migrated store by :mod:`devtools.citygen_store` (COPY on
PostgreSQL, executemany on SQLite) with real hash chains per gateway, as ingest would have
stored them (``chain_status = 'verified'``).

    python -m devtools.citygen --store sqlite:///city.db --projects 40 --workers 30 --days 30
"""

from __future__ import annotations

import argparse
import datetime as _dt
import logging
import random
from dataclasses import dataclass, field

from cloud_receiver.supervision.anomalies import haversine_km
from shared_schema.idcard import check_character

log = logging.getLogger(__name__)

CST = _dt.timezone(_dt.timedelta(hours=8))
DISTRICTS = (("天河区", 113.361, 23.125), ("越秀区", 113.267, 23.129), ("海珠区", 113.317, 23.084),
             ("荔湾区", 113.244, 23.126), ("白云区", 113.273, 23.158), ("黄埔区", 113.459, 23.106),
             ("番禺区", 113.384, 22.938), ("花都区", 113.220, 23.404), ("南沙区", 113.525, 22.801),
             ("从化区", 113.586, 23.548), ("增城区", 113.810, 23.261))
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国志红文斌宇浩凯鹏飞俊峰亮海波辉林"
KEY_POSTS = (("PM", "项目经理"), ("TL", "技术负责人"), ("SO", "安全员"), ("QL", "质量负责人"), ("CS", "总监理工程师"))
WORK_TYPES = ("010", "020", "030", "040", "050", "060", "070", "080", "090", "100")
KINDS_OF_SITE = ("住宅", "商业综合体", "学校", "医院", "地铁站", "产业园", "安置房", "道路改造")
SPRING_FESTIVAL = ("2026-02-12", "2026-02-25")   # most workers home (春节)
MANUAL_REASONS = ("人脸识别设备故障补卡", "外出办事补卡", "忘记打卡补卡")


@dataclass(frozen=True)
class CitySpec:
    seed: int = 1
    districts: int = 4
    projects: int = 16
    workers: int = 30                 # mean workers per project (key posts included)
    first_date: str = "2026-02-23"
    last_date: str = "2026-03-27"     # China-local; the city's "today"
    plant: bool = True
    stopped_share: float = 0.1        # projects with a 停工 period in the range
    completed: int = 1                # completed (004) projects: roster exited, no traffic

    @property
    def dates(self) -> list[str]:
        d0, d1 = _dt.date.fromisoformat(self.first_date), _dt.date.fromisoformat(self.last_date)
        return [(d0 + _dt.timedelta(days=i)).isoformat() for i in range((d1 - d0).days + 1)]

    def now(self) -> float:
        """The city's "now": 21:00 China time on ``last_date`` (after the evening shift change)."""
        return _dt.datetime.fromisoformat(self.last_date + "T21:00:00+08:00").timestamp()


@dataclass
class Worker:
    ref: str
    name: str
    id_number: str
    role: str                         # worker / manager
    post: str | None
    company: str
    team: str | None
    work_type: str | None
    entry: str
    exit: str | None = None
    presence: float = 0.9             # chance of working on an ordinary day
    lunch: bool = False
    shift: tuple[int, int] = (7 * 60, 17 * 60 + 30)   # local minutes: in, out


@dataclass
class Project:
    code: str
    name: str
    district: str
    lng: float
    lat: float
    gc: str
    supervisor: str
    status: str = "003"
    periods: list[dict] = field(default_factory=list)     # status periods
    workers: list[Worker] = field(default_factory=list)
    gateway: str = ""
    silent_from: str | None = None    # gateway dead from this date (planted)
    extra: list[dict] = field(default_factory=list)       # planted entries: {t, worker, type, ...}


@dataclass
class City:
    spec: CitySpec
    projects: list[Project]
    planted: list[dict]

    @property
    def workers(self) -> int:
        return sum(len(p.workers) for p in self.projects)


class _Ids:
    def __init__(self):
        self.n = 0

    def next(self, rnd: random.Random) -> str:
        self.n += 1
        birth = _dt.date(1965, 1, 1) + _dt.timedelta(days=rnd.randrange(365 * 38))
        # unique per city (n < 10^7): the sequence number's thousands make the area code
        first17 = f"44{(self.n // 1000) % 10000:04d}{birth:%Y%m%d}{self.n % 1000:03d}"
        return first17 + check_character(first17)


def _name(rnd: random.Random) -> str:
    return rnd.choice(SURNAMES) + "".join(rnd.choice(GIVEN) for _ in range(rnd.choice((1, 2))))


def _shift_date(d: str, days: int) -> str:
    return (_dt.date.fromisoformat(d) + _dt.timedelta(days=days)).isoformat()


def _make_project(spec: CitySpec, rnd: random.Random, ids: _Ids, i: int, district, gcs, subs) -> Project:
    name_d, lng0, lat0 = district
    code = f"P{i + 1:05d}"
    p = Project(code=code, name=f"{name_d[:-1]}{rnd.choice(KINDS_OF_SITE)}{i + 1}号项目", district=name_d,
                lng=round(lng0 + rnd.uniform(-0.06, 0.06), 6), lat=round(lat0 + rnd.uniform(-0.05, 0.05), 6),
                gc=rnd.choice(gcs), supervisor=f"{rnd.choice('广粤穗南华')}{rnd.choice('信诚建衡')}监理有限公司",
                gateway=f"GW-{code}")
    n = max(12, int(rnd.lognormvariate(0, 0.35) * spec.workers))
    before = _shift_date(spec.first_date, -rnd.randrange(30, 400))
    mid = spec.dates[:-1] or spec.dates   # joining / leaving days (a one-day city: that day)
    w = 0

    def add(role, post, company, team, wt, presence, entry=before):
        nonlocal w
        w += 1
        p.workers.append(Worker(ref=f"{code}-W{w:04d}", name=_name(rnd), id_number=ids.next(rnd), role=role,
                                post=post, company=company, team=team, work_type=wt, entry=entry,
                                presence=presence, lunch=rnd.random() < 0.3,
                                shift=(rnd.randint(6 * 60 + 40, 8 * 60 + 10), rnd.randint(17 * 60 + 10, 18 * 60 + 50))))
    gc_code = p.gc.split("|")[0]
    for _, post in KEY_POSTS:
        add("manager", post, gc_code, None, None, rnd.uniform(0.96, 0.995))
    my_subs = rnd.sample(subs, rnd.randint(1, 3))
    left = n - len(KEY_POSTS)
    t = 0
    while left > 0:
        t += 1
        size = min(left, rnd.randint(5, 25))
        company, wt = rnd.choice(my_subs), rnd.choice(WORK_TYPES)
        for _ in range(size):
            # some joined during the range; a few left before its end
            entry = before if rnd.random() < 0.85 else rnd.choice(mid)
            add("worker", None, company, f"{company}-T{t:02d}", wt, rnd.uniform(0.78, 0.97), entry)
            if rnd.random() < 0.03:
                p.workers[-1].exit = rnd.choice(mid)
        left -= size
    return p


def _plant(spec: CitySpec, rnd: random.Random, ids: _Ids, projects: list[Project]) -> list[dict]:
    """Decide what to plant; the entries go into ``Project.extra`` / the roster. → the plant list."""
    live = [p for p in projects if p.status == "003" and not p.periods]
    if len(live) < 8:
        raise ValueError("planting needs at least 8 projects under construction without status periods")
    if len(spec.dates) < 14:
        raise ValueError("planting needs at least 14 days (exits, bursts and spikes fall on different days)")
    rnd.shuffle(live)
    # impossible travel wants the two projects farthest apart (of the first few dozen)
    pool = live[:60]
    a, b = max(((x, y) for i, x in enumerate(pool) for y in pool[i + 1:]),
               key=lambda xy: haversine_km(xy[0].lng, xy[0].lat, xy[1].lng, xy[1].lat))
    live = [a, b] + [p for p in live if p is not a and p is not b]
    days = spec.dates[-12:-1]
    out = []

    def day(k: int) -> str:
        return days[k % len(days)]

    def at(d: str, hhmm: str) -> _dt.datetime:
        return _dt.datetime.fromisoformat(f"{d}T{hhmm}:00+08:00")

    # impossible travel: one person (one ID number) on two far-apart projects' rosters
    if haversine_km(a.lng, a.lat, b.lng, b.lat) < 8.0:
        raise ValueError("impossible travel needs two projects at least 8 km apart")

    def regular(p: Project, d: str) -> list[Worker]:
        """Ordinary workers on the roster that day (not planted, not exited)."""
        return [x for x in p.workers if x.role == "worker" and x.presence > 0 and x.entry <= d
                and not (x.exit and x.exit < d)]
    person = next(x for x in a.workers if x.role == "worker" and not x.exit)
    ref_b = f"{b.code}-W9001"
    b.workers.append(Worker(ref=ref_b, name=person.name, id_number=person.id_number, role="worker", post=None,
                            company=b.workers[-1].company, team=b.workers[-1].team, work_type=person.work_type,
                            entry=spec.first_date, presence=0.0))
    d = day(0)
    b.extra.append({"t": at(d, "08:05"), "worker": ref_b, "direction": "in"})
    b.extra.append({"t": at(d, "08:06"), "worker": ref_b, "direction": "in"})
    out.append({"rule": "impossible_travel", "day": d, "projects": sorted((a.code, b.code)), "worker_ref": ref_b,
                "also": ["multi_project_day"], "note": f"{person.ref} punches at {a.code} about 07:00-08:10 too"})
    a.extra.append({"t": at(d, "07:58"), "worker": person.ref, "direction": "in"})
    # one person active in two projects the same day (nearby, plausible travel, both rosters)
    c, e = live[2], live[3]
    person = next(x for x in c.workers if x.role == "worker" and not x.exit)
    ref_e = f"{e.code}-W9002"
    e.workers.append(Worker(ref=ref_e, name=person.name, id_number=person.id_number, role="worker", post=None,
                            company=e.workers[-1].company, team=e.workers[-1].team, work_type=person.work_type,
                            entry=spec.first_date, presence=0.0))
    d = day(1)
    c.extra.append({"t": at(d, "06:40"), "worker": person.ref, "direction": "in", "sole": True})
    c.extra.append({"t": at(d, "11:00"), "worker": person.ref, "direction": "out", "sole": True})
    e.extra.append({"t": at(d, "14:00"), "worker": ref_e, "direction": "in"})
    e.extra.append({"t": at(d, "18:10"), "worker": ref_e, "direction": "out"})
    out.append({"rule": "multi_project_day", "day": d, "projects": sorted((c.code, e.code)), "worker_ref": ref_e})
    # a proxy-punch burst: 24 "in" punches on one gate within ~40 s at 14:30, of people absent that day
    f = live[4]
    d = day(2)
    crowd = regular(f, d)[:24]   # a small project's people come round more than once
    t0 = at(d, "14:30")
    for k in range(24):
        f.extra.append({"t": t0 + _dt.timedelta(seconds=k * 1.7), "worker": crowd[k % len(crowd)].ref,
                        "direction": "in", "sole": True})
    out.append({"rule": "punch_burst", "day": d, "projects": [f.code], "gateway_id": f.gateway, "punches": 24})
    # an exited person punching after the exit date, and an unknown person
    g = live[5]
    gone = next(x for x in g.workers if x.role == "worker" and not x.exit)
    gone.exit = day(3)
    d = day(5)
    g.extra.append({"t": at(d, "07:30"), "worker": gone.ref, "direction": "in"})
    g.extra.append({"t": at(d, "17:40"), "worker": gone.ref, "direction": "out"})
    out.append({"rule": "off_roster_punch", "reason": "exited", "day": d, "projects": [g.code], "worker_ref": gone.ref})
    d = day(6)
    stranger = f"{g.code}-X0001"
    g.extra.append({"t": at(d, "07:45"), "worker": stranger, "direction": "in"})
    g.extra.append({"t": at(d, "17:35"), "worker": stranger, "direction": "out"})
    out.append({"rule": "off_roster_punch", "reason": "unknown", "day": d, "projects": [g.code], "worker_ref": stranger})
    # a team's day of mostly manual punches
    h = live[6]
    d = day(7)
    teams: dict = {}
    for x in regular(h, d):
        if x.team:
            teams.setdefault(x.team, []).append(x)
    team, members = max(teams.items(), key=lambda kv: (len(kv[1]), kv[0]))
    for x in members:
        h.extra.append({"t": at(d, "07:20"), "worker": x.ref, "direction": "in", "kind": "manual", "sole": True})
        h.extra.append({"t": at(d, "17:50"), "worker": x.ref, "direction": "out", "kind": "manual", "sole": True})
    out.append({"rule": "manual_share", "day": d, "projects": [h.code], "team_code": team, "punches": 2 * len(members)})
    # a liveness-failure spike at a gate within one hour
    k = live[7]
    d = day(8)
    t0 = at(d, "10:05")
    for n in range(12):
        k.extra.append({"t": t0 + _dt.timedelta(minutes=n * 4), "worker": None, "direction": "in", "type": "rejected",
                        "reason": "liveness_failed"})
    out.append({"rule": "liveness_spike", "day": d, "projects": [k.code], "gateway_id": k.gateway, "failures": 12})
    # warnings: no safety officer; a safety officer rarely on site; a gateway silent for days
    rest = live[8:] or live[:1]
    m = rest[0]
    so = next(x for x in m.workers if x.post == "安全员")
    so.exit = spec.dates[len(spec.dates) // 2]
    out.append({"warning": "no_safety_officer", "project_code": m.code})
    n_ = rest[1 % len(rest)]
    next(x for x in n_.workers if x.post == "安全员").presence = 0.4
    out.append({"warning": "on_duty_below_norm", "project_code": n_.code, "subject": f"{n_.code}/safety_officer"})
    s = rest[2 % len(rest)]
    s.silent_from = spec.dates[-1]   # nothing heard since 20:00 the day before: 25 hours at "now"
    out.append({"warning": "gateway_silent", "project_code": s.code, "gateway_id": s.gateway})
    return out


def generate(spec: CitySpec) -> City:
    """The city's plan: projects, rosters, status periods and what is planted (no traffic yet:
    :func:`devtools.citygen_store.project_entries` makes a project's entries on demand)."""
    rnd = random.Random(spec.seed)
    ids = _Ids()
    districts = [DISTRICTS[i % len(DISTRICTS)] for i in range(spec.districts)]
    gcs = [f"GC{k:03d}|{rnd.choice('中广华南粤')}{rnd.choice('建鸿铁城')}建设集团第{k}工程局" for k in range(1, 41)]
    subs = [f"LB{k:04d}" for k in range(1, 201)]
    projects = [_make_project(spec, rnd, ids, i, districts[i % len(districts)], gcs, subs)
                for i in range(spec.projects)]
    dates = spec.dates
    for p in projects[:spec.completed]:
        p.status = "004"
        done = _shift_date(spec.first_date, -rnd.randrange(10, 60))
        for w in p.workers:
            w.entry, w.exit = min(w.entry, done), done
    stoppable = projects[spec.completed:]
    for p in rnd.sample(stoppable, int(len(stoppable) * spec.stopped_share)):
        a = rnd.randrange(0, max(1, len(dates) - 10))
        b = min(len(dates) - 1, a + rnd.randrange(4, 12))
        p.periods.append({"status": "005", "from_date": dates[a], "to_date": dates[b], "reason": "停工整改",
                          "operator": "district-admin"})
    planted = _plant(spec, rnd, ids, projects) if spec.plant else []
    return City(spec=spec, projects=projects, planted=planted)


def main(argv=None) -> int:
    from cloud_receiver.store import open_store

    from .citygen_store import write_city

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--store", required=True, help="store URL (sqlite:///path or postgresql://...)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--districts", type=int, default=4)
    ap.add_argument("--projects", type=int, default=16)
    ap.add_argument("--workers", type=int, default=30, help="mean workers per project")
    ap.add_argument("--first-date", default=CitySpec.first_date)
    ap.add_argument("--last-date", default=CitySpec.last_date)
    ap.add_argument("--clean", action="store_true", help="plant nothing")
    args = ap.parse_args(argv)
    spec = CitySpec(seed=args.seed, districts=args.districts, projects=args.projects, workers=args.workers,
                    first_date=args.first_date, last_date=args.last_date, plant=not args.clean)
    store = open_store(args.store, migrate=True)
    try:
        city = generate(spec)
        counts = write_city(store, city)
    finally:
        store.close()
    import json
    print(json.dumps({"counts": counts, "planted": city.planted}, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())


__all__ = ["City", "CitySpec", "Project", "Worker", "generate"]
