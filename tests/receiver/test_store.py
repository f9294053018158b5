"""Store and migrations, on SQLite and PostgreSQL (``store_url``)."""

import sqlite3
import time

import pytest

from cloud_receiver.store import GatewayKeyConflict, open_store
from cloud_receiver.store.migrations import latest

from .helpers import FakeGateway


def test_migrations_apply_once_and_are_tracked(store_url):
    s = open_store(store_url)
    try:
        assert s.schema_version() == 0
        assert s.migrate() == list(range(1, latest(s.dialect) + 1))
        assert s.migrate() == []
        assert s.schema_version() == latest(s.dialect) >= 4
        assert s.ping()
    finally:
        s.close()
    s2 = open_store(store_url, migrate=True)  # a second process starting later
    assert s2.schema_version() == latest(s2.dialect)
    s2.close()


def test_register_gateway_requires_replace_for_new_key(store):
    g = FakeGateway("GW-R")
    assert store.register_gateway("GW-R", g.public_hex, "P1", "V", None, now=time.time()) == "registered"
    assert store.register_gateway("GW-R", g.public_hex, "P2", "V", "S", now=time.time()) == "updated"
    other = FakeGateway("GW-R").public_hex
    with pytest.raises(GatewayKeyConflict):
        store.register_gateway("GW-R", other, "P2", "V", None, now=time.time())
    assert store.get_gateway("GW-R")["public_key"] == g.public_hex
    assert store.register_gateway("GW-R", other, "P2", "V", None, replace=True, now=time.time()) == "replaced"
    row = store.get_gateway("GW-R")
    assert row["public_key"] == other and row["project_code"] == "P2" and row["key_replaced_at"]
    assert row["online"] is False and row["rx_through_seq"] == 0


def test_unknown_store_url():
    with pytest.raises(ValueError, match="sqlite:///"):
        open_store("mysql://x")


def test_sqlite_pragmas_for_shared_files(tmp_path):
    s = open_store(f"sqlite:///{tmp_path / 'r.db'}", migrate=True)
    conn = s._conn_for_thread()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000
    s.close()
    # the views keep punches and rejected attempts apart
    db = sqlite3.connect(tmp_path / "r.db")
    names = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'view'")}
    assert {"punches", "rejected_attempts"} <= names


def test_counters_visible_to_another_store_instance(store_url, store):
    store.bump("duplicates_dropped", 3)
    store.record_rejection("GW-X", "punches", "bad_signature", 10, "ab" * 32, time.time())
    other = open_store(store_url)
    try:
        st = other.stats()
        assert st["duplicates_dropped"] == 3 and st["rejected"] == {"bad_signature": 1}
    finally:
        other.close()
