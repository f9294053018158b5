"""PunchLedger: commit, chain, tamper detection, outbox states, retention, migrations."""

from __future__ import annotations

import sqlite3
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge_helpers import punch
from edge_agent.ledger import LedgerError, PunchLedger, read_status
from edge_agent.ledger_migrations import SCHEMA_VERSION
from shared_schema.chain import GENESIS_HASH, entry_hash, verify_run
from shared_schema.wire import DecodeError


def test_append_commits_and_reopen_continues_chain(tmp_path):
    path = tmp_path / "l.db"
    led = PunchLedger(path, "GW-T1", "P-TEST")
    first = punch(led, 3)
    # committed: visible to an independent connection before close()
    other = sqlite3.connect(path)
    assert other.execute("SELECT COUNT(*) FROM entries WHERE state='pending'").fetchone()[0] == 3
    stored = other.execute("SELECT entry_json FROM entries WHERE seq=2").fetchone()[0]
    assert stored.encode() == first[1].canonical_bytes()
    other.close()
    led.close()
    led = PunchLedger(path, "GW-T1", "P-TEST")
    assert led.ledger_ok and led.head_seq == 3
    more = punch(led, 2)
    assert more[0].seq == 4 and more[0].prev_hash == entry_hash(first[-1])
    entries = led.entries()
    assert verify_run(entries, 0, GENESIS_HASH) == entry_hash(more[-1])
    assert first[0].prev_hash == GENESIS_HASH
    assert len({e.event_id for e in entries}) == 5
    led.close()


def test_entry_fields(ledger):
    e = ledger.append(gate_id="G2", direction="out", type="rejected", reject_reason="liveness_failed",
                      liveness_score=0.1, liveness_cue="blink")
    assert e.type == "rejected" and e.kind is None and e.worker_ref is None
    assert e.device_time.endswith("Z") and e.monotonic_ns > 0 and len(e.boot_id) >= 8
    m = ledger.append(gate_id="G1", direction="in", worker_ref="W0001", kind="manual",
                      manual_reason="补卡: gate offline", operator="op1")
    assert m.kind == "manual" and m.seq == 2


def test_pragmas_took(ledger):
    assert ledger._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert ledger._conn.execute("PRAGMA synchronous").fetchone()[0] == 2


def test_invalid_decision_is_not_committed(ledger):
    """Regression: an entry the receiver would refuse (bad worker_ref) must never enter the chain."""
    punch(ledger, 1)
    with pytest.raises(DecodeError):
        ledger.append(gate_id="G1", direction="in", worker_ref="W 0001", kind="work")
    with pytest.raises(ValueError):
        ledger.append(gate_id="G1", direction="in", kind="work")  # punch without worker
    assert ledger.head_seq == 1 and ledger.stats().backlog == 1
    assert punch(ledger, 1)[0].seq == 2


def _tamper(path, sql, *args):
    conn = sqlite3.connect(path)
    conn.execute(sql, args)
    conn.commit()
    conn.close()


def test_edited_row_detected_at_start(tmp_path):
    path = tmp_path / "l.db"
    led = PunchLedger(path, "GW-T1", "P-TEST")
    punch(led, 5)
    led.close()
    conn = sqlite3.connect(path)
    text = conn.execute("SELECT entry_json FROM entries WHERE seq=3").fetchone()[0]
    conn.close()
    _tamper(path, "UPDATE entries SET entry_json=? WHERE seq=3", text.replace('"W0003"', '"W0009"'))
    led = PunchLedger(path, "GW-T1", "P-TEST")
    assert not led.ledger_ok and led.verify_result.bad_seq == 3
    # still records (a gate must keep working) and links to what is really stored
    assert punch(led, 1)[0].seq == 6
    led.close()


def test_edited_row_with_recomputed_hash_detected_by_next_link(tmp_path):
    import hashlib

    path = tmp_path / "l.db"
    led = PunchLedger(path, "GW-T1", "P-TEST")
    punch(led, 5)
    led.close()
    conn = sqlite3.connect(path)
    text = conn.execute("SELECT entry_json FROM entries WHERE seq=2").fetchone()[0]
    conn.close()
    forged = text.replace('"direction":"in"', '"direction":"out"')
    _tamper(path, "UPDATE entries SET entry_json=?, entry_hash=? WHERE seq=2", forged,
            hashlib.sha256(forged.encode()).hexdigest())
    led = PunchLedger(path, "GW-T1", "P-TEST")
    assert not led.ledger_ok and led.verify_result.bad_seq == 3
    led.close()


def test_deleted_row_detected(tmp_path):
    path = tmp_path / "l.db"
    led = PunchLedger(path, "GW-T1", "P-TEST")
    punch(led, 4)
    led.close()
    _tamper(path, "DELETE FROM entries WHERE seq=2")
    led = PunchLedger(path, "GW-T1", "P-TEST")
    assert not led.ledger_ok and "gap" in led.verify_result.problem
    led.close()


def test_other_gateways_ledger_refused(tmp_path):
    PunchLedger(tmp_path / "l.db", "GW-T1", "P-TEST").close()
    with pytest.raises(LedgerError):
        PunchLedger(tmp_path / "l.db", "GW-T2", "P-TEST")


def test_outbox_states(tmp_path):
    path = tmp_path / "l.db"
    led = PunchLedger(path, "GW-T1", "P-TEST")
    punch(led, 10)
    a = led.claim_pending("a" * 32, 4, 1 << 20)
    b = led.claim_pending("b" * 32, 4, 1 << 20)
    assert [s for s, _ in a] == [1, 2, 3, 4] and [s for s, _ in b] == [5, 6, 7, 8]
    live = led.claim_pending("c" * 32, 5, 1 << 20, seqs=[10, 3])  # 3 is already sent
    assert [s for s, _ in live] == [10]
    assert led.claim_pending("d" * 32, 100, 1) and led.states()[9] == "sent"  # ≥1 row even if large
    led.mark_acked([(5, 6)], 0)
    assert led.stats().acked_through_seq == 0
    assert led.release_batch("b" * 32) == 2  # 7, 8 back to pending
    led.mark_acked([], 4)
    st = led.stats()
    assert st.acked_through_seq == 6 and st.pending == 2 and st.sent == 2 and st.backlog == 4
    led.close()
    led = PunchLedger(path, "GW-T1", "P-TEST")  # restart: sent → pending
    st = led.stats()
    assert st.sent == 0 and st.pending == 4 and st.head_seq == 10
    assert read_status(path)["backlog"] == 4
    led.close()


def test_claim_respects_byte_budget(ledger):
    punch(ledger, 20)
    size = len(ledger.entries()[0].canonical_bytes()) + 1
    rows = ledger.claim_pending("a" * 32, 100, size * 5 + 2)
    assert len(rows) == 5


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(acks=st.lists(st.tuples(st.integers(1, 60), st.integers(0, 15)), max_size=8),
       through=st.integers(0, 60))
def test_acks_mark_exactly_the_acked_ranges(tmp_path_factory, acks, through):
    led = PunchLedger(tmp_path_factory.mktemp("h") / "l.db", "GW-T1", "P-TEST")
    punch(led, 50)
    ranges = [(a, a + n) for a, n in acks]
    led.mark_acked(ranges, through)
    expect = {s for a, b in ranges for s in range(a, b + 1)} | set(range(1, through + 1))
    states = led.states()
    assert {s for s, v in states.items() if v == "acked"} == expect & set(range(1, 51))
    st_ = led.stats()
    missing = sorted(set(range(1, 51)) - expect)
    assert st_.acked_through_seq == (missing[0] - 1 if missing else 50)
    assert st_.backlog == len(missing)
    led.close()


def test_retention_prunes_only_old_acked_prefix_and_keeps_anchor(tmp_path):
    path = tmp_path / "l.db"
    led = PunchLedger(path, "GW-T1", "P-TEST", retention_days=30)
    entries = punch(led, 10)
    old = 40 * 86400
    led._conn.execute("UPDATE entries SET committed_at = committed_at - ? WHERE seq <= 8", (old,))
    assert led.prune() == 0  # nothing acked: age alone never deletes
    led.mark_acked([(1, 3), (5, 10)], 0)  # 4 unacked
    assert led.prune() == 3  # 1..3; 5..8 wait behind the unacked 4
    assert led.anchor() == (3, entry_hash(entries[2]))
    led.mark_acked([(4, 4)], 0)
    assert led.prune() == 5  # 4..8; 9, 10 are too young
    assert led.anchor() == (8, entry_hash(entries[7]))
    led.close()
    led = PunchLedger(path, "GW-T1", "P-TEST", retention_days=30)
    assert led.ledger_ok and led.verify_result.checked == 2
    assert [e.seq for e in led.entries()] == [9, 10]
    assert punch(led, 1)[0].seq == 11
    st = led.stats()
    assert st.anchor_seq == 8 and st.acked_through_seq == 10
    # everything pruned: the head survives in the anchor
    led._conn.execute("UPDATE entries SET committed_at = committed_at - ?", (old,))
    led.mark_acked([], 11)
    assert led.prune() == 3
    led.close()
    led = PunchLedger(path, "GW-T1", "P-TEST")
    assert led.ledger_ok and led.head_seq == 11
    assert punch(led, 1)[0].prev_hash == led.anchor()[1]
    led.close()


V1_SCHEMA = """
CREATE TABLE entries (
    seq INTEGER PRIMARY KEY, event_id TEXT NOT NULL UNIQUE, entry_json TEXT NOT NULL,
    entry_hash TEXT NOT NULL, state TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'acked')),
    committed_at REAL NOT NULL);
PRAGMA user_version = 1;
"""


def test_migration_from_v1_keeps_unsynced_rows(tmp_path):
    # Build entries with a current ledger, then copy them into a frozen v1 file.
    src = PunchLedger(tmp_path / "src.db", "GW-T1", "P-TEST")
    punch(src, 6)
    rows = src._conn.execute("SELECT seq, event_id, entry_json, entry_hash, committed_at FROM entries"
                             ).fetchall()
    src.close()
    path = tmp_path / "v1.db"
    conn = sqlite3.connect(path)
    conn.executescript(V1_SCHEMA)
    states = ["acked", "acked", "sent", "pending", "pending", "pending"]
    conn.executemany("INSERT INTO entries VALUES (?, ?, ?, ?, ?, ?)",
                     [(s, e, j, h, st_, t) for (s, e, j, h, t), st_ in zip(rows, states)])
    conn.commit()
    conn.close()
    led = PunchLedger(path, "GW-T1", "P-TEST")
    assert led.migrated_from == 1
    assert led._conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert led.ledger_ok
    assert led.states() == {1: "acked", 2: "acked", 3: "pending", 4: "pending", 5: "pending",
                            6: "pending"}
    assert punch(led, 1)[0].seq == 7
    led.close()


def test_newer_schema_refused(tmp_path):
    PunchLedger(tmp_path / "l.db", "GW-T1", "P-TEST").close()
    _tamper(tmp_path / "l.db", f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(RuntimeError):
        PunchLedger(tmp_path / "l.db", "GW-T1", "P-TEST")


def test_concurrent_appends_and_sync(tmp_path):
    led = PunchLedger(tmp_path / "l.db", "GW-T1", "P-TEST")
    errors, done = [], threading.Event()

    def gate():
        try:
            for _ in range(4):
                punch(led, 100)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            done.set()

    def syncer():
        i = 0
        try:
            while True:
                finished = done.is_set()
                rows = led.claim_pending(f"{i:032x}", 37, 1 << 20)
                if rows:
                    if i % 3 == 0:
                        led.release_batch(f"{i:032x}")
                    else:
                        led.mark_acked([(rows[0][0], rows[-1][0])])
                i += 1
                if finished and not rows and led.stats().pending == 0:
                    return
        except Exception as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=gate), threading.Thread(target=syncer)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert led.head_seq == 400
    assert set(led.states().values()) == {"acked"}
    assert verify_run(led.entries(), 0, GENESIS_HASH)
    led.close()
    assert PunchLedger(tmp_path / "l.db", "GW-T1", "P-TEST").ledger_ok
