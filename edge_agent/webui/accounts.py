"""Staff accounts of the enrollment web UI: users, sessions, lock-out and the audit log, in one
small SQLite file of their own (``[edge.webui] accounts_db``).

* Passwords: ``hashlib.scrypt`` (n=2**14, r=8, p=1, 16-byte per-user salt), compared in
  constant time. An unknown user name costs the same scrypt as a known one.
* Sessions: 32 random bytes (``secrets``) in the cookie; only their SHA-256 is stored, so a
  copy of the database cannot be replayed as a cookie. Each session has its own CSRF token.
* Lock-out: ``threshold`` failures for one user name, or from one client address, within
  ``period_s`` lock that user / address for ``period_s`` (a correct password is refused too).
* Audit: who did what to which record (the registry's worker reference, never an ID number).

Thread-safe (one connection, one lock); the web handlers call it from the executor.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

log = logging.getLogger(__name__)

Role = Literal["enroller", "manager", "viewer"]
ROLES: tuple[str, ...] = ("enroller", "manager", "viewer")
# enroller = 劳资专管员 (enrolls, edits, exits); manager = site manager (also sees full ID numbers);
# viewer = looks only
CAN_EDIT = frozenset({"enroller", "manager"})
CAN_SEE_FULL_ID = frozenset({"manager"})
USERNAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,32}$", re.ASCII)
MIN_PASSWORD, MAX_PASSWORD = 8, 256
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    username TEXT PRIMARY KEY, role TEXT NOT NULL, password TEXT NOT NULL,
    created_at REAL NOT NULL, disabled INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS sessions (
    token_hash TEXT PRIMARY KEY, username TEXT NOT NULL REFERENCES users(username),
    csrf TEXT NOT NULL, created_at REAL NOT NULL, expires_at REAL NOT NULL, lang TEXT NOT NULL DEFAULT 'zh');
CREATE TABLE IF NOT EXISTS login_failures (
    key TEXT PRIMARY KEY, count INTEGER NOT NULL, first_at REAL NOT NULL, locked_until REAL NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, username TEXT, client TEXT,
    action TEXT NOT NULL, target TEXT, detail TEXT);
"""


class AccountError(ValueError):
    """Bad user name, role or password for an account change; the message is for the operator."""


@dataclass(frozen=True)
class Session:
    username: str
    role: str
    csrf: str
    expires_at: float
    lang: str

    @property
    def can_edit(self) -> bool:
        return self.role in CAN_EDIT

    @property
    def sees_full_id(self) -> bool:
        return self.role in CAN_SEE_FULL_ID


@dataclass(frozen=True)
class LoginResult:
    ok: bool
    token: str = ""
    session: Session | None = None
    locked: bool = False          # refused because the user or the address is locked out


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P,
                            maxmem=64 * 1024 * 1024, dklen=32)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        got = hashlib.scrypt(password.encode("utf-8"), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p),
                             maxmem=64 * 1024 * 1024, dklen=len(digest) // 2)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got.hex(), digest)


_DUMMY_HASH = hash_password("not a password", b"\0" * 16)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


class Accounts:
    def __init__(self, path: str | Path, *, session_ttl_s: float = 8 * 3600.0, lockout_threshold: int = 5,
                 lockout_period_s: float = 900.0, clock=time.time):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.session_ttl_s = session_ttl_s
        self.threshold = lockout_threshold
        self.period_s = lockout_period_s
        self.clock = clock
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode = WAL")
        self._conn.execute("PRAGMA busy_timeout = 5000")
        self._conn.executescript(SCHEMA)
        try:
            self.path.chmod(0o600)          # password hashes and session hashes: the service only
        except OSError:
            log.warning("could not restrict permissions of the accounts database")

    # ---- users ----
    def add_user(self, username: str, role: str, password: str, *, replace: bool = False) -> None:
        if not USERNAME_RE.fullmatch(username or ""):
            raise AccountError("用户名须为1-32位字母、数字、_.- / user name: 1-32 letters, digits, _ . -")
        if role not in ROLES:
            raise AccountError(f"角色须为 {'/'.join(ROLES)} / role must be one of {', '.join(ROLES)}")
        if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
            raise AccountError(f"密码长度须为{MIN_PASSWORD}-{MAX_PASSWORD}位 / password: "
                               f"{MIN_PASSWORD}-{MAX_PASSWORD} characters")
        hashed = hash_password(password)
        with self._lock:
            exists = self._conn.execute("SELECT 1 FROM users WHERE username = ?", (username,)).fetchone()
            if exists and not replace:
                raise AccountError("用户已存在 / user exists (use --replace to reset the password)")
            self._conn.execute("BEGIN IMMEDIATE")
            self._conn.execute("INSERT OR REPLACE INTO users (username, role, password, created_at) VALUES (?,?,?,?)",
                               (username, role, hashed, self.clock()))
            self._conn.execute("DELETE FROM sessions WHERE username = ?", (username,))   # a reset logs out
            self._conn.execute("COMMIT")
        self.audit(username, None, "user.set", username, role)

    def users(self) -> list[tuple[str, str]]:
        with self._lock:
            return [tuple(r) for r in self._conn.execute("SELECT username, role FROM users ORDER BY username")]

    # ---- lock-out ----
    def _locked(self, key: str, now: float) -> bool:
        row = self._conn.execute("SELECT locked_until FROM login_failures WHERE key = ?", (key,)).fetchone()
        return bool(row) and row[0] > now

    def _fail(self, key: str, now: float) -> None:
        row = self._conn.execute("SELECT count, first_at FROM login_failures WHERE key = ?", (key,)).fetchone()
        count, first = (row[0] + 1, row[1]) if row and now - row[1] < self.period_s else (1, now)
        until = now + self.period_s if count >= self.threshold else 0.0
        self._conn.execute("INSERT OR REPLACE INTO login_failures (key, count, first_at, locked_until) "
                           "VALUES (?,?,?,?)", (key, 0 if until else count, now if until else first, until))
        if until:
            log.warning("login lock-out: %s locked for %.0f s", key.split(":", 1)[0], self.period_s)

    def login(self, username: str, password: str, client: str, lang: str = "zh") -> LoginResult:
        now = self.clock()
        name = (username or "")[:64]
        keys = (f"user:{name.lower()}", f"ip:{client}")
        with self._lock:
            locked = any(self._locked(k, now) for k in keys)
            row = self._conn.execute("SELECT role, password, disabled FROM users WHERE username = ?",
                                     (name,)).fetchone()
        # scrypt outside the lock, and always (same cost for unknown names and locked accounts)
        good = verify_password(password or "", row[1] if row else _DUMMY_HASH) and bool(row) and not row[2]
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                if locked or not good:
                    if not locked:
                        for k in keys:
                            self._fail(k, now)
                    self._conn.execute("COMMIT")
                else:
                    self._conn.execute("DELETE FROM login_failures WHERE key IN (?, ?)", keys)
                    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
                    expires = now + self.session_ttl_s
                    self._conn.execute("INSERT INTO sessions (token_hash, username, csrf, created_at, expires_at, lang)"
                                       " VALUES (?,?,?,?,?,?)", (_token_hash(token), name, csrf, now, expires, lang))
                    self._conn.execute("DELETE FROM sessions WHERE expires_at <= ?", (now,))
                    self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        self.audit(name if row else None, client, "login.locked" if locked else "login.ok" if good else "login.failed")
        if locked or not good:
            return LoginResult(False, locked=locked)
        return LoginResult(True, token, Session(name, row[0], csrf, expires, lang))

    # ---- sessions ----
    def session(self, token: str) -> Session | None:
        if not token or len(token) > 128:
            return None
        now = self.clock()
        with self._lock:
            row = self._conn.execute(
                "SELECT s.username, u.role, s.csrf, s.expires_at, s.lang, u.disabled FROM sessions s "
                "JOIN users u ON u.username = s.username WHERE s.token_hash = ?", (_token_hash(token),)).fetchone()
        if row is None or row[3] <= now or row[5]:
            return None
        return Session(row[0], row[1], row[2], row[3], row[4])

    def set_lang(self, token: str, lang: str) -> None:
        with self._lock:
            self._conn.execute("UPDATE sessions SET lang = ? WHERE token_hash = ?", (lang, _token_hash(token)))

    def logout(self, token: str) -> None:
        with self._lock:
            self._conn.execute("DELETE FROM sessions WHERE token_hash = ?", (_token_hash(token),))

    # ---- audit ----
    def audit(self, username: str | None, client: str | None, action: str, target: str | None = None,
              detail: str | None = None) -> None:
        """One audit row. ``target`` is a worker reference or an account name, never an ID number."""
        with self._lock:
            self._conn.execute("INSERT INTO audit (at, username, client, action, target, detail) VALUES (?,?,?,?,?,?)",
                               (self.clock(), username, client, action, target, detail))
        log.info("audit: %s by %s", action, username or "-")

    def audit_rows(self, limit: int = 100) -> list[dict]:
        with self._lock:
            cur = self._conn.execute("SELECT at, username, client, action, target, detail FROM audit "
                                     "ORDER BY id DESC LIMIT ?", (limit,))
            names = [d[0] for d in cur.description]
            return [dict(zip(names, r)) for r in cur.fetchall()]

    def close(self) -> None:
        with self._lock:
            self._conn.close()
