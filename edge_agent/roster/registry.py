"""The gateway's worker registry: real-name records of one project, on their own SQLite file.

Every method that changes something commits (WAL, ``synchronous=FULL``) before it
returns, and writes the matching :class:`~shared_schema.messages.RosterChange` to the
outbox in the same transaction (:mod:`.outbox`). Records are never deleted: an exit
(退场) sets the status and keeps the record (its face templates are deleted). Listeners registered with
:meth:`WorkerRegistry.on_change` hear ``(action, worker_ref)`` after each commit; the
gate uses them to drop an exited worker's templates at once.

Thread-safety: one connection guarded by one lock (the web UI, the importer and the
uplink share it); every operation is short.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Mapping

import sqlite_utils

from shared_schema.idcard import mask_id_number

from . import codes, outbox
from .crypto import KEY_CHECK_PLAINTEXT, TemplateKey, TemplateKeyError
from .chipphoto import check_chip_photo, store_chip_photo
from .consent import ALTERNATIVES, check_alternative, write_consent  # noqa: F401  (ALTERNATIVES: re-exported)
from .downstate import DownState
from .model import Page, Worker
from .schema import migrate
from .validate import FieldError, ValidationFailed, check_worker, validate_exit

log = logging.getLogger(__name__)

HEAD_IMAGE_MAX_BYTES = 50 * 1024      # the national platform's limit for a head image
UPDATABLE_EXCLUDED = ("id_type", "id_number")   # a different person is a new enrollment


class RegistryError(RuntimeError):
    """The registry file cannot be used safely (durability pragmas, other project, key)."""


class NotFound(LookupError):
    """No worker with this reference."""


class DuplicateWorker(ValidationFailed):
    """This ID already has an active record on the project (one ID, one role per project)."""

    def __init__(self, worker_ref: str):
        self.worker_ref = worker_ref
        super().__init__([FieldError("id_number", "该证件号码已在本项目登记（在场）",
                                     "this ID is already enrolled (active) on this project")])


class InvalidState(ValueError):
    """The operation does not fit the worker's state (e.g. templates without consent)."""

    def __init__(self, zh: str, en: str):
        self.zh, self.en = zh, en
        super().__init__(en)


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout = 10000")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


class WorkerRegistry(DownState):
    """``key`` (a :class:`TemplateKey`) is needed for face templates; without it the
    registry works for records only and template calls raise :class:`TemplateKeyError`."""

    def __init__(self, path: str | Path, gateway_id: str, project_code: str, *, key: TemplateKey | None = None):
        self.path = Path(path)
        self.gateway_id, self.project_code, self.key = gateway_id, project_code, key
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._listeners: list[Callable[[str, str], None]] = []
        self._conn = _connect(self.path)
        try:
            mode = self._conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            self._conn.execute("PRAGMA synchronous = FULL")
            if str(mode).lower() != "wal" or self._conn.execute("PRAGMA synchronous").fetchone()[0] != 2:
                raise RegistryError("SQLite refused WAL / synchronous=FULL for the worker registry")
            migrate(self._conn)
            self.db = sqlite_utils.Database(self._conn)
            self._bind()
            self.outbox = outbox.RosterOutbox(self._conn, self._lock)
            self.outbox.release()          # a restart: anything 'sent' goes out again
        except BaseException:
            self._conn.close()
            raise

    def _bind(self) -> None:
        meta = dict(self._conn.execute("SELECT key, value FROM meta"))
        if not meta:
            with self._tx() as c:
                c.executemany("INSERT INTO meta (key, value) VALUES (?, ?)",
                              [("gateway_id", self.gateway_id), ("project_code", self.project_code)])
            meta = {"gateway_id": self.gateway_id, "project_code": self.project_code}
        if (meta["gateway_id"], meta["project_code"]) != (self.gateway_id, self.project_code):
            raise RegistryError(f"worker registry {self.path} belongs to {meta['gateway_id']}/"
                                f"{meta['project_code']}, not {self.gateway_id}/{self.project_code}")
        if self.key is not None:
            self._check_key(meta.get("key_check"))

    def _check_key(self, stored: str | None) -> None:
        """A wrong key is refused at open with a clear error, not discovered template by template."""
        if stored is None:
            blob = self.key.encrypt(KEY_CHECK_PLAINTEXT, self.project_code, "-", "key-check")
            with self._tx() as c:
                c.execute("INSERT INTO meta (key, value) VALUES ('key_check', ?)", (blob.hex(),))
            return
        try:
            ok = self.key.decrypt(bytes.fromhex(stored), self.project_code, "-", "key-check") == KEY_CHECK_PLAINTEXT
        except (TemplateKeyError, ValueError):
            ok = False
        if not ok:
            raise TemplateKeyError("模板密钥与本登记库不匹配 / the template key is not the key this worker "
                                   "registry was created with (wrong key file?)")

    # ---- plumbing ----------------------------------------------------------------------
    class _Tx:
        def __init__(self, reg: "WorkerRegistry"):
            self.reg = reg

        def __enter__(self) -> sqlite3.Connection:
            self.reg._lock.acquire()
            self.reg._conn.execute("BEGIN IMMEDIATE")
            return self.reg._conn

        def __exit__(self, exc_type, exc, tb):
            try:
                self.reg._conn.execute("ROLLBACK" if exc_type else "COMMIT")
            finally:
                self.reg._lock.release()

    def _tx(self) -> "_Tx":
        return WorkerRegistry._Tx(self)

    def on_change(self, listener: Callable[[str, str], None]) -> None:
        """``listener(action, worker_ref)`` after each committed change; action is one of
        enroll, update, exit, consent, templates."""
        self._listeners.append(listener)

    def _notify(self, action: str, worker_ref: str) -> None:
        for fn in self._listeners:
            try:
                fn(action, worker_ref)
            except Exception:  # noqa: BLE001 - a listener never undoes a committed change
                log.exception("roster listener failed on %s", action)

    def _row(self, worker_ref: str) -> dict | None:
        cur = self._conn.execute("SELECT * FROM workers WHERE worker_ref = ?", (worker_ref,))
        row = cur.fetchone()
        return None if row is None else dict(zip([d[0] for d in cur.description], row))

    def _worker(self, row: dict, full_id: bool) -> Worker:
        record = json.loads(row["record_json"])
        masked = mask_id_number(row["id_number"])
        if not full_id:
            record["id_number"] = masked
        n = self._conn.execute("SELECT COUNT(*) FROM templates WHERE worker_ref = ?", (row["worker_ref"],)).fetchone()[0]
        return Worker(row["worker_ref"], row["status"], record, masked, row["consent"], row["consent_at"],
                      row["consent_operator"], row["alternative"], n, len(row["head_image"] or b""),
                      json.loads(row["exit_json"]) if row["exit_json"] else None, row["version"],
                      row["created_at"], row["updated_at"], json.loads(row["code_versions"]))

    def _change(self, c: sqlite3.Connection, action: str, row: dict, record: dict, operator: str, now: float,
                exit_date: str | None = None) -> None:
        change = outbox.build_change(gateway_id=self.gateway_id, project_code=self.project_code, action=action,
                                     worker_ref=row["worker_ref"], record=record, status_exit_date=exit_date,
                                     face_consent=row.get("consent") == "granted", operator=operator,
                                     head_image=row.get("head_image"))
        outbox.insert(c, change, now)

    @staticmethod
    def _operator(operator: str) -> str:
        if not isinstance(operator, str) or not operator.strip() or len(operator) > 64:
            raise ValidationFailed([FieldError("operator", "需要操作人（最多64字）", "operator required (max 64)")])
        return operator.strip()

    # ---- records -----------------------------------------------------------------------
    def enroll(self, data: Mapping[str, Any], *, operator: str, head_image: bytes | None = None,
               consent: bool | None = None, alternative: str | None = "id_card_swipe",
               chip_photo: bytes | None = None) -> Worker:
        """Validate and enroll; raises :class:`ValidationFailed` (every error) or
        :class:`DuplicateWorker` (this ID is active on the project). ``consent`` (True/False)
        records the separate face-processing decision in the same commit as the record (as
        :meth:`record_consent` would; None: not asked yet); ``chip_photo``: the ID card's raw
        WLT bytes, kept in the same commit. Returns the new record (ID masked)."""
        operator = self._operator(operator)
        record = check_worker(data)
        if head_image is not None:
            check_head_image(head_image)
        if consent is not None:
            check_alternative(bool(consent), alternative)
        if chip_photo is not None:
            chip_photo = check_chip_photo(chip_photo)
        now = time.time()
        ref = "W" + uuid.uuid4().hex[:20]
        row = dict(worker_ref=ref, id_type=record["id_type"], id_number=record["id_number"], name=record["name"],
                   company_code=record["company_code"], company_name=record["company_name"],
                   team_code=record["team_code"], role=record["role"], status="active",
                   record_json=json.dumps(record, ensure_ascii=False, sort_keys=True),
                   code_versions=json.dumps(codes.versions(), sort_keys=True), entry_date=record["entry_date"],
                   head_image=head_image, version=1, created_at=now, updated_at=now)
        with self._tx() as c:
            dup = c.execute("SELECT worker_ref FROM workers WHERE id_type = ? AND id_number = ? AND status = 'active'",
                            (record["id_type"], record["id_number"])).fetchone()
            if dup:
                raise DuplicateWorker(dup[0])
            c.execute(f"INSERT INTO workers ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                      tuple(row.values()))
            if consent is not None:
                write_consent(c, row, bool(consent), alternative, operator, now, bump=False)
            if chip_photo is not None:
                store_chip_photo(c, ref, chip_photo, now)
            self._change(c, "enroll", row, record, operator, now)
        log.info("worker enrolled: %s", ref)
        self._notify("enroll", ref)
        return self.get(ref)

    def update(self, worker_ref: str, changes: Mapping[str, Any], *, operator: str) -> Worker:
        """Change fields of an active record (every field but ID type and number); the whole
        record is validated again. Raises NotFound, InvalidState, ValidationFailed."""
        operator = self._operator(operator)
        bad = [FieldError(k, "证件类型和号码不能修改（请重新登记）", "ID type and number cannot change (enroll anew)")
               for k in changes if k in UPDATABLE_EXCLUDED]
        if bad:
            raise ValidationFailed(bad)
        with self._lock:
            row = self._require(worker_ref, active=True)
            current = json.loads(row["record_json"])
        merged = {k: v for k, v in current.items() if v is not None}
        merged.update(changes)
        if merged.get("id_valid_to") == "long_term":
            merged["id_valid_to"] = "长期"
        record = check_worker(merged)
        now = time.time()
        with self._tx() as c:
            row = self._require(worker_ref, active=True)
            c.execute("UPDATE workers SET name = ?, company_code = ?, company_name = ?, team_code = ?, role = ?, "
                      "record_json = ?, code_versions = ?, version = version + 1, updated_at = ? WHERE worker_ref = ?",
                      (record["name"], record["company_code"], record["company_name"], record["team_code"],
                       record["role"], json.dumps(record, ensure_ascii=False, sort_keys=True),
                       json.dumps(codes.versions(), sort_keys=True), now, worker_ref))
            self._change(c, "update", row, record, operator, now)
        self._notify("update", worker_ref)
        return self.get(worker_ref)

    def exit(self, worker_ref: str, data: Mapping[str, Any], *, operator: str, confirm_wages: bool = True) -> Worker:
        """退场: ``data`` has exit_date, evaluation, credit_remarks, wage_settled (see
        :func:`validate.validate_exit`). The gate refuses the worker from this commit on
        (listeners hear ``exit``); the record stays, marked exited; its face templates are deleted."""
        operator = self._operator(operator)
        with self._lock:
            row = self._require(worker_ref, active=True)
        info, errors = validate_exit(data, entry_date=row["entry_date"], confirm_wages=confirm_wages)
        if errors:
            raise ValidationFailed(errors)
        info["operator"] = operator
        now = time.time()
        with self._tx() as c:
            row = self._require(worker_ref, active=True)
            c.execute("UPDATE workers SET status = 'exited', exit_json = ?, version = version + 1, updated_at = ? "
                      "WHERE worker_ref = ?", (json.dumps(info, ensure_ascii=False), now, worker_ref))
            # the record stays; the biometrics do not (PIPL: no longer needed once the worker has left)
            c.execute("DELETE FROM templates WHERE worker_ref = ?", (worker_ref,))
            self._change(c, "exit", row, json.loads(row["record_json"]), operator, now, info["exit_date"])
        log.info("worker exited: %s", worker_ref)
        self._notify("exit", worker_ref)
        return self.get(worker_ref)

    def set_head_image(self, worker_ref: str, jpeg: bytes, *, operator: str) -> Worker:
        """The small head image the city gets (JPEG ≤ 50 KB, sent up as an update); ValueError otherwise."""
        check_head_image(jpeg)
        operator = self._operator(operator)
        now = time.time()
        with self._tx() as c:
            row = self._require(worker_ref, active=True)
            c.execute("UPDATE workers SET head_image = ?, version = version + 1, updated_at = ? WHERE worker_ref = ?",
                      (jpeg, now, worker_ref))
            row["head_image"] = jpeg
            self._change(c, "update", row, json.loads(row["record_json"]), operator, now)   # the city gets it
        return self.get(worker_ref)

    def head_image(self, worker_ref: str) -> bytes | None:
        with self._lock:
            row = self._conn.execute("SELECT head_image FROM workers WHERE worker_ref = ?", (worker_ref,)).fetchone()
        return None if row is None else row[0]

    def _require(self, worker_ref: str, *, active: bool) -> dict:
        row = self._row(worker_ref)
        if row is None:
            raise NotFound(worker_ref)
        if active and row["status"] != "active":
            raise InvalidState("该人员已退场", "the worker has exited")
        return row

    # ---- reading ------------------------------------------------------------------------
    def get(self, worker_ref: str, *, full_id: bool = False) -> Worker:
        """One record; the ID number masked unless ``full_id`` (grant it only to roles that need it)."""
        with self._lock:
            row = self._row(worker_ref)
            if row is None:
                raise NotFound(worker_ref)
            return self._worker(row, full_id)

    def find_by_id(self, id_type: str, id_number: str, *, full_id: bool = False) -> Worker | None:
        """The active record of this ID on the project (e.g. after an ID card swipe), or None."""
        with self._lock:
            r = self._conn.execute("SELECT worker_ref FROM workers WHERE id_type = ? AND id_number = ? "
                                   "AND status = 'active'", (id_type, id_number.strip().upper())).fetchone()
        return None if r is None else self.get(r[0], full_id=full_id)

    def find_latest_by_id(self, id_type: str, id_number: str, *, full_id: bool = False) -> Worker | None:
        """The active record of this ID on the project, else its most recent exited one, else
        None: staff at the gate are told "exited" rather than "not enrolled" when that is true."""
        with self._lock:
            r = self._conn.execute("SELECT worker_ref FROM workers WHERE id_type = ? AND id_number = ? "
                                   "ORDER BY status = 'active' DESC, updated_at DESC, rowid DESC LIMIT 1",
                                   (id_type, id_number.strip().upper())).fetchone()
        return None if r is None else self.get(r[0], full_id=full_id)

    def search(self, *, name: str | None = None, team: str | None = None, company: str | None = None,
               status: str | None = None, limit: int = 50, offset: int = 0, full_id: bool = False) -> Page:
        """Records by name (substring), team code, company (code or name substring), status
        (active / exited), newest first; ``limit`` 1..500."""
        limit, offset = max(1, min(int(limit), 500)), max(0, int(offset))
        where, args = [], []
        if name:
            where.append("name LIKE ? ESCAPE '\\'")
            args.append("%" + _like(name) + "%")
        if team:
            where.append("team_code = ?")
            args.append(team)
        if company:
            where.append("(company_code = ? OR company_name LIKE ? ESCAPE '\\')")
            args += [company, "%" + _like(company) + "%"]
        if status:
            where.append("status = ?")
            args.append(status)
        sql_where = (" WHERE " + " AND ".join(where)) if where else ""
        with self._lock:
            total = self._conn.execute(f"SELECT COUNT(*) FROM workers{sql_where}", args).fetchone()[0]
            refs = [r[0] for r in self._conn.execute(
                f"SELECT worker_ref FROM workers{sql_where} ORDER BY created_at DESC, worker_ref LIMIT ? OFFSET ?",
                (*args, limit, offset))]
            items = [self._worker(self._row(r), full_id) for r in refs]
        return Page(items, total, limit, offset)

    def active_refs(self) -> list[str]:
        with self._lock:
            return [r[0] for r in self._conn.execute("SELECT worker_ref FROM workers WHERE status = 'active'")]

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # ---- faces (see faces.py) -------------------------------------------------------------
    from .faces import (delete_templates, find_duplicate, gallery, set_templates,  # noqa: E402
                        set_templates_unless_duplicate, templates)
    from .chipphoto import chip_photo, set_chip_photo  # noqa: E402
    from .consent import consent_history, record_consent  # noqa: E402


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def check_head_image(data: bytes) -> None:
    if not isinstance(data, (bytes, bytearray)) or not data:
        raise ValueError("头像为空 / head image is empty")
    if len(data) > HEAD_IMAGE_MAX_BYTES:
        raise ValueError(f"头像超过50KB / head image is {len(data)} bytes, the limit is {HEAD_IMAGE_MAX_BYTES}")
    if not (data.startswith(b"\xff\xd8\xff") and data.rstrip(b"\x00").endswith(b"\xff\xd9")):
        raise ValueError("头像须为完整的JPEG图片 / head image must be a complete JPEG")
