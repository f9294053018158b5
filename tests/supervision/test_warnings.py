"""Supervision warnings (both dialects): raised, refreshed without duplicates, resolved when the
condition clears, acknowledged/resolved by people; gateway silence and tamper alerts; the
sweep-loop hook; the rules as typed configuration."""

from __future__ import annotations

import threading
import time

import pytest

from cloud_receiver.supervision.calendar import validate_period, validate_project
from cloud_receiver.supervision.warnings import (
    DEFAULT_WARNING_RULES,
    WarningHook,
    WarningRules,
    evaluate_warnings,
)
from cloud_receiver.sweep import Sweeper
from shared_schema.typed_config import ConfigError, decode_config

TODAY = "2026-03-10"


def live(store, rule=None, project=None):
    return [w for w in store.warnings(project, None, rule, 1000, 0) if w["state"] != "resolved"]


def rules_of(store) -> list[tuple[str, str, str]]:
    return sorted((w["rule"], w["subject"], w["state"]) for w in store.warnings(None, None, None, 1000, 0))


def register(site, status="003"):
    site.store.upsert_project(validate_project({"project_code": site.project_code, "name": "一号地块",
                                                "status": status}), 0.0)


def test_missing_posts_raised_idempotent_and_cleared(site):
    st, code = site.store, site.project_code
    register(site)
    now = time.time()
    assert evaluate_warnings(st, TODAY, now=now) == {"opened": 2, "refreshed": 0, "resolved": 0}
    first = {w["rule"]: w for w in live(st)}
    assert set(first) == {"no_safety_officer", "no_technical_lead"}
    ev = first["no_safety_officer"]["evidence"]
    assert (ev["date"], ev["post"], ev["project_status"], first["no_safety_officer"]["project_code"]) == (
        TODAY, "safety_officer", "003", code)
    assert evaluate_warnings(st, TODAY, now=now + 60) == {"opened": 0, "refreshed": 2, "resolved": 0}
    again = {w["rule"]: w for w in live(st)}
    assert {r: w["warning_id"] for r, w in again.items()} == {r: w["warning_id"] for r, w in first.items()}
    assert again["no_technical_lead"]["first_seen"] == now and again["no_technical_lead"]["last_seen"] == now + 60
    assert len(st.warnings(None, None, None, 1000, 0)) == 2
    # posts filled, with full attendance: both cleared, nothing else raised
    site.enroll("SO1", role="manager", post="SO", team=None, entry_date="2026-03-01")
    site.enroll("TL1", role="manager", post="TL", team=None, entry_date="2026-03-01")
    for n in range(1, 11):
        site.workday("SO1", f"2026-03-{n:02d}")
        site.workday("TL1", f"2026-03-{n:02d}")
    site.flush()
    assert evaluate_warnings(st, TODAY, now=now + 120)["resolved"] == 2
    assert live(st) == []
    resolved = st.warnings(None, "resolved", None, 10, 0)
    assert {(w["state_operator"], w["state_note"]) for w in resolved} == {("system", "condition cleared")}


def test_on_duty_below_norm(site):
    st, code = site.store, site.project_code
    register(site)
    site.enroll("SO1", role="manager", post="SO", team=None, entry_date="2026-03-01")
    site.enroll("TL1", role="manager", post="TL", team=None, entry_date="2026-03-01")
    st.add_status_period(code, validate_period({"status": "005", "from_date": "2026-03-04", "to_date": "2026-03-05",
                                                "reason": "整改", "operator": "x"}), 0.0)
    for n in range(1, 11):                        # TL present every day (4, 5 stopped)
        site.workday("TL1", f"2026-03-{n:02d}")
    for n in (1, 2, 3, 6, 7, 8):                  # SO 6 of 8 working days = 0.75 < 0.8
        site.workday("SO1", f"2026-03-{n:02d}")
    site.flush()
    evaluate_warnings(st, TODAY)
    assert rules_of(st) == [("on_duty_below_norm", f"{code}/safety_officer", "open")]
    (w,) = live(st)
    ev = w["evidence"]
    assert (ev["month"], ev["rate"], ev["norm"], ev["working_days"], ev["present_days"]) == (
        "2026-03", 0.75, 0.8, 8, 6)
    assert ev["stopped_dates"] == ["2026-03-04", "2026-03-05"]
    assert ev["people"][0]["absent_dates"] == ["2026-03-09", "2026-03-10"]
    # stopped today: no rate is judged (the notice), so the warning resolves
    st.add_status_period(code, validate_period({"status": "005", "from_date": "2026-03-10", "reason": "停工",
                                                "operator": "x"}), 0.0)
    evaluate_warnings(st, TODAY)
    assert live(st) == []
    st.add_status_period(code, validate_period({"status": "003", "from_date": "2026-03-11", "operator": "x"}), 0.0)
    evaluate_warnings(st, "2026-03-11")
    assert [w["subject"] for w in live(st)] == [f"{code}/safety_officer"]
    # a lower configured norm: the condition clears and the warning resolves
    evaluate_warnings(st, TODAY, rules=WarningRules(safety_officer_norm=0.7))
    assert live(st) == []


def test_early_month_judges_the_previous_month(site):
    """Pins: on the 2nd of a month, one absent day must not make a 0 % rate warning: fewer than
    ``on_duty_min_days`` days → the previous month is judged."""
    register(site)
    for ref, post in (("SO1", "SO"), ("TL1", "TL")):
        site.enroll(ref, role="manager", post=post, team=None, entry_date="2026-02-01")
        for n in range(1, 29):
            site.workday(ref, f"2026-02-{n:02d}")
    site.flush()
    evaluate_warnings(site.store, "2026-03-02")
    assert live(site.store) == []
    evaluate_warnings(site.store, "2026-03-06")           # 6 days of March, none present
    assert {w["subject"] for w in live(site.store)} == {f"{site.project_code}/safety_officer",
                                                         f"{site.project_code}/technical_lead"}


def test_acknowledged_stays_and_manual_resolve_reopens(site):
    st = site.store
    register(site)
    evaluate_warnings(st, TODAY)
    so = live(st, "no_safety_officer")[0]
    w = st.set_warning_state(so["warning_id"], "acknowledged", "区住建局李四", "已电话通知", time.time())
    assert (w["state"], w["state_operator"], w["state_note"]) == ("acknowledged", "区住建局李四", "已电话通知")
    evaluate_warnings(st, TODAY)
    assert [(x["warning_id"], x["state"]) for x in live(st, "no_safety_officer")] == [(so["warning_id"], "acknowledged")]
    st.set_warning_state(so["warning_id"], "resolved", "李四", None, time.time())
    with pytest.raises(ValueError):
        st.set_warning_state(so["warning_id"], "acknowledged", "李四", None, time.time())
    evaluate_warnings(st, TODAY)                          # still no safety officer: a new warning
    (new,) = live(st, "no_safety_officer")
    assert new["warning_id"] != so["warning_id"] and new["state"] == "open"
    assert st.set_warning_state(10**9, "resolved", "x", None, time.time()) is None


def test_stopped_project_has_no_post_warnings(site):
    st = site.store
    register(site, status="005")
    evaluate_warnings(st, TODAY)
    assert live(st) == []


def test_gateway_silent(site):
    st = site.store
    register(site)
    site.enroll("SO1", role="manager", post="SO", team=None)   # an ingest: last_seen is now
    t0 = st.get_gateway("GW-1")["last_seen"] or time.time()
    evaluate_warnings(st, TODAY, now=t0 + 3600)
    assert live(st, "gateway_silent") == []
    evaluate_warnings(st, TODAY, now=t0 + 25 * 3600)
    (w,) = live(st, "gateway_silent")
    assert (w["subject"], w["gateway_id"], w["project_code"]) == ("GW-1", "GW-1", site.project_code)
    assert w["evidence"]["silent_hours"] >= 25 and w["evidence"]["limit_hours"] == 24
    site.gw.add(1)
    site.flush()
    evaluate_warnings(st, TODAY, now=time.time() + 60)
    assert live(st, "gateway_silent") == []
    # a completed project's gateway is not warned
    st.add_status_period(site.project_code, validate_period(
        {"status": "004", "from_date": "2026-03-01", "operator": "x"}), 0.0)
    evaluate_warnings(st, TODAY, now=time.time() + 3 * 86400)
    assert live(st, "gateway_silent") == []


def test_tamper_alerts_are_warnings(site):
    st = site.store
    site.gw.add(3)
    out = site.ingestor.handle("rn/v1/gw/GW-1/punches", site.gw.sealed_batch([site.gw.entries[0], site.gw.entries[2]]))
    assert out.verdict.ok
    st.sweep(time.time() + 1000, 0)
    (alert,) = st.alerts("open", None, 10, 0)
    evaluate_warnings(st, TODAY)
    (w,) = live(st, "tamper_alert")
    assert (w["subject"], w["evidence"]["alert_id"], w["evidence"]["kind"]) == (
        f"alert:{alert['alert_id']}", alert["alert_id"], "chain_gap")
    assert w["project_code"] == site.project_code and w["gateway_id"] == "GW-1"
    evaluate_warnings(st, TODAY)
    assert len(st.warnings(None, None, "tamper_alert", 10, 0)) == 1
    st.set_alert_state(alert["alert_id"], "resolved", time.time())
    evaluate_warnings(st, TODAY)
    assert live(st, "tamper_alert") == []


def test_hook_rate_limits_and_runs_in_the_sweep_loop(store):
    hook = WarningHook(store, WarningRules(evaluate_interval_s=300))
    assert hook(now=1000.0) is not None and hook(now=1100.0) is None and hook(now=1300.0) is not None
    assert hook.runs == 2
    called = threading.Event()
    sweeper = Sweeper(store, 60.0, 0.05, hooks=[lambda: 1 / 0, called.set]).start()  # a failing hook is logged
    try:
        assert called.wait(10)
    finally:
        sweeper.stop()


def test_warning_rules_typed_config():
    assert DEFAULT_WARNING_RULES.norm("safety_officer") == 0.8 and DEFAULT_WARNING_RULES.gateway_silent_s == 86400
    r = decode_config(WarningRules, {"safety_officer_norm": 0.9, "on_duty_min_days": 3}, "receiver.warnings")
    assert (r.norm("safety_officer"), r.norm("project_manager"), r.on_duty_min_days) == (0.9, 0.8, 3)
    with pytest.raises(ConfigError, match="safty_officer_norm"):
        decode_config(WarningRules, {"safty_officer_norm": 0.9}, "receiver.warnings")
    with pytest.raises(ConfigError):
        decode_config(WarningRules, {"technical_lead_norm": 1.5}, "receiver.warnings")
