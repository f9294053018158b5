"""Fixtures shared by the whole suite: private Mosquitto and PostgreSQL instances.

Nothing here talks to a service started by hand: every broker and every
database cluster is started by the tests on a free loopback port.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from devtools.mosquitto import MosquittoBroker
from devtools.postgres import PostgresCluster

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """../shared beside the checkout; a test that needs it fails loudly without it."""
    if not (SHARED / "data").is_dir():
        pytest.fail(f"test data missing: {SHARED}/data must exist beside the checkout", pytrace=False)
    return SHARED


@pytest.fixture
def mosquitto(tmp_path):
    """A private broker per test; ``.stop()``, ``.kill()``, ``.start()`` at will."""
    broker = MosquittoBroker(tmp_path / "mqtt").start()
    yield broker
    broker.kill()


@pytest.fixture(scope="session")
def pg_cluster():
    cluster = PostgresCluster().start()
    yield cluster
    cluster.destroy()


@pytest.fixture
def pg_dsn(pg_cluster) -> str:
    """A fresh, empty database in the session's private cluster."""
    return pg_cluster.create_database()


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request, tmp_path) -> str:
    """Run a test against both receiver stores: embedded SQLite and PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'receiver.db'}"
    dsn = request.getfixturevalue("pg_dsn")
    parts = dict(p.split("=", 1) for p in dsn.split())
    return f"postgresql://{parts['user']}@{parts['host']}:{parts['port']}/{parts['dbname']}"
