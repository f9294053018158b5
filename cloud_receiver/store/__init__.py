"""Receiver storage. :func:`open_store` picks the backend from the URL:

* ``sqlite:///path/to/receiver.db`` → :class:`~.sqlite.SqliteStore` (embedded default)
* ``postgresql://user@host:port/db`` (or ``postgres://``) → :class:`~.postgres.PostgresStore`
"""

from __future__ import annotations

from .base import BatchResult, EntryRow, GatewayKeyConflict, Store, SweepResult, seq_ranges


def _sqlite(url: str) -> Store:
    from .sqlite import SqliteStore

    return SqliteStore(url)


def _postgres(url: str) -> Store:
    from .postgres import PostgresStore

    return PostgresStore(url)


REGISTRY = {"sqlite:///": _sqlite, "postgresql://": _postgres, "postgres://": _postgres}


def open_store(url: str, *, migrate: bool = False) -> Store:
    for prefix, factory in REGISTRY.items():
        if url.startswith(prefix):
            store = factory(url)
            if migrate:
                store.migrate()
            return store
    raise ValueError("store url must start with one of: " + ", ".join(REGISTRY))


__all__ = ["open_store", "Store", "EntryRow", "BatchResult", "SweepResult", "GatewayKeyConflict", "seq_ranges"]
