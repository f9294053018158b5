#!/usr/bin/env python3
"""The city's daily supervision computation on PostgreSQL, at city scale.

A generated city (``devtools.citygen``: 3,000 projects, about 300,000 workers, one day of
gate traffic: shift changes, lunch breaks, repeat punches, background liveness failures and
manual punches) is written into a private PostgreSQL cluster (durability settings left on),
then the daily computation runs once, timed: attendance days and rates of every project,
abnormal attendance (every rule), warnings (key posts, on-duty rates, gateways, tamper
alerts), stored for the dashboard (:func:`cloud_receiver.dashboard.daily.compute_day`).

Baseline, same run, same database: a plain SQL aggregation of the same punches into
attendance days (first and last punch, count, in and out seen, per project and worker),
all rows fetched. ``ratio`` = computation / baseline. Target: ``seconds`` < 60.

Wage risk (:func:`~cloud_receiver.supervision.wage_risk.evaluate_wage_risk`, every project,
``lookback_months`` months, facts stored and warnings synced) is timed after it, separately
(``wage_s``; not in ``seconds``), and, same run, the per-project pass it replaced
(:func:`month_facts` + one write per project-month) over ``--wage-sample`` projects, scaled to
the city (``wage_per_project_est_s``; ``wage_speedup`` = that / ``wage_s``).

    python bench/supervision.py [--projects 3000] [--workers 94] [--date 2026-03-31] [--wage-sample 100]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

from _common import emit

from cloud_receiver.dashboard.daily import compute_day
from cloud_receiver.store import open_store
from cloud_receiver.supervision.wage_risk import (
    DEFAULT_WAGE_RULES,
    add_months,
    evaluate_wage_risk,
    month_facts,
)
from devtools.citygen import CitySpec, generate
from devtools.citygen_store import write_city
from devtools.postgres import PostgresCluster

BASELINE_SQL = ("SELECT project_code, worker_ref, min(device_time), max(device_time), count(*), "
                "bool_or(direction = 'in'), bool_or(direction = 'out') FROM ledger "
                "WHERE device_date = %s AND type = 'punch' AND worker_ref IS NOT NULL GROUP BY project_code, worker_ref")


def baseline(dsn: str, date: str, rounds: int = 3) -> tuple[float, int]:
    import psycopg

    times, n = [], 0
    with psycopg.connect(dsn, autocommit=True) as conn:
        for _ in range(rounds):
            t0 = time.perf_counter()
            n = len(conn.execute(BASELINE_SQL, (date,)).fetchall())
            times.append(time.perf_counter() - t0)
    return statistics.median(times), n


def per_project_wage(store, codes: list[str], today: str, now: float) -> float:
    """The per-project wage pass (before the whole-city one) over ``codes``: seconds."""
    months = [add_months(today[:7], -i) for i in range(DEFAULT_WAGE_RULES.lookback_months - 1, -1, -1)]
    t0 = time.perf_counter()
    for code in codes:
        for month in months:
            store.put_wage_facts(code, month, month_facts(store, code, month, today), now)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--projects", type=int, default=3000)
    ap.add_argument("--workers", type=int, default=94, help="mean workers per project (lognormal, ≥ 12)")
    ap.add_argument("--districts", type=int, default=11)
    ap.add_argument("--date", default="2026-03-31")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--wage-sample", type=int, default=100, help="projects the per-project wage pass is timed on")
    args = ap.parse_args()
    spec = CitySpec(seed=args.seed, districts=args.districts, projects=args.projects, workers=args.workers,
                    first_date=args.date, last_date=args.date, plant=False, stopped_share=0.05, completed=30)
    with tempfile.TemporaryDirectory(prefix="rn-bench-sup-") as tmp, PostgresCluster(tmp, fast=False) as pg:
        dsn = pg.create_database("city")
        parts = dict(p.split("=", 1) for p in dsn.split())
        store = open_store(f"postgresql://{parts['user']}@{parts['host']}:{parts['port']}/{parts['dbname']}",
                           migrate=True)
        try:
            t0 = time.perf_counter()
            city = generate(spec)
            counts = write_city(store, city)
            gen_s = time.perf_counter() - t0
            print(f"generated {counts['projects']} projects, {city.workers} workers, {counts['ledger']} ledger rows "
                  f"in {gen_s:.1f} s", flush=True)
            t0 = time.perf_counter()
            out = compute_day(store, args.date, warnings=True, now=spec.now())
            seconds = time.perf_counter() - t0
            print(f"daily computation: {seconds:.1f} s {out['timings']}", flush=True)
            t0 = time.perf_counter()
            wage = evaluate_wage_risk(store, args.date, now=spec.now())
            wage_s = time.perf_counter() - t0
            print(f"wage risk, whole city: {wage_s:.1f} s, {wage['months']} project-months", flush=True)
            codes = sorted(p["project_code"] for p in store.list_projects())
            sample = codes[:: max(1, len(codes) // max(1, args.wage_sample))][:args.wage_sample]
            sample_s = per_project_wage(store, sample, args.date, spec.now())
            wage_est_s = sample_s * len(codes) / max(1, len(sample))
            print(f"wage risk, per project: {sample_s:.1f} s for {len(sample)} projects, "
                  f"~{wage_est_s:.0f} s for the city", flush=True)
            base_s, groups = baseline(dsn, args.date)
        finally:
            store.close()
    emit({"bench": "supervision", "seconds": round(seconds, 2), "target_s": 60, "met": seconds < 60,
          "baseline_s": round(base_s, 3), "ratio": round(seconds / base_s, 1), "projects": counts["projects"],
          "workers": city.workers, "punches": counts["punches"], "ledger_rows": counts["ledger"],
          "worker_days": groups, "present": out["present"], "roster": out["roster"], "findings": out["findings"],
          "warnings": out["warnings"], "timings": out["timings"], "generate_s": round(gen_s, 1),
          "wage_s": round(wage_s, 2), "wage_project_months": wage["months"],
          "wage_warnings": {k: wage[k] for k in ("opened", "refreshed", "resolved") if k in wage},
          "wage_per_project_sample": len(sample), "wage_per_project_sample_s": round(sample_s, 2),
          "wage_per_project_est_s": round(wage_est_s, 1), "wage_speedup": round(wage_est_s / wage_s, 1)})


if __name__ == "__main__":
    main()
