"""The whole-city wage-risk pass (:func:`city_month_facts`: bulk reads per month and chunk of
projects, used by :func:`evaluate_wage_risk`) gives exactly the facts of the per-project pass
(:func:`month_facts` against the store, one project-month at a time) on a generated city
(``devtools.citygen``) with payroll imports planted for each case: a correct payroll, short
payroll, claims without attendance, back pay, missing payroll, disputes; both stores."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest

from cloud_receiver.store import open_store
from cloud_receiver.supervision import payroll, wage_risk
from cloud_receiver.supervision.payroll_import import import_payroll
from cloud_receiver.supervision.rules import DEFAULT_RULES
from cloud_receiver.supervision.service import attendance_month, month_with_roster
from cloud_receiver.supervision.wage_risk import (
    ARREARS_NOT_SUBMITTED,
    ARREARS_SHORT,
    CLAIM_WITHOUT_ATTENDANCE,
    SERVICE_QUALITY,
    WAGE_RULE_IDS,
    WageRiskRules,
    add_months,
    city_month_facts,
    evaluate_wage_risk,
    month_facts,
)
from devtools.citygen import CitySpec, generate
from devtools.citygen_store import write_city

from .conftest import id_number

SPEC = CitySpec(seed=5, plant=True, districts=4, projects=16, workers=30, first_date="2026-02-16",
                last_date="2026-03-31")
TODAY = "2026-04-20"          # February's and March's payrolls are overdue
RULES = WageRiskRules(service_unsettled_exits_min=1)
MONTHS = [add_months("2026-04", -i) for i in range(RULES.lookback_months - 1, -1, -1)]
NOW = 1.79e9


def _csv(code: str, rows: list[dict]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(payroll.NATIONAL_COLUMNS)
    for r in rows:
        full = {"projectCode": code, "teamSysNo": "T1", "idCardType": "01", "workHours": 8, "isBackPay": "0", **r}
        w.writerow([full.get(c, "") for c in payroll.NATIONAL_COLUMNS])
    return buf.getvalue().encode()


def _pay(store, code: str, rows: list[dict]) -> None:
    out = import_payroll(store, code, _csv(code, rows), source="p.csv", operator="劳资员", now=NOW,
                         today=dt.date.fromisoformat(TODAY))
    assert out["rejected"] == [] and out["imported"] == len(rows)


def _lines(store, code: str, month: str) -> list[dict]:
    """A correct payroll of the month: everyone who attended, paid in full for the days attended
    (``[]`` when fewer than 3 attended: nothing to plant on)."""
    ids = {r["worker_ref"]: r for r in store.roster(code)}
    out = []
    for w in attendance_month(store, code, month, DEFAULT_RULES)["workers"]:
        if w["on_roster"] and w["days_present"]:
            m = ids[w["worker_ref"]]
            out.append({"idCardNumber": m["id_number"], "corpCode": m["company_code"], "payMonth": month,
                        "days": w["days_present"], "totalPayAmount": str(300 * w["days_present"]),
                        "actualAmount": str(300 * w["days_present"])})
    return out if len(out) >= 3 else []


def _plant_payroll(store) -> dict:
    codes = [p["project_code"] for p in store.list_projects()
             if _lines(store, p["project_code"], "2026-02") and _lines(store, p["project_code"], "2026-03")]
    assert len(codes) >= 5, codes
    ok, short, claims, backpay, disputes = codes[:5]
    _pay(store, ok, _lines(store, ok, "2026-02") + _lines(store, ok, "2026-03"))
    s = _lines(store, short, "2026-03")
    s[0]["days"] -= 1                                              # paid for fewer days than attended
    s[1]["actualAmount"] = str(int(s[1]["actualAmount"]) - 100)   # paid below payable
    _pay(store, short, s[:-1])                                     # the last one is missing
    c = _lines(store, claims, "2026-03")
    few = min(c, key=lambda r: r["days"])
    assert few["days"] < 31
    few["days"] += min(5, 31 - few["days"])                        # days without attendance
    c.append({**c[1], "idCardNumber": id_number(900)})             # someone not on the roster
    _pay(store, claims, c)
    b = _lines(store, backpay, "2026-03")
    b.append({**b[0], "payMonth": "2026-03", "idCardNumber": id_number(901), "isBackPay": "1",
              "backPayMonth": "2026-02"})                          # back pay: not compared with attendance
    _pay(store, backpay, b)
    for _ in range(2):
        store.add_service_event({"project_code": disputes, "corp_code": "C1", "kind": "dispute",
                                 "occurred_on": "2026-03-10", "operator": "仲裁委"}, NOW)
    store.add_service_event({"project_code": ok, "corp_code": "C1", "kind": "evaluation", "score": 40,
                             "occurred_on": "2026-03-11", "operator": "住建局"}, NOW)
    return {"ok": ok, "short": short, "claims": claims, "backpay": backpay, "disputes": disputes}


@pytest.fixture
def city(store_url):
    store = open_store(store_url, migrate=True)
    write_city(store, generate(SPEC))
    planted = _plant_payroll(store)
    yield store, planted
    store.close()


def _per_project(store, codes, months=MONTHS) -> dict:
    return {(c, m): month_facts(store, c, m, TODAY, RULES) for c in codes for m in months}


def test_city_pass_facts_identical_to_per_project_pass(city, monkeypatch):
    store, _ = city
    monkeypatch.setattr(wage_risk, "CITY_CHUNK", 3)        # several chunks per month
    codes = [p["project_code"] for p in store.list_projects()]
    bulk = {(c, m): f for c, m, f in city_month_facts(store, MONTHS, TODAY, RULES)}
    assert list(bulk) == [(c, m) for m in MONTHS for c in sorted(codes)]
    assert bulk == _per_project(store, codes)


def test_evaluation_stores_per_project_facts_and_raises_every_planted_case(city):
    store, planted = city
    out = evaluate_wage_risk(store, TODAY, now=NOW, rules=RULES)
    codes = [p["project_code"] for p in store.list_projects()]
    assert out["months"] == len(codes) * len(MONTHS)
    stored = {(r["project_code"], r["month"]): r["facts"] for r in store.wage_facts(MONTHS[0], MONTHS[-1])}
    assert stored == _per_project(store, codes)
    live = {(w["rule"], w["subject"]) for w in store.warnings(None, None, None, 100000, 0)
            if w["rule"] in WAGE_RULE_IDS and w["state"] != "resolved"}
    assert (ARREARS_SHORT, f"{planted['short']}/2026-03") in live
    assert (CLAIM_WITHOUT_ATTENDANCE, f"{planted['claims']}/2026-03") in live
    assert (SERVICE_QUALITY, f"{planted['disputes']}/C1") in live
    assert (SERVICE_QUALITY, f"{planted['ok']}/C1") in live                       # low evaluation
    assert (ARREARS_NOT_SUBMITTED, f"{planted['disputes']}/2026-03") in live      # no payroll at all
    assert not {r for r, s in live if s.startswith(planted["ok"] + "/2026-")}          # paid as attended
    assert not {r for r, s in live if s == planted["backpay"] + "/2026-03"}         # back pay not a claim


def test_partial_pass_with_an_unknown_project(city):
    """A ``projects`` subset, including a code with no project row, reads the same as per project."""
    store, planted = city
    codes = [planted["short"], planted["claims"], "NO-SUCH-PROJECT"]
    bulk = {(c, m): f for c, m, f in city_month_facts(store, MONTHS[-2:], TODAY, RULES, projects=codes)}
    assert bulk == _per_project(store, codes, MONTHS[-2:])


def test_days_from_punching_workers_give_the_facts_of_the_whole_month_report(city, monkeypatch):
    """Regression guard for :func:`wage_risk.attended_days`, which runs the month's attendance over
    the workers who punched only: the facts equal those from the full month report of the whole
    roster (:func:`month_with_roster`, what month_facts used before)."""
    store, _ = city
    codes = [p["project_code"] for p in store.list_projects()]
    fast = _per_project(store, codes)

    def full_report(store, code, month, attendance, roster):
        report, _ = month_with_roster(store, code, month, attendance)
        return {w["worker_ref"]: w["days_present"] for w in report["workers"] if w["on_roster"]}

    monkeypatch.setattr(wage_risk, "attended_days", full_report)
    assert _per_project(store, codes) == fast
    assert any(f["attendance_days"] and f["payroll_rows"] for f in fast.values())
