"""The city worker registry: one person (ID type + number) across projects.

Every accepted :class:`~shared_schema.messages.RosterChange` is kept (``roster_changes``,
which supervision reads) and applied to the registry in the same transaction
(SQL in :mod:`cloud_receiver.store.workers`). What a change does is decided here, purely:

* a change id already stored → ``duplicate`` (a resend; nothing changes);
* ``enroll`` with no active membership of the person on the project → a new active
  membership (``applied``); with one of the *same role* → that membership is updated
  (two gateways of one project enrolling the same person is one membership, ``applied``);
  with one of *another role* → ``conflict`` (one ID, one role per project at a time):
  recorded in the person's history, the membership is left alone;
* ``update`` / ``exit`` of the active membership the change names (worker_ref) →
  updated / closed (``applied``); of anything else → ``conflict``.

Conflicts are still acknowledged as stored (the gateway must not resend forever); the
gateway learns the outcome from :class:`~shared_schema.messages.RosterAck` and the city
sees it in the person's history.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

APPLIED, DUPLICATE, CONFLICT = "applied", "duplicate", "conflict"
MEMBERSHIP_FIELDS = ("worker_ref", "gateway_id", "role", "post", "company_code", "team_code", "work_type",
                     "entry_date", "exit_date")


@dataclass(frozen=True)
class Decision:
    outcome: str                   # applied / conflict (duplicate is decided by the insert)
    op: str | None                 # insert / update / close / None
    detail: str | None = None


def decide(change: dict[str, Any], active: dict[str, Any] | None) -> Decision:
    """What ``change`` does given the person's active membership on its project (or None)."""
    action = change["action"]
    if action == "enroll":
        if active is None:
            return Decision(APPLIED, "insert")
        if active["role"] == change["role"]:
            return Decision(APPLIED, "update")
        return Decision(CONFLICT, None, f"already active on the project as {active['role']}")
    if active is None:
        return Decision(CONFLICT, None, f"{action} without an active membership")
    if active["worker_ref"] != change["worker_ref"]:
        return Decision(CONFLICT, None, f"{action} names another record of the person on the project")
    return Decision(APPLIED, "close" if action == "exit" else "update")


def person_view(person: dict | None, memberships: list[dict], history: list[dict]) -> dict | None:
    """One person as the API shows it (callers mask the ID number unless the role needs it)."""
    if person is None:
        return None
    return {**person, "memberships": memberships, "history": history,
            "active_projects": sorted(m["project_code"] for m in memberships if m["status"] == "active")}
