"""Registry and ledger rows → the national platform's objects (pure), and migration 10."""

from __future__ import annotations

import base64

import pytest

from cloud_receiver.store import open_store
from cloud_receiver.store.migrations import MIGRATIONS
from cloud_receiver.upstream import mapping

PUNCH = {"type": "punch", "kind": "work", "worker_ref": "W1", "direction": "in", "gate_id": "gate-2",
         "device_time": "2026-03-02T00:30:05.000000Z"}
MEMBER = {"id_type": "01", "id_number": "11010519491231002X", "name": "张三", "role": "worker", "work_type": "020",
          "company_code": "C1", "team_code": "T1", "details_json": '{"company_name": "甲劳务", "team_name": "钢筋班"}',
          "head_image_b64": None}


@pytest.mark.parametrize("row, expected", [
    (PUNCH, True),
    ({**PUNCH, "kind": "manual"}, True),
    ({**PUNCH, "kind": "non_work"}, False),               # a passage, not attendance
    ({**PUNCH, "type": "rejected", "kind": None}, False),
    ({**PUNCH, "type": "gate_event", "kind": None}, False),
    ({**PUNCH, "worker_ref": None}, False),
])
def test_only_work_and_manual_punches_are_attendance(row, expected):
    assert mapping.is_attendance(row) is expected


def test_attendance_record_in_china_time_without_image():
    rec = mapping.attendance_record({**PUNCH, "kind": "manual", "direction": "out"}, MEMBER, (113.1, 23.0))
    assert rec == {"idCardType": "01", "idCardNumber": "11010519491231002X", "date": "2026-03-02 08:30:05",
                   "direction": "02", "image": "", "channel": "gate-2", "attendType": "02", "lng": 113.1, "lat": 23.0}
    assert "lng" not in mapping.attendance_record(PUNCH, MEMBER, None)


def test_head_image_only_up_to_50_kb():
    small = base64.b64encode(b"\xff\xd8\xff" + b"0" * 1000).decode()
    big = base64.b64encode(b"\xff\xd8\xff" + b"0" * (50 * 1024)).decode()
    assert mapping.worker_payload("P", {**MEMBER, "head_image_b64": small}, "7")["workerList"][0]["headImage"] == small
    assert "headImage" not in mapping.worker_payload("P", {**MEMBER, "head_image_b64": big}, "7")["workerList"][0]
    assert mapping.head_image("not base64!") == ""


def test_names_from_details_and_the_management_team():
    info = mapping.details(MEMBER)
    assert mapping.company_payload("P", "C1", info)["corpName"] == "甲劳务"
    assert mapping.team_payload("P", "C1", "T1", info)["teamName"] == "钢筋班"
    assert mapping.team_payload("P", "C1", None, info)["teamName"] == mapping.MANAGEMENT_TEAM
    assert mapping.company_payload("P", "C9", {})["corpName"] == "C9"
    assert mapping.split_team_key(mapping.team_key("C1", None)) == ("C1", None)
    assert mapping.split_entry_exit_key(mapping.entry_exit_key(12, "exit", "2026-03-01")) == (12, "exit", "2026-03-01")


def test_objects_of_a_membership_in_order_with_no_id_number():
    m = {"person_id": 5, "company_code": "C1", "team_code": "T1", "entry_date": "2026-03-01",
         "exit_date": "2026-04-01", "updated_at": 1.0}
    objs = mapping.objects_of_membership(m)
    assert [k for k, _, _ in objs] == ["company", "team", "worker", "entry_exit", "entry_exit"]
    assert [key for _, key, _ in objs] == ["C1", "C1/T1", "5", "5/entry/2026-03-01", "5/exit/2026-04-01"]


def test_migration_10_on_both_dialects(store_url):
    assert all((10, "national platform upload state") == MIGRATIONS[d][9][:2] for d in MIGRATIONS)
    s = open_store(store_url, migrate=True)
    try:
        assert s.schema_version() >= 10
        assert s.upstream_status() == {"objects": {}, "blocked": {}, "attendance": {}, "projects": [],
                                       "failures": [], "retrying": []}
    finally:
        s.close()
