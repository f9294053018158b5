"""The client against the platform emulator over real HTTP: asynchronous writes, the order rules,
"already exists", sensitive fields encrypted on the wire, nothing personal in the logs."""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import threading
import urllib.parse

import pytest

from cloud_receiver.upstream.national import (
    CST,
    NationalClient,
    NationalCredentials,
    UpstreamError,
    decrypt_sensitive,
)
from devtools.national_platform import NationalPlatform

from .conftest import APPID, SECRET

ID_A = "440106199001011234"
ID_B = "44010619850203567X"
CARD = "6222020200112233445"
PROJECT = "44060620230801001"
CORP = "91440101MA5CXXXX1A"


def wait(client: NationalClient, serial: str, polls: int = 10):
    for _ in range(polls):
        result = client.result(serial)
        if result.status != "pending":
            return result
    raise AssertionError("still pending")


def add(client, method, data):
    return wait(client, client.submit(method, data))


def now_cst(**delta) -> dt.datetime:
    return dt.datetime.now(CST) + dt.timedelta(**delta)


def company(client, corp=CORP):
    return add(client, "ProjectSubContractor.Add", {"projectCode": PROJECT, "corpCode": corp, "corpName": "甲劳务公司",
                                                    "corpType": "008", "pmIDCardType": "01", "pmIDCardNumber": ID_B})


def team(client, name="钢筋班", corp=CORP) -> int:
    result = add(client, "Team.Add", {"projectCode": PROJECT, "corpCode": corp, "corpName": "甲劳务公司",
                                      "teamName": name, "responsiblePersonIDNumber": ID_B})
    assert result.status == "succeeded" and not result.already_exists, result
    return result.data["teamSysNo"]


def worker(client, team_no, id_number=ID_A, **extra):
    w = {"workerName": "张三", "isTeamLeader": 0, "idCardType": "01", "idCardNumber": id_number,
         "workType": "020", "workerRole": 20, "payRollBankCardNumber": CARD, **extra}
    return add(client, "ProjectWorker.Add", {"projectCode": PROJECT, "corpCode": CORP, "teamSysNo": team_no,
                                             "workerList": [w]})


def entry(client, team_no, day: dt.date, type_="1", id_number=ID_A):
    return add(client, "WorkerEntryExit.Add", {"projectCode": PROJECT, "corpCode": CORP, "teamSysNo": team_no,
                                               "workerList": [{"idCardType": "01", "idCardNumber": id_number,
                                                               "date": day.isoformat(), "type": type_}]})


def punch(client, team_no, when: dt.datetime, id_number=ID_A, direction="01"):
    return add(client, "WorkerAttendance.Add", {"projectCode": PROJECT, "teamSysNo": team_no, "dataList": [
        {"idCardType": "01", "idCardNumber": id_number, "date": when.strftime("%Y-%m-%d %H:%M:%S"),
         "direction": direction, "channel": "gate-1", "attendType": "01"}]})


def test_submit_is_pending_then_succeeded():
    with NationalPlatform(APPID, SECRET, pending_polls=3) as platform:
        client = NationalClient(platform.url, NationalCredentials(APPID, SECRET))
        serial = client.submit("ProjectSubContractor.Add", {"projectCode": PROJECT, "corpCode": CORP,
                                                            "corpName": "甲"})
        assert isinstance(serial, str) and serial
        statuses = [client.result(serial).status for _ in range(4)]
        assert statuses == ["pending", "pending", "pending", "succeeded"]
        assert client.result(serial).status == "succeeded"  # stays final
        assert platform.companies[0]["corpCode"] == CORP


def test_team_add_returns_the_platform_team_number(client, platform):
    company(client)
    first, second = team(client, "钢筋班"), team(client, "木工班")
    assert isinstance(first, int) and first != second
    assert [t["teamSysNo"] for t in platform.teams] == [first, second]
    assert platform.teams[0]["responsiblePersonIDNumber"] == ID_B  # decrypted at the platform
    rows = client.query("Team.Query", {"projectCode": PROJECT})["rows"]
    assert sorted(r["teamSysNo"] for r in rows) == sorted([first, second])


def test_the_whole_order_company_team_worker_entry_attendance(client, platform):
    company(client)
    team_no = team(client)
    assert worker(client, team_no).status == "succeeded"
    assert entry(client, team_no, now_cst(days=-2).date()).status == "succeeded"
    assert punch(client, team_no, now_cst(minutes=-5)).status == "succeeded"
    assert punch(client, team_no, now_cst(minutes=-1), direction="02").status == "succeeded"
    assert platform.workers[0]["idCardNumber"] == ID_A and platform.workers[0]["payRollBankCardNumber"] == CARD
    assert [a["direction"] for a in platform.attendance] == ["01", "02"]
    assert platform.attendance[0]["idCardNumber"] == ID_A and platform.entry_exits[0]["idCardNumber"] == ID_A


@pytest.mark.parametrize("rule", ["team_without_company", "worker_without_team", "punch_without_worker",
                                  "punch_without_team", "future_punch", "future_entry", "entry_before_history",
                                  "head_image_too_big"])
def test_order_rules_fail_with_the_platform_message(client, platform, rule):
    if rule == "team_without_company":
        result = add(client, "Team.Add", {"projectCode": PROJECT, "corpCode": CORP, "teamName": "钢筋班"})
        words = "company not found"
    else:
        company(client)
        team_no = team(client)
        if rule == "worker_without_team":
            result, words = worker(client, team_no + 1000), "team not found"
        elif rule == "punch_without_worker":
            result, words = punch(client, team_no, now_cst(minutes=-5)), "worker not found"
        elif rule == "punch_without_team":
            worker(client, team_no)
            result, words = punch(client, 999, now_cst(minutes=-5)), "team not found"
        elif rule == "future_punch":
            worker(client, team_no)
            result, words = punch(client, team_no, now_cst(hours=1)), "future"
        elif rule == "future_entry":
            worker(client, team_no)
            result, words = entry(client, team_no, now_cst(days=2).date()), "future"
        elif rule == "entry_before_history":
            worker(client, team_no)
            assert entry(client, team_no, now_cst(days=-3).date()).status == "succeeded"
            result, words = entry(client, team_no, now_cst(days=-10).date(), "0"), "earlier than"
        else:
            image = base64.b64encode(b"\xff" * (51 * 1024)).decode()
            result, words = worker(client, team_no, headImage=image), "50 KB"
    assert result.status == "failed" and not result.already_exists
    assert words in result.message
    assert ID_A not in result.message


def test_a_head_image_within_50_kb_is_accepted(client, platform):
    company(client)
    image = base64.b64encode(b"\xff" * (50 * 1024)).decode()
    assert worker(client, team(client), headImage=image).status == "succeeded"


def test_synchronous_refusals_are_rejected_errors_with_the_platform_message(client):
    for method, data, words in [("Payroll.Frobnicate", {}, "method not supported"),
                                ("AsyncHandleResult.Query", {"requestSerialCode": "nope"}, "unknown requestSerialCode")]:
        with pytest.raises(UpstreamError) as e:
            client.call(method, data)
        assert (e.value.reason, e.value.retryable) == ("rejected", False)
        assert words in e.value.detail and e.value.code == "1"


def test_unknown_appid_is_rejected(platform):
    client = NationalClient(platform.url, NationalCredentials("other-app", SECRET))
    with pytest.raises(UpstreamError) as e:
        client.query("Team.Query", {"projectCode": PROJECT})
    assert e.value.reason == "rejected" and "unknown appid" in e.value.detail


def test_re_sent_company_team_worker_are_already_exists_successes(client, platform):
    assert company(client).already_exists is False
    again = company(client)
    assert (again.status, again.already_exists) == ("succeeded", True)
    team_no = team(client)
    again = add(client, "Team.Add", {"projectCode": PROJECT, "corpCode": CORP, "teamName": "钢筋班"})
    assert (again.status, again.already_exists) == ("succeeded", True)
    assert worker(client, team_no).already_exists is False
    again = worker(client, team_no)
    assert (again.status, again.already_exists) == ("succeeded", True)
    assert (len(platform.companies), len(platform.teams), len(platform.workers)) == (1, 1, 1)


def test_id_and_card_numbers_are_encrypted_on_the_wire_and_decrypted_at_the_platform(client, platform):
    company(client)
    team_no = team(client)
    worker(client, team_no)
    worker(client, team_no, id_number=ID_B)
    punch(client, team_no, now_cst(minutes=-3))
    bodies = [raw for _, raw in platform.received]
    assert len(bodies) > 6
    for raw in bodies:
        for secret in (ID_A, ID_B, CARD, SECRET):
            assert secret.encode() not in raw
            assert urllib.parse.quote(secret).encode() not in raw
    sent = [dict(urllib.parse.parse_qsl(raw.decode())) for _, raw in platform.received]
    worker_forms = [f for f in sent if f["method"] == "ProjectWorker.Add"]
    encrypted = json.loads(worker_forms[0]["data"])["workerList"][0]["idCardNumber"]
    assert encrypted != ID_A and decrypt_sensitive({"idCardNumber": encrypted}, SECRET)["idCardNumber"] == ID_A
    assert {w["idCardNumber"] for w in platform.workers} == {ID_A, ID_B}
    # queries go out encrypted too, and come back encrypted
    rows = client.query("ProjectWorker.Query", {"projectCode": PROJECT, "idCardNumber": ID_B})["rows"]
    assert len(rows) == 1 and rows[0]["idCardNumber"] != ID_B
    assert decrypt_sensitive(rows[0], SECRET)["idCardNumber"] == ID_B


def test_the_client_sends_the_reference_vector_bytes(platform, vector_data):
    """Fixed clock and nonce: the form on the wire is the reference vector, signed identically."""
    client = NationalClient(platform.url, NationalCredentials(APPID, SECRET),
                            clock=lambda: 1714519805.0, nonce=lambda: "abc123")
    data = json.loads(vector_data)
    data["dataList"][0]["idCardNumber"] = ID_A
    client.submit("WorkerAttendance.Add", data)
    form = dict(urllib.parse.parse_qsl(platform.received[-1][1].decode()))
    assert form["data"].encode() == vector_data and form["timestamp"] == "20240501073005"
    assert form["sign"] == "f11cb4a27970b7750d79b1ace74800ebf4413d6813d9094279ed7a5616480630"


def test_a_wrong_secret_is_a_bad_sign_error(platform):
    client = NationalClient(platform.url, NationalCredentials(APPID, "X" * 32))
    with pytest.raises(UpstreamError) as e:
        client.submit("ProjectSubContractor.Add", {"projectCode": PROJECT, "corpCode": CORP, "corpName": "甲"})
    assert e.value.reason == "bad_sign" and e.value.retryable
    assert "X" * 32 not in str(e.value) and platform.companies == []


def test_nothing_personal_or_secret_in_the_logs(client, platform, caplog):
    caplog.set_level(logging.DEBUG)
    company(client)
    team_no = team(client)
    worker(client, team_no)
    platform.fault = "http_500"
    with pytest.raises(UpstreamError):
        worker(client, team_no)
    messages = [r.getMessage() for r in caplog.records]
    assert any("ProjectWorker.Add" in m for m in messages)
    for m in messages:
        for secret in (ID_A, ID_B, CARD, SECRET):
            assert secret not in m


def test_the_client_is_thread_safe(client, platform):
    company(client)
    team_no = team(client)
    ids = [f"4401061990010{n:04d}X" for n in range(16)]
    errors = []

    def upload(id_number):
        try:
            assert worker(client, team_no, id_number=id_number).status == "succeeded"
        except Exception as e:  # noqa: BLE001 - collected for the assertion below
            errors.append(e)

    threads = [threading.Thread(target=upload, args=(i,)) for i in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert sorted(w["idCardNumber"] for w in platform.workers) == sorted(ids)
