"""Wage risk (issue 6): arrears (payroll missing or short against attendance), claims without
attendance, service quality (unsettled exits, disputes, evaluations) — as warnings with
rule, evidence and state next to the others, resolved when the data is fixed, and the monthly
trend series. Real ingest path, real payroll import; both dialects."""

from __future__ import annotations

import csv
import io
import json

from cloud_receiver.supervision import payroll
from cloud_receiver.supervision.calendar import validate_project
from cloud_receiver.supervision.payroll_import import import_payroll
from cloud_receiver.supervision.wage_risk import (
    ARREARS_NOT_SUBMITTED,
    ARREARS_SHORT,
    CLAIM_WITHOUT_ATTENDANCE,
    SERVICE_QUALITY,
    WAGE_RULE_IDS,
    WageRiskHook,
    WageRiskRules,
    evaluate_wage_risk,
    trend,
)
from cloud_receiver.supervision.warnings import evaluate_warnings

from .conftest import id_number

TODAY = "2026-05-20"
RULES = WageRiskRules(service_unsettled_exits_min=1)
NOW = 1.79e9


def payroll_csv(rows: list[dict]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(payroll.NATIONAL_COLUMNS)
    for r in rows:
        full = {"projectCode": "P-100", "corpCode": "C1", "teamSysNo": "T1", "idCardType": "01", "workHours": 8,
                "isBackPay": "0", **r}
        w.writerow([full.get(c, "") for c in payroll.NATIONAL_COLUMNS])
    return buf.getvalue().encode()


def pay(site, rows):
    import datetime as dt
    out = import_payroll(site.store, "P-100", payroll_csv(rows), source="p.csv", operator="劳资员", now=NOW,
                         today=dt.date.fromisoformat(TODAY))
    assert out["rejected"] == [], out["rejected"]
    return out


def line(number, month, days, total, actual, **kw):
    return {"idCardNumber": number, "payMonth": month, "days": days, "totalPayAmount": total, "actualAmount": actual,
            **kw}


def setup_city(site):
    site.store.upsert_project(validate_project({"project_code": "P-100", "name": "一号项目", "district": "东区"}), NOW)
    ids = {w: site.enroll(w, entry_date="2026-01-01", company="C2" if w == "W4" else "C1") for w in
           ("W1", "W2", "W3", "W4")}
    for d in ("2026-03-02", "2026-03-03", "2026-03-04"):
        site.workday("W1", d)
    for d in ("2026-03-02", "2026-03-03"):
        site.workday("W2", d)
    site.workday("W4", "2026-03-05")
    site.workday("W1", "2026-02-02")                      # February: attendance, never a payroll
    site.flush()
    site.roster("W4", id_number=ids["W4"], action="exit", exit_date="2026-03-20", company_code="C2",
                entry_date="2026-01-01")
    return ids


def live(store, rule=None):
    """Live wage warnings: by subject for one rule, else by (rule, subject)."""
    rows = [w for w in store.warnings(None, None, rule, 1000, 0) if w["state"] != "resolved" and w["rule"] in WAGE_RULE_IDS]
    return {w["subject"]: w for w in rows} if rule else {(w["rule"], w["subject"]): w for w in rows}


def test_three_modules_raise_warnings_with_evidence_and_resolve_when_fixed(site):
    ids = setup_city(site)
    stranger = id_number(50)
    pay(site, [line(ids["W1"], "2026-03", 3, "900", "900"),
               line(ids["W2"], "2026-03", 1, "600", "300"),          # 2 attended, paid for 1, and half of it
               line(ids["W3"], "2026-03", 5, "1500", "1500"),        # no attendance at all
               line(stranger, "2026-03", 2, "600", "600")])          # not on the roster
    store = site.store
    for _ in range(2):
        store.add_service_event({"project_code": "P-100", "corp_code": "C1", "kind": "dispute",
                                 "occurred_on": "2026-04-02", "operator": "仲裁委"}, NOW)
    first = evaluate_wage_risk(store, TODAY, now=NOW, rules=RULES)
    assert set(live(store)) == {(ARREARS_NOT_SUBMITTED, "P-100/2026-02"), (ARREARS_SHORT, "P-100/2026-03"),
                                (CLAIM_WITHOUT_ATTENDANCE, "P-100/2026-03"), (SERVICE_QUALITY, "P-100/C1"),
                                (SERVICE_QUALITY, "P-100/C2")}
    assert first["opened"] == 5
    missing = live(store, ARREARS_NOT_SUBMITTED)["P-100/2026-02"]
    assert missing["evidence"]["attendance_workers"] == 1 and missing["evidence"]["due"] == "2026-03-15"
    short = live(store, ARREARS_SHORT)["P-100/2026-03"]["evidence"]
    people = {p["worker_ref"]: p["reasons"] for p in short["people"]}
    assert people == {"W2": ["paid_days_below_attendance", "paid_below_payable"], "W4": ["missing_from_payroll"]}
    assert short["short_cents"] == 30000 and short["module"] == "arrears"
    claims = live(store, CLAIM_WITHOUT_ATTENDANCE)["P-100/2026-03"]["evidence"]
    assert sorted((str(c["worker_ref"]), c["reason"], c["extra_days"]) for c in claims["people"]) == [
        ("None", "not_on_roster", 2), ("W3", "days_without_attendance", 5)]
    c1 = live(store, SERVICE_QUALITY)["P-100/C1"]["evidence"]
    c2 = live(store, SERVICE_QUALITY)["P-100/C2"]["evidence"]
    assert c1["reasons"] == ["disputes"] and c1["disputes"] == 2
    assert c2["reasons"] == ["unsettled_exits"] and c2["unsettled_exits"] == 1 and c2["exits"] == 1
    evidence = json.dumps([x["evidence"] for x in store.warnings(None, None, None, 1000, 0)], ensure_ascii=False)
    for n in [*ids.values(), stranger]:
        assert n not in evidence                              # masked: never a full ID number

    again = evaluate_wage_risk(store, TODAY, now=NOW + 60, rules=RULES)
    assert again["opened"] == 0 and again["resolved"] == 0 and again["refreshed"] == 5

    # the contractor corrects the payroll: every arrears and claim condition clears
    pay(site, [line(ids["W1"], "2026-02", 1, "300", "300"),
               line(ids["W2"], "2026-03", 2, "600", "600"), line(ids["W3"], "2026-03", 0, "0", "0"),
               line(ids["W4"], "2026-03", 1, "300", "300")])
    fixed = evaluate_wage_risk(store, TODAY, now=NOW + 120, rules=RULES)
    w = live(store)                                           # the stranger's claim and the disputes remain
    assert set(w) == {(CLAIM_WITHOUT_ATTENDANCE, "P-100/2026-03"), (SERVICE_QUALITY, "P-100/C1")}
    assert [p["reason"] for p in w[(CLAIM_WITHOUT_ATTENDANCE, "P-100/2026-03")]["evidence"]["people"]] == [
        "not_on_roster"]
    assert fixed["resolved"] == 3
    resolved = [x for x in store.warnings(None, "resolved", None, 1000, 0) if x["rule"] in WAGE_RULE_IDS]
    assert {x["state_operator"] for x in resolved} == {"system"}


def test_wage_warnings_live_beside_the_other_rules(site):
    """The general warning evaluation does not resolve wage warnings (separate rule sets)."""
    setup_city(site)
    evaluate_wage_risk(site.store, TODAY, now=NOW, rules=RULES)
    before = live(site.store)
    evaluate_warnings(site.store, TODAY, now=NOW + 1)
    assert live(site.store) == before and before
    rules = {w["rule"] for w in site.store.warnings("P-100", "open", None, 1000, 0)}
    assert ARREARS_NOT_SUBMITTED in rules and "no_safety_officer" in rules


def test_current_month_is_not_judged_and_payroll_not_due_is_not_missing(site):
    site.store.upsert_project(validate_project({"project_code": "P-100", "name": "p"}), NOW)
    n = site.enroll("W1", entry_date="2026-01-01")
    site.workday("W1", "2026-05-04")
    site.workday("W1", "2026-04-06")
    site.flush()
    pay(site, [line(n, "2026-05", 9, "2700", "2700")])          # May is not over: no claim yet
    evaluate_wage_risk(site.store, "2026-05-10", now=NOW, rules=RULES)
    assert live(site.store) == {}                               # April's payroll is due 2026-05-15
    evaluate_wage_risk(site.store, "2026-06-16", now=NOW + 1, rules=RULES)
    assert set(live(site.store)) == {(ARREARS_NOT_SUBMITTED, "P-100/2026-04"),   # ... by June 16 both are
                                     (CLAIM_WITHOUT_ATTENDANCE, "P-100/2026-05")}   # judged


def test_trend_series_per_module(site):
    ids = setup_city(site)
    pay(site, [line(ids["W1"], "2026-03", 3, "900", "900"), line(ids["W2"], "2026-03", 1, "600", "300"),
               line(ids["W3"], "2026-03", 5, "1500", "1500")])
    site.store.add_service_event({"project_code": "P-100", "corp_code": "C1", "kind": "evaluation", "score": 50,
                                  "occurred_on": "2026-03-09", "operator": "x"}, NOW)
    evaluate_wage_risk(site.store, TODAY, now=NOW, rules=RULES)
    arrears = {s["month"]: s for s in trend(site.store, "arrears", "2026-01", "2026-05")}
    assert list(arrears) == ["2026-01", "2026-02", "2026-03", "2026-04", "2026-05"]
    assert arrears["2026-02"]["not_submitted"] == 1 and arrears["2026-03"]["not_submitted"] == 0
    assert arrears["2026-03"]["short_count"] == 2 and arrears["2026-03"]["payroll_rows"] == 3
    assert arrears["2026-03"]["payable_cents"] == 300000 and arrears["2026-03"]["paid_cents"] == 270000
    claims = {s["month"]: s for s in trend(site.store, "claims", "2026-03", "2026-03")}
    assert claims["2026-03"]["claim_count"] == 1 and claims["2026-03"]["claim_days"] == 5
    svc = {s["month"]: s for s in trend(site.store, "service", "2026-03", "2026-04")}
    assert svc["2026-03"]["exits"] == 1 and svc["2026-03"]["mean_evaluation"] == 50.0
    assert svc["2026-04"]["mean_evaluation"] is None
    assert trend(site.store, "arrears", "2026-03", "2026-03", project_codes=set())[0]["projects"] == 0
    w = live(site.store, SERVICE_QUALITY)
    assert "low_evaluation" in w["P-100/C1"]["evidence"]["reasons"]


def test_hook_respects_its_interval(site):
    setup_city(site)
    hook = WageRiskHook(site.store, WageRiskRules(evaluate_interval_s=600))
    assert hook(NOW) is not None and hook(NOW + 10) is None and hook(NOW + 601) is not None
    assert hook.runs == 2
