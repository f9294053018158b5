"""``edge-agent ledger export / import``: move a gateway's ledger, unsynced punches included, from a
broken box to its replacement (docs/operations.md, "Replace a broken gateway box").

Export writes a consistent SQLite copy with SQLite's online backup API (safe while the agent runs;
WAL content included) and prints its SHA-256 to compare after the transfer. Import checks the file
the way the agent would at start (it opens as SQLite, ``quick_check``, a schema this software knows,
bound to *this* gateway id, the whole hash chain verifies) and only then moves it into place
atomically. It never overwrites a ledger that holds entries: two chains cannot be merged, and the
one already there may hold punches of its own.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
from pathlib import Path

from .ledger import LedgerError, PunchLedger, _connect, read_status
from .ledger_migrations import SCHEMA_VERSION, migrate


class TransferError(RuntimeError):
    """The export or import cannot be done; the message is for the technician."""


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def export_ledger(ledger_path: str | Path, out: str | Path) -> dict:
    src, out = Path(ledger_path), Path(out)
    if not src.exists():
        raise TransferError(f"{src}: no ledger to export")
    if out.exists():
        raise TransferError(f"{out} exists; refusing to overwrite (choose another name)")
    tmp = out.with_name(out.name + ".part")
    tmp.unlink(missing_ok=True)
    conn = _connect(src, readonly=True)
    try:
        dst = sqlite3.connect(str(tmp))
        try:
            conn.backup(dst)
            dst.execute("PRAGMA journal_mode = DELETE")      # one self-contained file
        finally:
            dst.close()
    finally:
        conn.close()
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.chmod(tmp, 0o600)
    os.replace(tmp, out)
    status = read_status(out)
    return {"file": str(out), "sha256": sha256_file(out), "head_seq": status["head_seq"],
            "backlog": status["backlog"], "acked_through_seq": status["acked_through_seq"]}


def check_ledger_file(path: Path, gateway_id: str) -> dict:
    """Raise :class:`TransferError` unless ``path`` is an intact ledger of ``gateway_id``."""
    try:
        conn = _connect(path, readonly=True)
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            quick = conn.execute("PRAGMA quick_check").fetchone()[0]
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise TransferError(f"{path}: not a ledger ({exc})") from None
    if quick != "ok":
        raise TransferError(f"{path}: damaged (SQLite quick_check: {quick})")
    if version > SCHEMA_VERSION:
        raise TransferError(f"{path}: ledger schema {version} is newer than this software ({SCHEMA_VERSION}); "
                            "upgrade realname-edge first")
    if not {"entries", "meta", "chain_anchor"} <= tables or version < 2:
        raise TransferError(f"{path}: not a gateway ledger (schema {version}, tables {sorted(tables)})")
    conn = _connect(path, readonly=True)
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = 'gateway_id'").fetchone()
        if row is None or row[0] != gateway_id:
            raise TransferError(f"{path}: ledger of gateway {row[0] if row else '?'!r}, this box is {gateway_id!r}: "
                                "set gateway_id in the config to the broken box's id")
        shell = PunchLedger.__new__(PunchLedger)       # PunchLedger.verify's rules, read-only
        shell._conn, shell._lock, shell.gateway_id = conn, threading.RLock(), gateway_id
        res = PunchLedger.verify(shell)
    finally:
        conn.close()
    if not res.ok:
        raise TransferError(f"{path}: hash chain broken at seq {res.bad_seq}: {res.problem}; refusing to import")
    return {"verified": res.checked, "schema_version": version}


def _holds_entries(path: Path) -> bool:
    if not path.exists():
        return False
    try:
        st = read_status(path)
    except LedgerError:
        return True                       # another schema: treat as data, never overwrite
    return st["head_seq"] > 0 or st["anchor_seq"] > 0


def import_ledger(file: str | Path, ledger_path: str | Path, gateway_id: str) -> dict:
    """Verify ``file`` and install it as the ledger at ``ledger_path`` (agent stopped)."""
    file, dest = Path(file), Path(ledger_path)
    if not file.is_file():
        raise TransferError(f"{file}: no such file")
    facts = check_ledger_file(file, gateway_id)
    if _holds_entries(dest):
        raise TransferError(f"{dest} already holds entries; refusing to overwrite them. Stop the agent, move "
                            f"{dest} (and its -wal/-shm) aside, then import again")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".import")
    tmp.unlink(missing_ok=True)
    with open(file, "rb") as src, open(tmp, "wb") as out:
        for chunk in iter(lambda: src.read(1 << 20), b""):
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    os.chmod(tmp, 0o600)
    parent = dest.parent.stat()
    if os.geteuid() == 0:                 # run as root: the file belongs to the folder's owner (rn-edge)
        os.chown(tmp, parent.st_uid, parent.st_gid)
    conn = sqlite3.connect(str(tmp), isolation_level=None)
    try:
        migrate(conn)                      # an older box's schema: brought up to date, rows untouched
        conn.execute("UPDATE entries SET state = 'pending' WHERE state = 'sent'")
    finally:
        conn.close()
    for suffix in ("-wal", "-shm"):
        Path(str(dest) + suffix).unlink(missing_ok=True)
    os.replace(tmp, dest)
    dfd = os.open(dest.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)
    status = read_status(dest)
    return {"ledger": str(dest), "verified": facts["verified"], "head_seq": status["head_seq"],
            "backlog": status["backlog"], "acked_through_seq": status["acked_through_seq"]}
