"""The worker registry: enroll, update, exit, consent, search, masking, durability, outbox."""

from __future__ import annotations

import base64
import datetime as dt
import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge_agent.roster import (DuplicateWorker, InvalidState, NotFound, ValidationFailed, WorkerRegistry,
                               load_key)
from edge_agent.roster.registry import RegistryError
from roster_helpers import TODAY, manager, record, resident_id
from shared_schema.messages import RosterChange, decode_message


def outbox_changes(reg) -> list[RosterChange]:
    rows = reg._conn.execute("SELECT body FROM outbox ORDER BY seq").fetchall()
    return [decode_message(r[0].encode(), RosterChange) for r in rows]


def test_enroll_commits_the_record_and_its_roster_change_together(registry):
    w = registry.enroll(record(), operator="劳资员A")
    assert w.status == "active" and w.consent is None and w.templates == 0
    assert w.record["id_number"] == w.id_number_masked != resident_id()
    [ch] = outbox_changes(registry)
    assert (ch.action, ch.worker_ref, ch.id_number, ch.operator) == ("enroll", w.worker_ref, resident_id(), "劳资员A")
    assert ch.project_code == "P-ROSTER" and ch.gateway_id == "GW-R1" and ch.work_type == "020"
    assert not ch.face_consent


def test_a_bad_record_saves_nothing(registry):
    with pytest.raises(ValidationFailed) as exc:
        registry.enroll(record(phone="x", id_valid_to="2001-01-01"), operator="op")
    assert {e.field for e in exc.value.errors} == {"phone", "id_valid_to"}
    assert registry.search().total == 0 and outbox_changes(registry) == []


def test_one_id_one_active_record_per_project_and_reenrollment_after_exit(registry):
    w = registry.enroll(record(), operator="op")
    with pytest.raises(DuplicateWorker) as exc:
        registry.enroll(manager(), operator="op")           # same ID, another role: refused too
    assert exc.value.worker_ref == w.worker_ref and exc.value.errors[0].field == "id_number"
    registry.exit(w.worker_ref, {"exit_date": TODAY.isoformat(), "wage_settled": True}, operator="op")
    w2 = registry.enroll(manager(), operator="op")
    assert w2.worker_ref != w.worker_ref
    assert registry.get(w.worker_ref).status == "exited"       # the old record stays
    assert [c.action for c in outbox_changes(registry)] == ["enroll", "exit", "enroll"]


def test_find_latest_by_id_prefers_the_active_record_then_the_latest_exit(registry):
    assert registry.find_latest_by_id("01", resident_id()) is None
    w = registry.enroll(record(), operator="op")
    assert registry.find_latest_by_id("01", resident_id().lower()).worker_ref == w.worker_ref
    registry.exit(w.worker_ref, {"exit_date": TODAY.isoformat(), "wage_settled": True}, operator="op")
    assert registry.find_by_id("01", resident_id()) is None                 # active records only
    got = registry.find_latest_by_id("01", resident_id())
    assert got.worker_ref == w.worker_ref and got.status == "exited"
    w2 = registry.enroll(record(), operator="op")                           # back on the project
    assert registry.find_latest_by_id("01", resident_id()).worker_ref == w2.worker_ref
    registry.exit(w2.worker_ref, {"exit_date": TODAY.isoformat(), "wage_settled": True}, operator="op")
    assert registry.find_latest_by_id("01", resident_id()).worker_ref == w2.worker_ref   # the latest exit


def test_update_revalidates_and_cannot_change_the_id(registry):
    w = registry.enroll(record(), operator="op")
    u = registry.update(w.worker_ref, {"team_code": "T02", "phone": "13700137000"}, operator="op2")
    assert u.record["team_code"] == "T02" and u.version == 2
    with pytest.raises(ValidationFailed) as exc:
        registry.update(w.worker_ref, {"id_number": resident_id(order=5)}, operator="op")
    assert exc.value.errors[0].field == "id_number"
    with pytest.raises(ValidationFailed):
        registry.update(w.worker_ref, {"phone": "bad"}, operator="op")
    assert registry.get(w.worker_ref).record["phone"] == "13700137000"
    ch = outbox_changes(registry)
    assert [c.action for c in ch] == ["enroll", "update"] and ch[1].team_code == "T02"


def test_long_term_id_survives_an_update(registry):
    w = registry.enroll(record(id_valid_to="长期"), operator="op")
    assert registry.update(w.worker_ref, {"team_name": "二班"}, operator="op").record["id_valid_to"] == "long_term"


def test_exit_removes_the_worker_from_the_gallery_at_once_and_keeps_the_record(registry):
    heard = []
    registry.on_change(lambda action, ref: heard.append((action, ref, len(registry.gallery()))))
    w = registry.enroll(record(), operator="op")
    registry.record_consent(w.worker_ref, granted=True, operator="op")
    registry.set_templates(w.worker_ref, np.ones((2, 128)), operator="op")
    assert registry.gallery().workers == [w.worker_ref]
    e = registry.exit(w.worker_ref, {"exit_date": TODAY.isoformat(), "evaluation": "good",
                                     "credit_remarks": "无", "wage_settled": "yes"}, operator="op")
    assert heard[-1] == ("exit", w.worker_ref, 0)             # the listener already sees it gone
    assert e.status == "exited" and e.exit["wage_settled"] is True and e.exit["operator"] == "op"
    assert e.templates == 0 and len(registry.gallery()) == 0        # biometrics go, the record stays
    assert registry._conn.execute("SELECT COUNT(*) FROM templates").fetchone()[0] == 0
    with pytest.raises(InvalidState):
        registry.update(w.worker_ref, {"phone": "13700137000"}, operator="op")
    with pytest.raises(InvalidState):
        registry.exit(w.worker_ref, {"exit_date": TODAY.isoformat(), "wage_settled": True}, operator="op")
    assert outbox_changes(registry)[-1].exit_date == TODAY.isoformat()


def test_exit_before_entry_is_refused(registry):
    w = registry.enroll(record(entry_date=TODAY.isoformat()), operator="op")
    with pytest.raises(ValidationFailed):
        registry.exit(w.worker_ref, {"exit_date": (TODAY - dt.timedelta(days=1)).isoformat(),
                                     "wage_settled": True}, operator="op")
    assert registry.get(w.worker_ref).status == "active"


def test_consent_is_separate_recorded_and_refusal_keeps_no_templates(registry):
    w = registry.enroll(record(), operator="op")
    with pytest.raises(InvalidState):
        registry.set_templates(w.worker_ref, np.ones((1, 128)), operator="op")   # not asked yet
    registry.record_consent(w.worker_ref, granted=True, operator="staff1")
    registry.set_templates(w.worker_ref, np.ones((3, 128)), operator="staff1")
    r = registry.record_consent(w.worker_ref, granted=False, operator="staff2", alternative="id_card_swipe")
    assert r.consent == "refused" and r.alternative == "id_card_swipe" and r.templates == 0
    assert r.status == "active"                                    # enrolled, not turned away
    hist = registry.consent_history(w.worker_ref)
    assert [(h["decision"], h["operator"]) for h in hist] == [("granted", "staff1"), ("withdrawn", "staff2")]
    assert all(h["at"] > 0 for h in hist)
    with pytest.raises(InvalidState):
        registry.set_templates(w.worker_ref, np.ones((1, 128)), operator="op")
    with pytest.raises(ValidationFailed):
        registry.record_consent(w.worker_ref, granted=False, operator="op", alternative="nothing")
    assert [c.face_consent for c in outbox_changes(registry)] == [False, True, False]


def test_get_masks_unless_full_is_asked_and_find_by_id(registry):
    w = registry.enroll(record(), operator="op")
    assert registry.get(w.worker_ref).record["id_number"] == "440***********" + resident_id()[-4:]
    assert registry.get(w.worker_ref, full_id=True).record["id_number"] == resident_id()
    assert registry.find_by_id("01", resident_id().lower()).worker_ref == w.worker_ref
    assert registry.find_by_id("01", resident_id(order=9)) is None
    with pytest.raises(NotFound):
        registry.get("W-nope")


def test_search_by_name_team_company_status_with_paging(registry):
    for i in range(7):
        registry.enroll(record(id_number=resident_id(order=200 + i), name=f"张{'三四五六七八九'[i]}",
                               team_code="T1" if i < 4 else "T2"), operator="op")
    registry.enroll(manager(id_number=resident_id(order=300), name="李经理", company_name="总包公司"), operator="op")
    assert registry.search(name="张").total == 7
    assert registry.search(team="T1").total == 4
    assert registry.search(company="总包").total == 1
    p1, p2 = registry.search(limit=5), registry.search(limit=5, offset=5)
    assert len(p1.items) == 5 and len(p2.items) == 3 and p1.total == 8
    assert not {w.worker_ref for w in p1.items} & {w.worker_ref for w in p2.items}
    assert registry.search(name="%").total == 0 and registry.search(name="_").total == 0   # LIKE escaped
    ref = registry.search(name="李").items[0].worker_ref
    registry.exit(ref, {"exit_date": TODAY.isoformat(), "wage_settled": False}, operator="op")
    assert registry.search(status="exited").total == 1 and registry.search(status="active").total == 7
    assert all(w.record["id_number"].count("*") == 11 for w in registry.search().items)


def test_head_image_limit(registry):
    w = registry.enroll(record(), operator="op")
    jpeg = b"\xff\xd8\xff\xe0" + b"\x00" * 100 + b"\xff\xd9"
    assert registry.set_head_image(w.worker_ref, jpeg, operator="op").head_image_bytes == len(jpeg)
    with pytest.raises(ValueError, match="50KB"):
        registry.set_head_image(w.worker_ref, b"\xff\xd8\xff" + b"\x00" * 51200 + b"\xff\xd9", operator="op")
    with pytest.raises(ValueError, match="JPEG"):
        registry.set_head_image(w.worker_ref, b"\x89PNG\r\n\x1a\n" + b"\x00" * 10, operator="op")
    with pytest.raises(ValueError, match="JPEG"):
        registry.set_head_image(w.worker_ref, jpeg[:50], operator="op")     # truncated
    assert registry.head_image(w.worker_ref) == jpeg
    last = outbox_changes(registry)[-1]
    assert last.action == "update" and base64.b64decode(last.head_image_b64) == jpeg
    assert len(outbox_changes(registry)) == 2            # the refused images made no change


def test_everything_is_durable_across_reopen_and_bound_to_its_project(registry, tmp_path, key_file):
    w = registry.enroll(record(), operator="op")
    registry.record_consent(w.worker_ref, granted=True, operator="op")
    registry.set_templates(w.worker_ref, np.eye(2, 128), operator="op")
    registry.outbox.mark_sent(1)
    registry.close()
    reg = WorkerRegistry(tmp_path / "roster.db", "GW-R1", "P-ROSTER", key=load_key(str(key_file)))
    try:
        assert reg.get(w.worker_ref).consent == "granted"
        assert np.allclose(reg.templates(w.worker_ref), np.eye(2, 128))
        assert [s for s, _ in reg.outbox.states().values()] == ["pending", "pending"]   # 'sent' went back
        assert reg._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert reg._conn.execute("PRAGMA synchronous").fetchone()[0] == 2
    finally:
        reg.close()
    with pytest.raises(RegistryError, match="belongs to"):
        WorkerRegistry(tmp_path / "roster.db", "GW-R1", "P-OTHER")


def test_operator_is_required(registry):
    with pytest.raises(ValidationFailed):
        registry.enroll(record(), operator=" ")
    with pytest.raises(ValidationFailed):
        registry.enroll(record(), operator="x" * 65)


def test_find_duplicate_names_the_other_worker(registry):
    rng = np.random.default_rng(3)
    faces = rng.normal(size=(3, 128))
    refs = []
    for i in range(3):
        w = registry.enroll(record(id_number=resident_id(order=400 + i)), operator="op")
        registry.record_consent(w.worker_ref, granted=True, operator="op")
        registry.set_templates(w.worker_ref, faces[i:i + 1], operator="op")
        refs.append(w.worker_ref)
    probe = faces[1] + 0.05 * rng.normal(size=128)
    hit = registry.find_duplicate(probe[None], 0.5)
    assert hit.worker_ref == refs[1] and hit.score > 0.9
    assert registry.find_duplicate(probe[None], 0.5, exclude=refs[1]) is None
    assert registry.find_duplicate(rng.normal(size=(1, 128)), 0.5) is None
    with pytest.raises(ValueError):
        registry.find_duplicate(np.ones((1, 64)), 0.5)


@given(st.lists(st.sampled_from(["enroll", "update", "exit", "consent"]), min_size=1, max_size=12))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_property_every_committed_change_has_exactly_one_outbox_row_in_order(tmp_path_factory, ops):
    reg = WorkerRegistry(tmp_path_factory.mktemp("p") / "r.db", "GW", "P")
    expected, ref, n = [], None, 0
    try:
        for op in ops:
            try:
                if op == "enroll":
                    n += 1
                    ref = reg.enroll(record(id_number=resident_id(order=n)), operator="op").worker_ref
                    expected.append(("enroll", ref))
                elif ref is None:
                    continue
                elif op == "update":
                    reg.update(ref, {"team_code": f"T{n}"}, operator="op")
                    expected.append(("update", ref))
                elif op == "exit":
                    reg.exit(ref, {"exit_date": TODAY.isoformat(), "wage_settled": True}, operator="op")
                    expected.append(("exit", ref))
                else:
                    reg.record_consent(ref, granted=True, operator="op")
                    expected.append(("update", ref))
            except InvalidState:
                pass
        got = [(c.action, c.worker_ref) for c in outbox_changes(reg)]
        assert got == expected
        assert len({json.loads(r[0])["change_id"] for r in reg._conn.execute("SELECT body FROM outbox")}) == len(got)
    finally:
        reg.close()
