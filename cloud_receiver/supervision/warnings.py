"""Supervision warnings (issue 6): each has its rule id, a subject (what it is about), evidence
(JSON), a state (open → acknowledged → resolved) and first_seen / last_seen.

:func:`evaluate_warnings` computes every condition that holds now and hands them to
:meth:`Store.sync_warnings`, which is idempotent: a live warning is refreshed, never
duplicated; one whose condition is gone is resolved (operator ``system``). A warning resolved
by a person while its condition persists comes back as a new warning at the next evaluation.

Rules (ids are stable API values):

* ``no_safety_officer`` / ``no_technical_lead``: a project under construction (status ``003``
  today) with nobody on the roster today in that key post (:mod:`.posts`). Subject: project.
* ``on_duty_below_norm``: a key post's pooled on-duty rate (:mod:`.onduty`) below its norm,
  for the month to date once it has ``on_duty_min_days`` non-stopped days, else for the
  previous month. Projects under construction only. Subject: ``project/post``.
* ``gateway_silent``: nothing heard from a gateway (``gateways.last_seen``, else its
  registration time) for more than ``gateway_silent_s`` (the notice's one-day limit); not
  for gateways of completed (``004``) projects. Subject: gateway.
* ``tamper_alert``: every tamper alert (chain gap, chain mismatch, seq conflict) not resolved
  is mirrored, linked by ``evidence.alert_id``; it resolves when the alert is resolved.
  Subject: ``alert:<id>``.
* ``upstream_refused``: the national platform refused something of the project's upload
  (a company, team, worker, entry/exit or attendance batch; :mod:`cloud_receiver.upstream`),
  with the platform's reason; it resolves when a corrected record goes through. Subject:
  ``<kind>:<project>:<key>`` (codes and the registry's person_id, never an ID number).
"""

from __future__ import annotations

import datetime as _dt
import logging
import time
from dataclasses import asdict, dataclass

from shared_schema.wire import field

from .calendar import COMPLETED, UNDER_CONSTRUCTION, status_on
from .hooks import IntervalHook
from .posts import key_post
from .roster import current_roster
from .rules import DEFAULT_RULES, AttendanceRules
from .service import on_duty_month

log = logging.getLogger(__name__)

NO_SAFETY_OFFICER, NO_TECHNICAL_LEAD = "no_safety_officer", "no_technical_lead"
ON_DUTY_BELOW_NORM, GATEWAY_SILENT, TAMPER_ALERT = "on_duty_below_norm", "gateway_silent", "tamper_alert"
UPSTREAM_REFUSED = "upstream_refused"
RULE_IDS = (NO_SAFETY_OFFICER, NO_TECHNICAL_LEAD, ON_DUTY_BELOW_NORM, GATEWAY_SILENT, TAMPER_ALERT, UPSTREAM_REFUSED)
_NORM = {"default": 0.8, "min": 0.0, "max": 1.0}


@dataclass(frozen=True)
class WarningRules:
    """``[receiver.warnings]``: norms and limits of the warning rules."""

    project_manager_norm: float = field(**_NORM, doc="on-duty rate norm of the project manager (项目经理)")
    technical_lead_norm: float = field(**_NORM, doc="on-duty rate norm of the technical lead (技术负责人)")
    safety_officer_norm: float = field(**_NORM, doc="on-duty rate norm of the safety officer (安全员)")
    quality_lead_norm: float = field(**_NORM, doc="on-duty rate norm of the quality lead (质量负责人)")
    chief_supervisor_norm: float = field(**_NORM, doc="on-duty rate norm of the chief supervisor (总监理工程师)")
    on_duty_min_days: int = field(default=5, min=1, max=31,
                                  doc="non-stopped days of the month to date before it is judged "
                                      "(before that, the previous month is)")
    gateway_silent_s: float = field(default=86400.0, min=60.0, max=30 * 86400.0,
                                    doc="a gateway silent longer than this is warned (notice: one day)")
    evaluate_interval_s: float = field(default=300.0, min=1.0, max=86400.0,
                                       doc="how often the sweep loop re-evaluates warnings")

    def norm(self, post_key: str) -> float:
        return getattr(self, f"{post_key}_norm")

    def as_dict(self) -> dict:
        return asdict(self)


DEFAULT_WARNING_RULES = WarningRules()


def _iso(t: float | None) -> str | None:
    return None if t is None else _dt.datetime.fromtimestamp(t, _dt.UTC).isoformat()


def _prev_month(month: str) -> str:
    first = _dt.date.fromisoformat(month + "-01")
    return (first - _dt.timedelta(days=1)).strftime("%Y-%m")


def _project_conditions(store, project: dict, today: str, rules: WarningRules,
                        attendance: AttendanceRules, found: dict) -> None:
    code = project["project_code"]
    status = status_on(today, project["status"], project["periods"])
    if status != UNDER_CONSTRUCTION:
        return
    active = [m for m in current_roster(store, code, attendance) if m.active_on(today)]
    posts = {}
    for m in active:
        k = key_post(m.post)
        if k:
            posts.setdefault(k, []).append(m.worker_ref)
    for rule, k in ((NO_SAFETY_OFFICER, "safety_officer"), (NO_TECHNICAL_LEAD, "technical_lead")):
        if not posts.get(k):
            found[(rule, code)] = {"project_code": code, "evidence": {
                "date": today, "project_status": status, "post": k, "roster_active": len(active),
                "key_posts_present": {p: len(v) for p, v in sorted(posts.items())}}}
    month = today[:7]
    rep = on_duty_month(store, code, month, attendance, today)
    judged = (int(today[8:]) - len(rep["stopped_dates"])) >= rules.on_duty_min_days
    if not judged:
        rep = on_duty_month(store, code, _prev_month(month), attendance, today)
    for p in rep["posts"]:
        norm = rules.norm(p["key_post"])
        if p["rate"] is not None and p["rate"] < norm:
            people = [{k: x[k] for k in ("worker_ref", "name", "working_days", "present_days", "rate", "absent_dates")}
                      for x in rep["people"] if x["key_post"] == p["key_post"]]
            found[(ON_DUTY_BELOW_NORM, f"{code}/{p['key_post']}")] = {"project_code": code, "evidence": {
                "month": rep["month"], "as_of": rep["as_of"], "post": p["key_post"], "rate": p["rate"], "norm": norm,
                "working_days": p["working_days"], "present_days": p["present_days"],
                "stopped_dates": rep["stopped_dates"], "people": people}}


def evaluate_warnings(store, today: str, *, now: float | None = None, rules: WarningRules = DEFAULT_WARNING_RULES,
                      attendance: AttendanceRules = DEFAULT_RULES) -> dict:
    """Evaluate every rule for ``today`` (China-local ISO date) at epoch ``now``; idempotent.
    → counts ``{"opened", "refreshed", "resolved"}``."""
    now = time.time() if now is None else now
    found: dict = {}
    projects = {p["project_code"]: p for p in store.list_projects()}
    for p in projects.values():
        _project_conditions(store, p, today, rules, attendance, found)
    for g in store.list_gateways():
        p = projects.get(g["project_code"])
        if p is not None and status_on(today, p["status"], p["periods"]) == COMPLETED:
            continue
        heard = g["last_seen"] if g["last_seen"] is not None else g["registered_at"]
        if now - heard > rules.gateway_silent_s:
            found[(GATEWAY_SILENT, g["gateway_id"])] = {
                "project_code": g["project_code"], "gateway_id": g["gateway_id"], "evidence": {
                    "last_seen": _iso(g["last_seen"]), "registered_at": _iso(g["registered_at"]),
                    "silent_hours": round((now - heard) / 3600.0, 2), "limit_hours": rules.gateway_silent_s / 3600.0,
                    "site": g["site"], "backlog": g["backlog"]}}
    for a in store.open_tamper_alerts():
        found[(TAMPER_ALERT, f"alert:{a['alert_id']}")] = {
            "project_code": a["project_code"], "gateway_id": a["gateway_id"], "evidence": {
                "alert_id": a["alert_id"], "kind": a["kind"], "seq": a["seq"], "detail": a["detail"],
                "alert_state": a["state"], "detected_at": _iso(a["detected_at"])}}
    for r in store.upstream_refusals():
        found[(UPSTREAM_REFUSED, f"{r['kind']}:{r['project_code']}:{r['local_key']}")] = {
            "project_code": r["project_code"], "evidence": {
                "kind": r["kind"], "key": r["local_key"], "reason": r["last_error"], "attempts": r["attempts"],
                "refused_at": _iso(r["updated_at"])}}
    out = store.sync_warnings(RULE_IDS, found, now)
    if out["opened"] or out["resolved"]:
        log.info("warnings: %s opened, %s resolved, %s still live", out["opened"], out["resolved"], out["refreshed"])
    return out


class WarningHook(IntervalHook):
    """Call from the receiver's sweep loop: re-evaluates at most every ``evaluate_interval_s``."""

    def __init__(self, store, rules: WarningRules = DEFAULT_WARNING_RULES,
                 attendance: AttendanceRules = DEFAULT_RULES):
        super().__init__(store, rules.evaluate_interval_s, attendance.tz)
        self.rules, self.attendance = rules, attendance

    def evaluate(self, today: str, now: float) -> dict:
        return evaluate_warnings(self.store, today, now=now, rules=self.rules, attendance=self.attendance)


__all__ = ["DEFAULT_WARNING_RULES", "RULE_IDS", "WarningHook", "WarningRules", "evaluate_warnings"]
