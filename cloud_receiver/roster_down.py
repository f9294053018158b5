"""Roster changes decided at the city, down to the gateways of a project.

A change (a worker's exit, a record correction, a project stopped/resumed) is numbered per
project — version 1, 2, 3 ... — and stored (``roster_down``). Delivery is pull-based and so
survives any outage: each gateway reports the version it has applied
(:class:`~shared_schema.messages.RosterDownState` on its roster topic: on connect, every
poll interval, and again while more remain) and the receiver answers on the gateway's ack
topic with the following changes in order (:class:`~shared_schema.messages.RosterDownBatch`,
signed like every ack). The gateway applies each version once and in order; the city sees
each gateway's applied version (``gateway_roster_down``) and what did not take effect there:
every report carries the gateway's last 50 ``skipped`` / ``failed`` outcomes with a detail
naming fields (``roster_down_outcomes``, one row per gateway and version however often it is
reported). :func:`project_view` puts it together for the API.

The gateway stays the authority on its records: an exit decided here takes effect when
the gateway applies it, and the membership closes when the gateway's own exit
RosterChange comes back up.
"""

from __future__ import annotations

import datetime as _dt
import logging
import re

from shared_schema import SCHEMA_VERSION
from shared_schema.idcard import mask_id_number
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


ID_TYPE_RE = re.compile(r"^(0[1-9]|1[0-7])$", re.ASCII)
ID_NUMBER_RE = re.compile(r"^[0-9A-Za-z]{1,32}$", re.ASCII)
DOWN_ACTIONS = ("exit", "correct", "project_stopped", "project_resumed")


class NotMember(LookupError):
    """The person named has no active membership on the project (a typo in the ID, or gone)."""


def _text(body: dict, key: str, limit: int, *, required: bool = False) -> str | None:
    v = body.get(key)
    if v is None and not required:
        return None
    if not isinstance(v, str) or not v.strip() or len(v) > limit or any(not c.isprintable() for c in v):
        raise ValueError(f"{key} must be 1-{limit} printable characters")
    return v.strip()


def issue_request(store, code: str, body: dict, now: float) -> int:
    """Validate one down-change request (the API's JSON body, the CLI's options) and issue it
    through the functions above; ValueError with the reason, :class:`NotMember` when
    the person has no active membership on the project."""
    action = body.get("action")
    if action not in DOWN_ACTIONS:
        raise ValueError(f"action must be one of {', '.join(DOWN_ACTIONS)}")
    operator, reason = _text(body, "operator", 64, required=True), _text(body, "reason", 256)
    if action.startswith("project_"):
        extra = sorted(set(body) & {"id_type", "id_number", "exit_date", "corrections"})
        if extra:
            raise ValueError(f"a project change names no person: {', '.join(extra)}")
        return issue_project_status(store, code, action == "project_stopped", operator=operator,
                                                reason=reason, now=now)
    id_type, id_number = body.get("id_type", "01"), body.get("id_number")
    if not isinstance(id_type, str) or not ID_TYPE_RE.fullmatch(id_type):
        raise ValueError("id_type must be a code 01..17")
    if not isinstance(id_number, str) or not ID_NUMBER_RE.fullmatch(id_number):
        raise ValueError("id_number is required (1-32 letters or digits)")
    id_number = id_number.upper()
    if not any(m["project_code"] == code and m["status"] == "active"
               for m in (store.person(id_type, id_number) or {"memberships": []})["memberships"]):
        raise NotMember("no active membership of this person on the project")
    if action == "exit":
        exit_date = body.get("exit_date")
        if not isinstance(exit_date, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", exit_date, re.ASCII):
            raise ValueError("exit_date=YYYY-MM-DD is required")
        return issue_exit(store, code, id_type, id_number, exit_date, operator=operator, reason=reason,
                                      now=now)
    corrections = body.get("corrections")
    if not isinstance(corrections, dict) or not all(isinstance(v, (str, type(None))) for v in corrections.values()):
        raise ValueError("corrections must be an object of field → text or null")
    return issue_correction(store, code, id_type, id_number, corrections, operator=operator,
                                        reason=reason, now=now)


def answer(store, state: RosterDownState, now: float, limit: int = MAX_DOWN_CHANGES) -> RosterDownBatch:
    """The reply to a gateway's state report (the caller checked gateway and project); records
    its applied version and non-applied outcomes first."""
    ignored = store.record_roster_down_state(state.gateway_id, state.project_code, state.applied_version,
                                             [to_wire(o) for o in state.outcomes], now)
    if ignored:   # e.g. the city's store restored from an older backup: worth a look, not a reason to stall
        log.warning("gateway %s reported outcomes of %s down versions of project %s that were not issued "
                    "as reported (first v%s); ignored", state.gateway_id, len(ignored), state.project_code, ignored[0])
    bodies, latest = store.roster_down_after(state.project_code, state.applied_version, limit)
    changes = tuple(decode(RosterDownChange, loads_strict(b.encode("utf-8"))) for b in bodies)
    return RosterDownBatch(v=SCHEMA_VERSION, type="roster_down_batch", gateway_id=state.gateway_id,
                           project_code=state.project_code, changes=changes, latest_version=latest, sent_at=_now())


def _change_view(row: dict, full: bool) -> dict:
    """One stored change as the API shows it: the ID number masked and correction values left
    out unless ``full`` (they are the person's data); field names always."""
    body = loads_strict(row["body"].encode("utf-8"))
    out = {"version": int(row["version"]), "action": row["action"], "issued_at": row["issued_at"],
           "operator": row["operator"], "reason": body.get("reason")}
    if body.get("id_number") is not None:
        out["id_type"] = body["id_type"]
        out["id_number"] = body["id_number"] if full else mask_id_number(body["id_number"])
    if body.get("exit_date") is not None:
        out["exit_date"] = body["exit_date"]
    if body.get("corrections"):
        out["corrections"] = ({c["name"]: c["value"] for c in body["corrections"]} if full
                              else sorted(c["name"] for c in body["corrections"]))
    return out


def project_view(store, code: str, *, limit: int, offset: int, full: bool, iso=lambda t: t) -> dict:
    """The project's down changes, newest first, each with every gateway's state of it:
    ``applied``; ``skipped`` / ``failed`` with the gateway's detail; ``pending`` (the gateway
    has not reported that far, or never reported)."""
    rows, total = store.roster_down_page(code, limit, offset)
    gateways = store.roster_down_gateways(code)
    latest = store.roster_down_after(code, 0, 0)[1]
    outcomes: dict[tuple[str, int], dict] = {}
    if rows:
        for o in store.roster_down_outcomes(code, int(rows[-1]["version"]), int(rows[0]["version"])):
            outcomes[(o["gateway_id"], int(o["version"]))] = o
    changes = []
    for row in rows:
        view, v = _change_view(row, full), int(row["version"])
        states = []
        for g in gateways:
            o = outcomes.get((g["gateway_id"], v))
            if o is not None:
                states.append({"gateway_id": g["gateway_id"], "status": o["status"], "detail": o["detail"],
                               "reported_at": iso(o["reported_at"])})
            else:
                done = g["applied_version"] is not None and v <= int(g["applied_version"])
                states.append({"gateway_id": g["gateway_id"], "status": "applied" if done else "pending"})
        view["gateways"] = states
        view["problems"] = sum(s["status"] in ("skipped", "failed") for s in states)
        changes.append(view)
    return {"project_code": code, "latest_version": latest, "total": total, "limit": limit, "offset": offset,
            "gateways": [{"gateway_id": g["gateway_id"], "applied_version": g["applied_version"],
                          "reported_at": iso(g["reported_at"])} for g in gateways],
            "changes": changes}


# ---- CLI: ``cloud-receiver roster-down ...`` (wired in cloud_receiver/cli.py) -----------------
def add_cli(sub) -> None:
    p = sub.add_parser("roster-down", help="issue a roster change to a project's gateways "
                                           "(exit, correct, project_stopped, project_resumed)")
    p.add_argument("--project-code", required=True)
    p.add_argument("--action", choices=DOWN_ACTIONS, help="the change to issue (required unless --status)")
    p.add_argument("--operator", help="who decides (required unless --status)")
    p.add_argument("--status", action="store_true",
                   help="issue nothing: show the project's last 50 changes and what each gateway made of them "
                        "(applied / pending / skipped / failed with the fields concerned; IDs masked)")
    p.add_argument("--reason")
    p.add_argument("--id-type", default=None, help="ID type code (default 01, resident ID)")
    p.add_argument("--id-number", help="exit / correct: the person (never logged)")
    p.add_argument("--exit-date", help="exit: YYYY-MM-DD")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="correct: a field and its new value (FIELD= clears it); repeat for more")


def cli_body(args) -> dict:
    """The CLI's options as the API's JSON body (same validation: :func:`issue_request`)."""
    body = {"action": args.action, "operator": args.operator}
    for key, value in (("reason", args.reason), ("id_type", args.id_type), ("id_number", args.id_number),
                       ("exit_date", args.exit_date)):
        if value is not None:
            body[key] = value
    if args.set:
        pairs = [s.partition("=") for s in args.set]
        if any(not sep for _, sep, _ in pairs):
            raise ValueError("--set takes FIELD=VALUE")
        body["corrections"] = {k.strip(): (v if v != "" else None) for k, _, v in pairs}
    return body


def status_text(view: dict) -> str:
    """:func:`project_view` as lines for a terminal: one per change, naming the gateways where it
    did not (yet) take effect."""
    gws = ", ".join(f"{g['gateway_id']} v{g['applied_version']}" if g["applied_version"] is not None
                    else f"{g['gateway_id']} never reported" for g in view["gateways"]) or "none"
    lines = [f"project {view['project_code']}: latest version {view['latest_version']}; gateways: {gws}"]
    for c in view["changes"]:
        what = c["action"] + (f" ({', '.join(c['corrections'])})" if c.get("corrections") else "")
        states = [f"{g['gateway_id']} {g['status']}" + (f" ({g['detail']})" if g.get("detail") else "")
                  for g in c["gateways"] if g["status"] != "applied"]
        lines.append(f"v{c['version']} {what} by {c['operator']}: " + ("; ".join(states) or "applied everywhere"))
    return "\n".join(lines)


def cmd(store, args, now: float) -> tuple[int, str]:
    """→ (exit code, message): 0 issued, 1 refused (no active membership), 2 bad input."""
    if args.status:
        return 0, status_text(project_view(store, args.project_code, limit=50, offset=0, full=False))
    if not args.action or not args.operator:
        return 2, "error: --action and --operator are required (or --status to show the project's changes)"
    try:
        version = issue_request(store, args.project_code, cli_body(args), now)
    except NotMember as exc:
        return 1, f"error: {exc}"
    except ValueError as exc:
        return 2, f"error: {exc}"
    return 0, f"issued {args.action} as version {version} of project {args.project_code}"
