"""Face templates of the registry: encrypted at rest, only for consenting active workers.

These functions are methods of :class:`~.registry.WorkerRegistry` (bound there); they
are kept apart because they are the only part that touches biometrics. A template is
stored as float32 bytes encrypted with the registry's :class:`~.crypto.TemplateKey`;
the associated data names the project, the worker and the slot.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np

from ..vision.gallery import Gallery
from .crypto import TemplateKeyError

log = logging.getLogger(__name__)

MAX_TEMPLATES_PER_WORKER = 16


@dataclass(frozen=True)
class DuplicateMatch:
    """This face already belongs to another record: the UI stops and shows both."""
    worker_ref: str
    score: float


def _key(self):
    if self.key is None:
        raise TemplateKeyError("未配置模板密钥 / no template key: face templates are unavailable")
    return self.key


def _as_matrix(templates, dim: int | None = None) -> np.ndarray:
    t = np.atleast_2d(np.asarray(templates, np.float32))
    if t.ndim != 2 or t.shape[0] < 1 or t.shape[1] < 8 or (dim and t.shape[1] != dim):
        raise ValueError("模板形状错误 / templates must be a (k, dim) array")
    if t.shape[0] > MAX_TEMPLATES_PER_WORKER:
        raise ValueError(f"模板过多 / at most {MAX_TEMPLATES_PER_WORKER} templates per worker")
    norms = np.linalg.norm(t, axis=1)
    if not np.all(np.isfinite(norms)) or np.any(norms == 0):
        raise ValueError("模板无效 / template with zero or non-finite norm")
    return t


def set_templates(self, worker_ref: str, templates, *, operator: str) -> int:
    """Replace the worker's templates ((k, dim) float32). Only for an active worker whose
    consent is ``granted`` (InvalidState otherwise). Returns how many are stored."""
    key = _key(self)
    operator = self._operator(operator)
    t = _as_matrix(templates)
    with self._tx() as c:
        _store(self, c, key, worker_ref, t)
    log.info("templates stored for %s: %s (by operator)", worker_ref, len(t))
    self._notify("templates", worker_ref)
    return len(t)


def set_templates_unless_duplicate(self, worker_ref: str, templates, threshold: float, *,
                                   operator: str) -> DuplicateMatch | None:
    """:meth:`find_duplicate` and :meth:`set_templates` in one write transaction: returns the
    other worker whose face this is (nothing stored), or None once the templates are stored.
    Two enrollments of the same face at once cannot both pass the check (the transaction is
    ``BEGIN IMMEDIATE``, so this holds across connections and processes too)."""
    key = _key(self)
    operator = self._operator(operator)
    t = _as_matrix(templates)
    with self._tx() as c:
        dup = _best_match(self, key, t, threshold, worker_ref)
        if dup is None:
            _store(self, c, key, worker_ref, t)
    if dup is not None:
        log.warning("templates refused for %s: the face matches another worker's record", worker_ref)
        return dup
    log.info("templates stored for %s: %s (by operator, duplicate-checked)", worker_ref, len(t))
    self._notify("templates", worker_ref)
    return None


def _store(self, c, key, worker_ref: str, t: np.ndarray) -> None:
    from .registry import InvalidState
    row = self._require(worker_ref, active=True)
    if row["consent"] != "granted":
        raise InvalidState("未取得人脸信息处理同意，不能保存人脸模板",
                           "no recorded consent to face processing: templates cannot be stored")
    now = time.time()
    c.execute("DELETE FROM templates WHERE worker_ref = ?", (worker_ref,))
    c.executemany("INSERT INTO templates (worker_ref, slot, dim, blob, created_at) VALUES (?, ?, ?, ?, ?)",
                  [(worker_ref, i, t.shape[1], key.encrypt(t[i].tobytes(), self.project_code, worker_ref, str(i)), now)
                   for i in range(len(t))])
    c.execute("UPDATE workers SET updated_at = ? WHERE worker_ref = ?", (now, worker_ref))


def delete_templates(self, worker_ref: str, *, operator: str) -> int:
    self._operator(operator)
    with self._tx() as c:
        n = c.execute("DELETE FROM templates WHERE worker_ref = ?", (worker_ref,)).rowcount
    self._notify("templates", worker_ref)
    return n


def templates(self, worker_ref: str) -> np.ndarray:
    """Decrypted templates of one worker ((k, dim), possibly (0, 0)); a blob that does not
    decrypt raises :class:`~.crypto.TemplateDecryptError`."""
    key = _key(self)
    with self._lock:
        rows = self._conn.execute("SELECT slot, dim, blob FROM templates WHERE worker_ref = ? ORDER BY slot",
                                  (worker_ref,)).fetchall()
    return _decode(key, self.project_code, [(worker_ref, *r) for r in rows])


def _decode(key, project_code: str, rows) -> np.ndarray:
    out = []
    for ref, slot, dim, blob in rows:
        raw = key.decrypt(blob, project_code, ref, str(slot))
        v = np.frombuffer(raw, np.float32)
        if v.shape != (dim,):
            raise TemplateKeyError("模板长度不符 / decrypted template has the wrong length")
        out.append(v)
    return np.vstack(out) if out else np.empty((0, 0), np.float32)


def _consenting_rows(self, exclude: str | None = None):
    with self._lock:
        return self._conn.execute(
            "SELECT t.worker_ref, t.slot, t.dim, t.blob FROM templates t JOIN workers w USING (worker_ref) "
            "WHERE w.status = 'active' AND w.consent = 'granted' AND t.worker_ref IS NOT ? "
            "ORDER BY t.worker_ref, t.slot", (exclude,)).fetchall()


def gallery(self, dim: int = 128) -> Gallery:
    """A vision :class:`Gallery` of every active, consenting worker's templates. A template
    that does not decrypt raises (never a silently smaller gallery)."""
    key = _key(self)
    rows = _consenting_rows(self)
    if not rows:
        return Gallery(dim)
    t = _decode(key, self.project_code, rows)
    return Gallery.from_arrays(t, [r[0] for r in rows])


def find_duplicate(self, templates, threshold: float, *, exclude: str | None = None) -> DuplicateMatch | None:
    """The other active, consenting worker whose face ``templates`` show (best cosine ≥
    ``threshold``), or None. ``exclude``: the record being edited. To store templates only
    when there is no such worker, use :meth:`set_templates_unless_duplicate` (atomic)."""
    return _best_match(self, _key(self), _as_matrix(templates), threshold, exclude)


def _best_match(self, key, probe: np.ndarray, threshold: float, exclude: str | None) -> DuplicateMatch | None:
    probe = probe / np.linalg.norm(probe, axis=1, keepdims=True)
    rows = _consenting_rows(self, exclude)
    if not rows:
        return None
    t = _decode(key, self.project_code, rows)
    if t.shape[1] != probe.shape[1]:
        raise ValueError("模板维度不符 / template dimension differs from the stored ones")
    t = t / np.linalg.norm(t, axis=1, keepdims=True)
    s = (t @ probe.T).max(axis=1)
    i = int(np.argmax(s))
    return DuplicateMatch(rows[i][0], float(s[i])) if s[i] >= threshold else None
