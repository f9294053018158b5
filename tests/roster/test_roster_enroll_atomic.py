"""Registry calls the web UI needs to be atomic: enroll with its consent decision and chip
photo in one commit, the chip photo kept in the registry, and the duplicate-face check and
the template store in one write transaction (two connections racing included)."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from roster_helpers import TODAY, record, resident_id

from edge_agent.roster import (
    DuplicateMatch,
    InvalidState,
    NotFound,
    ValidationFailed,
    WorkerRegistry,
    faces,
    load_key,
)
from edge_agent.roster.chipphoto import MAX_WLT_BYTES
from shared_schema.messages import RosterChange, decode_message

WLT = bytes(range(256)) * 4          # 1024 bytes, the size a chip photo has


def outbox_changes(reg) -> list[RosterChange]:
    rows = reg._conn.execute("SELECT body FROM outbox ORDER BY seq").fetchall()
    return [decode_message(r[0].encode(), RosterChange) for r in rows]


def face(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(2, 128)).astype(np.float32)


# ---- enroll with consent (and chip photo) in one commit ------------------------------------
@pytest.mark.parametrize("granted", [True, False])
def test_enroll_with_consent_is_one_commit_and_one_roster_change(registry, granted):
    w = registry.enroll(record(), operator="劳资员A", consent=granted, chip_photo=WLT)
    assert w.consent == ("granted" if granted else "refused") and w.consent_operator == "劳资员A"
    assert w.alternative == (None if granted else "id_card_swipe") and w.consent_at is not None
    assert w.version == 1
    [ch] = outbox_changes(registry)              # one change: the enrollment, carrying the decision
    assert ch.action == "enroll" and ch.face_consent is granted
    assert [h["decision"] for h in registry.consent_history(w.worker_ref)] == ["granted" if granted else "refused"]
    assert registry.chip_photo(w.worker_ref) == WLT


def test_enroll_without_consent_leaves_it_unasked(registry):
    w = registry.enroll(record(), operator="op")
    assert w.consent is None and registry.consent_history(w.worker_ref) == []
    assert registry.chip_photo(w.worker_ref) is None


@pytest.mark.parametrize("bad", [dict(consent=False, alternative="nothing"), dict(consent=False, alternative=None),
                                 dict(chip_photo=b""), dict(chip_photo=b"x" * (MAX_WLT_BYTES + 1)),
                                 dict(chip_photo="not bytes")])
def test_bad_consent_or_chip_photo_saves_nothing(registry, bad):
    with pytest.raises((ValidationFailed, ValueError)):
        registry.enroll(record(), operator="op", **bad)
    assert registry.search().total == 0 and outbox_changes(registry) == []
    assert registry._conn.execute("SELECT COUNT(*) FROM consent_log").fetchone()[0] == 0


def test_a_failing_enrollment_records_no_consent(registry):
    """A duplicate ID is refused after validation, inside the transaction: the consent row
    must roll back with it (the UI used to enroll, then record consent in a second call)."""
    registry.enroll(record(), operator="op", consent=True)
    with pytest.raises(ValidationFailed):
        registry.enroll(record(), operator="op", consent=False)
    assert registry._conn.execute("SELECT COUNT(*) FROM consent_log").fetchone()[0] == 1
    assert len(outbox_changes(registry)) == 1


def test_templates_follow_consent_given_at_enrollment(registry):
    w = registry.enroll(record(), operator="op", consent=True)
    assert registry.set_templates(w.worker_ref, face(1), operator="op") == 2
    r = registry.enroll(record(id_number=resident_id(order=2)), operator="op", consent=False)
    with pytest.raises(InvalidState):
        registry.set_templates(r.worker_ref, face(2), operator="op")


# ---- chip photo ------------------------------------------------------------------------------
def test_chip_photo_set_replace_and_refusals(registry):
    w = registry.enroll(record(), operator="op")
    registry.set_chip_photo(w.worker_ref, WLT)
    registry.set_chip_photo(w.worker_ref, WLT[::-1])
    assert registry.chip_photo(w.worker_ref) == WLT[::-1]
    for bad in (b"", None, "text", b"x" * (MAX_WLT_BYTES + 1)):
        with pytest.raises(ValueError):
            registry.set_chip_photo(w.worker_ref, bad)
    assert registry.chip_photo(w.worker_ref) == WLT[::-1]
    with pytest.raises(NotFound):
        registry.set_chip_photo("W-nobody", WLT)
    assert registry.chip_photo("W-nobody") is None
    registry.exit(w.worker_ref, {"exit_date": TODAY.isoformat(), "wage_settled": True}, operator="op")
    with pytest.raises(InvalidState):
        registry.set_chip_photo(w.worker_ref, WLT)
    assert registry.chip_photo(w.worker_ref) == WLT[::-1]      # the record stays, with its card photo


def test_chip_photo_survives_reopen_and_never_goes_up(tmp_path, key_file):
    reg = WorkerRegistry(tmp_path / "r.db", "GW", "P", key=load_key(str(key_file)))
    w = reg.enroll(record(), operator="op", chip_photo=WLT)
    body = reg._conn.execute("SELECT body FROM outbox").fetchone()[0]
    reg.close()
    assert WLT.hex() not in body and "chip" not in body
    reg = WorkerRegistry(tmp_path / "r.db", "GW", "P", key=load_key(str(key_file)))
    try:
        assert reg.chip_photo(w.worker_ref) == WLT
    finally:
        reg.close()


@given(st.binary(min_size=1, max_size=MAX_WLT_BYTES))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_property_chip_photo_bytes_round_trip(registry, wlt):
    ref = registry.find_by_id("01", resident_id())
    ref = ref.worker_ref if ref else registry.enroll(record(), operator="op").worker_ref
    registry.set_chip_photo(ref, wlt)
    assert registry.chip_photo(ref) == wlt


# ---- duplicate check and store, atomically ------------------------------------------------------
def test_unless_duplicate_stores_or_names_the_other_worker(registry):
    a = registry.enroll(record(id_number=resident_id(order=1)), operator="op", consent=True)
    b = registry.enroll(record(id_number=resident_id(order=2)), operator="op", consent=True)
    assert registry.set_templates_unless_duplicate(a.worker_ref, face(1), 0.5, operator="op") is None
    hit = registry.set_templates_unless_duplicate(b.worker_ref, face(1) + 0.01, 0.5, operator="op")
    assert isinstance(hit, DuplicateMatch) and hit.worker_ref == a.worker_ref and hit.score > 0.9
    assert registry.get(b.worker_ref).templates == 0
    # the worker's own earlier capture is no duplicate (a re-capture replaces it)
    assert registry.set_templates_unless_duplicate(a.worker_ref, face(1), 0.5, operator="op") is None
    assert registry.set_templates_unless_duplicate(b.worker_ref, face(2), 0.5, operator="op") is None
    assert registry.get(b.worker_ref).templates == 2


def test_unless_duplicate_refuses_bad_input_and_no_consent(registry):
    w = registry.enroll(record(), operator="op")
    with pytest.raises(InvalidState):
        registry.set_templates_unless_duplicate(w.worker_ref, face(1), 0.5, operator="op")
    registry.record_consent(w.worker_ref, granted=True, operator="op")
    for bad in (np.ones((1, 4)), np.zeros((1, 128)), np.full((1, 128), np.nan), np.ones((17, 128)), "x"):
        with pytest.raises(ValueError):
            registry.set_templates_unless_duplicate(w.worker_ref, bad, 0.5, operator="op")
    with pytest.raises(ValidationFailed):
        registry.set_templates_unless_duplicate(w.worker_ref, face(1), 0.5, operator=" ")
    assert registry.get(w.worker_ref).templates == 0


@pytest.mark.parametrize("connections", ["one registry", "two connections"])
def test_two_captures_of_one_face_at_once_store_only_one(tmp_path, key_file, monkeypatch, connections):
    """The race the web UI had: find_duplicate, then set_templates, from two pages at once.
    Each thread is held right after reading the stored faces until the other has read them
    too (or 1 s passed): when the check and the store are not one transaction both see no
    duplicate and both store; atomically, the second waits for the first's commit."""
    key = load_key(str(key_file))
    reg1 = WorkerRegistry(tmp_path / "r.db", "GW", "P", key=key)
    reg2 = reg1 if connections == "one registry" else WorkerRegistry(tmp_path / "r.db", "GW", "P", key=key)
    a = reg1.enroll(record(id_number=resident_id(order=1)), operator="op", consent=True).worker_ref
    b = reg1.enroll(record(id_number=resident_id(order=2)), operator="op", consent=True).worker_ref
    held = threading.Barrier(2, timeout=1.0)
    read_rows = faces._consenting_rows

    def read_then_wait(self, exclude=None):
        rows = read_rows(self, exclude)
        try:
            held.wait()
        except threading.BrokenBarrierError:
            pass
        return rows
    monkeypatch.setattr(faces, "_consenting_rows", read_then_wait)
    results: dict[str, object] = {}

    def capture(reg, ref, noise):
        results[ref] = reg.set_templates_unless_duplicate(ref, face(7) + noise, 0.5, operator="op")
    threads = [threading.Thread(target=capture, args=(reg1, a, 0.0)),
               threading.Thread(target=capture, args=(reg2, b, 0.01))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    try:
        assert len(results) == 2
        stored = [ref for ref, r in results.items() if r is None]
        refused = [r for r in results.values() if r is not None]
        assert len(stored) == 1 and len(refused) == 1
        assert refused[0].worker_ref == stored[0]
        counts = {ref: reg1.get(ref).templates for ref in (a, b)}
        assert sorted(counts.values()) == [0, 2]
    finally:
        reg1.close()
        if reg2 is not reg1:
            reg2.close()
