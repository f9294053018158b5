"""From the city registry and the ledger to the national platform's objects (pure functions).

Objects and their local keys (``upstream_objects.local_key``; never an ID number):

=============  =====================================  =====================================
kind           local key                              national method
=============  =====================================  =====================================
company        company code (统一社会信用代码)          ``ProjectSubContractor.Add``
team           ``<company code>/<team code>``          ``Team.Add`` (the platform's teamSysNo)
worker         the registry's person_id                ``ProjectWorker.Add``
entry_exit     ``<person_id>/entry|exit/<date>``       ``WorkerEntryExit.Add``
=============  =====================================  =====================================

A membership without a team (a manager) belongs to the company's management team
(``<company code>/-``, named :data:`MANAGEMENT_TEAM`): the platform numbers workers by team.
Company and team names come from the roster change's details (``company_name``, ``team_name``,
``company_kind``; RosterChange ``details``) when the gateway sent them, else the codes stand in.

Attendance (``WorkerAttendance.Add``) is made of ledger rows of ``type = 'punch'`` and kind
``work`` or ``manual`` only: ``non_work`` passages, rejected attempts and gate events are not
attendance (city notice), nor is a punch the gateway later found nobody passed for (a
``not_passed`` gate event refers to it), as in the city's own attendance days. Times go as China time ``yyyy-MM-dd HH:mm:ss``; ``image`` stays
empty: face snapshots never leave the gateway. Code tables the reference leaves open
(:data:`ATTEND_TYPES`, :data:`ENTRY_EXIT_TYPES`, :data:`CORP_TYPES`) are data here, one place
to adapt for a provincial variant.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json

from shared_schema.wire import parse_utc

CST = dt.timezone(dt.timedelta(hours=8), "CST")
KINDS = ("company", "team", "worker", "entry_exit")          # the platform's order
METHODS = {"company": "ProjectSubContractor.Add", "team": "Team.Add", "worker": "ProjectWorker.Add",
           "entry_exit": "WorkerEntryExit.Add", "attendance": "WorkerAttendance.Add"}
ATTENDANCE_KINDS = ("work", "manual")
DIRECTIONS = {"in": "01", "out": "02"}
# source of a punch: the device, or entered by hand at the gateway (补录); assumption, per adapter
ATTEND_TYPES = {"work": "01", "manual": "02"}
# entry/exit type: public sources disagree (0/1 either way): a named enum mapped per adapter
ENTRY_EXIT_TYPES = {"entry": "1", "exit": "0"}
WORKER_ROLES = {"manager": "10", "worker": "20"}
# 参建类型 of ProjectSubContractor (assumption: the 2019 standard's 009 施工总承包 / 008 劳务分包)
CORP_TYPES = {"general_contractor": "009", "subcontractor": "008"}
MANAGEMENT_TEAM = "管理人员"
HEAD_IMAGE_MAX_BYTES = 50 * 1024


# ---- keys ---------------------------------------------------------------------------------------

def company_key(company_code: str) -> str:
    return company_code


def team_key(company_code: str, team_code: str | None) -> str:
    return f"{company_code}/{team_code or '-'}"


def split_team_key(key: str) -> tuple[str, str | None]:
    company, _, team = key.rpartition("/")
    return company, (None if team == "-" else team)


def worker_key(person_id) -> str:
    return str(int(person_id))


def entry_exit_key(person_id, kind: str, date: str) -> str:
    return f"{int(person_id)}/{kind}/{date}"


def split_entry_exit_key(key: str) -> tuple[int, str, str]:
    pid, kind, date = key.split("/")
    return int(pid), kind, date


def objects_of_membership(m: dict) -> list[tuple[str, str, float]]:
    """The objects ``(kind, local_key, source_at)`` one membership row needs uploaded, in order."""
    at = float(m["updated_at"])
    out = [("company", company_key(m["company_code"]), at),
           ("team", team_key(m["company_code"], m["team_code"]), at),
           ("worker", worker_key(m["person_id"]), at)]
    if m.get("entry_date"):
        out.append(("entry_exit", entry_exit_key(m["person_id"], "entry", m["entry_date"]), at))
    if m.get("exit_date"):
        out.append(("entry_exit", entry_exit_key(m["person_id"], "exit", m["exit_date"]), at))
    return out


def is_attendance(row: dict) -> bool:
    """A ledger row the platform takes as attendance (see the module docstring)."""
    return (row["type"] == "punch" and row.get("kind") in ATTENDANCE_KINDS and bool(row.get("worker_ref"))
            and row.get("direction") in DIRECTIONS and row.get("passage") != "not_passed")


# ---- payloads -----------------------------------------------------------------------------------

def details(row: dict | None) -> dict:
    if not row or not row.get("details_json"):
        return {}
    try:
        d = json.loads(row["details_json"])
    except (TypeError, ValueError):
        return {}
    return d if isinstance(d, dict) else {}


def company_payload(project_code: str, company_code: str, info: dict) -> dict:
    out = {"projectCode": project_code, "corpCode": company_code, "corpName": info.get("company_name") or company_code}
    if info.get("company_kind") in CORP_TYPES:
        out["corpType"] = CORP_TYPES[info["company_kind"]]
    return out


def team_name(team_code: str | None, info: dict) -> str:
    if team_code is None:
        return MANAGEMENT_TEAM
    return info.get("team_name") or team_code


def team_payload(project_code: str, company_code: str, team_code: str | None, info: dict) -> dict:
    out = {"projectCode": project_code, "corpCode": company_code,
           "corpName": info.get("company_name") or company_code, "teamName": team_name(team_code, info)}
    if team_code and info.get("team_leader"):
        out["teamLeaderName"] = info["team_leader"]
    return out


def head_image(b64: str | None) -> str:
    """The registry's head image when it is valid Base64 of at most 50 KB, else ""."""
    if not b64:
        return ""
    try:
        size = len(base64.b64decode(b64, validate=True))
    except (binascii.Error, ValueError):
        return ""
    return b64 if 0 < size <= HEAD_IMAGE_MAX_BYTES else ""


def worker_payload(project_code: str, m: dict, team_sys_no: str) -> dict:
    """``ProjectWorker.Add`` for one membership (``m``: the store's upstream_person_membership row)."""
    info = details(m)
    w = {"workerName": m["name"], "idCardType": m["id_type"], "idCardNumber": m["id_number"],
         "workRole": WORKER_ROLES.get(m["role"], "20"), "isTeamLeader": 0}
    if m.get("work_type"):
        w["workType"] = m["work_type"]
    if info.get("phone"):
        w["cellPhone"] = info["phone"]
    image = head_image(m.get("head_image_b64"))
    if image:
        w["headImage"] = image
    return {"projectCode": project_code, "corpCode": m["company_code"],
            "corpName": info.get("company_name") or m["company_code"], "teamSysNo": team_sys_no,
            "teamName": team_name(m["team_code"], info), "workerList": [w]}


def entry_exit_payload(project_code: str, m: dict, team_sys_no: str, kind: str, date: str) -> dict:
    return {"projectCode": project_code, "corpCode": m["company_code"],
            "corpName": details(m).get("company_name") or m["company_code"], "teamSysNo": team_sys_no,
            "dataList": [{"idCardType": m["id_type"], "idCardNumber": m["id_number"], "date": date,
                          "type": ENTRY_EXIT_TYPES[kind]}]}


def china_time(device_time: str) -> str:
    """A ledger UTC time → ``yyyy-MM-dd HH:mm:ss`` China time."""
    return parse_utc(device_time).astimezone(CST).strftime("%Y-%m-%d %H:%M:%S")


FUTURE_TOLERANCE_S = 300.0    # the platform refuses dates in the future; a little clock skew is not that


def in_future(device_time: str, now: float) -> bool:
    """A punch time ahead of the receiver's clock (a gateway clock set wrong): it waits until it
    is not, instead of making the platform refuse the whole batch it would travel in."""
    return parse_utc(device_time).timestamp() > now + FUTURE_TOLERANCE_S


def attendance_record(row: dict, m: dict, coords: tuple[float, float] | None) -> dict:
    rec = {"idCardType": m["id_type"], "idCardNumber": m["id_number"], "date": china_time(row["device_time"]),
           "direction": DIRECTIONS[row["direction"]], "image": "", "channel": row["gate_id"],
           "attendType": ATTEND_TYPES[row["kind"]]}
    if coords is not None:
        rec["lng"], rec["lat"] = coords
    return rec


def attendance_payload(project_code: str, team_sys_no: str, records: list[dict]) -> dict:
    return {"projectCode": project_code, "teamSysNo": team_sys_no, "dataList": records}
