"""Roster changes decided at the city, down to the gateways of a project.

A change (a worker's exit, a record correction, a project stopped/resumed) is numbered per
project — version 1, 2, 3 ... — and stored (``roster_down``). Delivery is pull-based and so
survives any outage: each gateway reports the version it has applied
(:class:`~shared_schema.messages.RosterDownState` on its roster topic: on connect, every
poll interval, and again while more remain) and the receiver answers on the gateway's ack
topic with the following changes in order (:class:`~shared_schema.messages.RosterDownBatch`,
signed like every ack). The gateway applies each version once and in order; the city sees
each gateway's applied version (``gateway_roster_down``).

The gateway stays the authority on its records: an exit decided here takes effect when
the gateway applies it, and the membership closes when the gateway's own exit
RosterChange comes back up.
"""

from __future__ import annotations

import datetime as _dt
import logging

from shared_schema import SCHEMA_VERSION
from shared_schema.messages import (MAX_DOWN_CHANGES, FieldValue, RosterDownBatch, RosterDownChange,
                                    RosterDownState)
from shared_schema.wire import canonical_json, decode, format_utc, loads_strict, to_wire

log = logging.getLogger(__name__)

# what a city correction may change (the gateway validates the corrected record in full)
CORRECTABLE = ("name", "phone", "address", "issuing_authority", "nation", "education", "emergency_contact",
               "emergency_phone", "company_code", "company_name", "company_kind", "team_code", "team_name",
               "team_leader", "work_type", "role", "post", "certificate_number", "certificate_company")


def _now() -> str:
    return format_utc(_dt.datetime.now(_dt.timezone.utc))


def _issue(store, project_code: str, *, action: str, operator: str, now: float, **fields) -> int:
    issued_at = _now()

    def body(version: int) -> str:
        change = RosterDownChange(version=version, issued_at=issued_at, action=action, operator=operator, **fields)
        wire = to_wire(change)
        decode(RosterDownChange, wire)        # the gateway decodes strictly: never store what it would refuse
        return canonical_json(wire).decode("utf-8")

    body(1)                                   # validate before taking a version number
    version = store.add_roster_down(project_code, body, action, issued_at, operator, now)
    log.info("roster down change %s v%s issued for project %s", action, version, project_code)
    return version


def issue_exit(store, project_code: str, id_type: str, id_number: str, exit_date: str, *, operator: str,
               reason: str | None, now: float) -> int:
    """The city ends a person's membership on the project (e.g. 违规清退); → version.
    ValueError for an impossible date."""
    _dt.date.fromisoformat(exit_date)
    return _issue(store, project_code, action="exit", operator=operator, now=now, id_type=id_type,
                  id_number=id_number, exit_date=exit_date, corrections=(), reason=reason)


def issue_correction(store, project_code: str, id_type: str, id_number: str, corrections: dict[str, str | None], *,
                     operator: str, reason: str | None, now: float) -> int:
    """Correct fields of a person's record on the project's gateways; ValueError for a field
    the city may not correct."""
    bad = sorted(set(corrections) - set(CORRECTABLE))
    if bad or not corrections:
        raise ValueError(f"not correctable from the city: {bad}" if bad else "nothing to correct")
    fv = tuple(FieldValue(k, v) for k, v in sorted(corrections.items()))
    return _issue(store, project_code, action="correct", operator=operator, now=now, id_type=id_type,
                  id_number=id_number, exit_date=None, corrections=fv, reason=reason)


def issue_project_status(store, project_code: str, stopped: bool, *, operator: str, reason: str | None,
                         now: float) -> int:
    """停工 / 复工 of the whole project."""
    return _issue(store, project_code, action="project_stopped" if stopped else "project_resumed",
                  operator=operator, now=now, id_type=None, id_number=None, exit_date=None, corrections=(),
                  reason=reason)


def answer(store, state: RosterDownState, now: float, limit: int = MAX_DOWN_CHANGES) -> RosterDownBatch:
    """The reply to a gateway's state report (the caller checked gateway and project)."""
    store.set_gateway_roster_down(state.gateway_id, state.project_code, state.applied_version, now)
    bodies, latest = store.roster_down_after(state.project_code, state.applied_version, limit)
    changes = tuple(decode(RosterDownChange, loads_strict(b.encode("utf-8"))) for b in bodies)
    return RosterDownBatch(v=SCHEMA_VERSION, type="roster_down_batch", gateway_id=state.gateway_id,
                           project_code=state.project_code, changes=changes, latest_version=latest, sent_at=_now())
