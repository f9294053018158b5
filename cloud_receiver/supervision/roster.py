"""The current roster of a project, from the stored ``roster_changes`` messages.

The latest change per ``(project_code, worker_ref)`` wins (by ``changed_at``, then
``received_at``, then ``change_id``: deterministic on both dialects); the store query is
:meth:`cloud_receiver.store.Store.roster`. A person is *on the roster of a day* when the
entry date (if known) is on or before it and the exit date (if any) on or after it: on
the exit day itself they are still on it (they may punch out), after it they are not.
An ``exit`` change without an ``exit_date`` exits on the China-local date it was made.
Exited people keep their records; they only leave the roster.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Mapping

from shared_schema.wire import parse_utc

from .rules import AttendanceRules, DEFAULT_RULES


@dataclass(frozen=True)
class RosterEntry:
    project_code: str
    worker_ref: str
    name: str
    id_type: str
    id_number: str
    role: str
    post: str | None
    company_code: str
    team_code: str | None
    work_type: str | None
    entry_date: str | None
    exit_date: str | None            # effective exit date (see module doc)
    status: str                      # "active" or "exited" (the latest change is an exit / has an exit date)
    last_action: str
    changed_at: str

    @classmethod
    def from_row(cls, row: Mapping, rules: AttendanceRules = DEFAULT_RULES) -> "RosterEntry":
        exit_date = row.get("exit_date")
        if row["action"] == "exit" and not exit_date:
            exit_date = parse_utc(row["changed_at"]).astimezone(rules.tz).date().isoformat()
        return cls(project_code=row["project_code"], worker_ref=row["worker_ref"], name=row["name"],
                   id_type=row["id_type"], id_number=row["id_number"], role=row["role"], post=row.get("post"),
                   company_code=row["company_code"], team_code=row.get("team_code"),
                   work_type=row.get("work_type"), entry_date=row.get("entry_date"), exit_date=exit_date,
                   status="exited" if exit_date else "active", last_action=row["action"],
                   changed_at=row["changed_at"])

    def active_on(self, date: str) -> bool:
        if self.entry_date and date < self.entry_date:
            return False
        return not (self.exit_date and date > self.exit_date)

    def public_dict(self) -> dict:
        """Everything but the ID number (for API listings)."""
        d = asdict(self)
        d.pop("id_number")
        return d


def current_roster(store, project_code: str, rules: AttendanceRules = DEFAULT_RULES) -> list[RosterEntry]:
    return [RosterEntry.from_row(r, rules) for r in store.roster(project_code)]
