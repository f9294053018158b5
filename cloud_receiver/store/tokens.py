"""API tokens (issue 6 roles, issue 7 revocation), both dialects (mixed into
:class:`~.common.SqlStore`, ``?`` placeholders translated there).

Only the SHA-256 of a token is stored (:mod:`cloud_receiver.auth` makes and checks them);
``prefix`` (the first characters of the secret) lets an operator tell tokens apart in a
listing. A revoked token keeps its row (name, role, times) for the audit trail; a live
token's name is unique (partial index ``api_tokens_live_name``).
"""

from __future__ import annotations

import json

TOKEN_COLS = ("token_id, name, role, scope, full_ids, prefix, created_at, expires_at, last_used_at, "
              "revoked_at")


def _token(row: dict) -> dict:
    row["scope"] = json.loads(row["scope"])
    row["full_ids"] = bool(row["full_ids"])
    return row


class TokenQueries:
    """Needs ``self._read``, ``self._write``, ``self._q`` and ``self._x``."""

    def create_token(self, name: str, role: str, scope: list[str], full_ids: bool, token_sha256: str,
                     prefix: str, now: float, expires_at: float | None = None) -> dict:
        """Store a new token's hash; ValueError if a live token already has this name."""
        with self._write() as cur:
            if self._q(cur, "SELECT 1 AS one FROM api_tokens WHERE name = ? AND revoked_at IS NULL", (name,)):
                raise ValueError(f"a live token named {name!r} exists (revoke it first)")
            rows = self._q(cur, "INSERT INTO api_tokens (name, role, scope, full_ids, token_sha256, prefix, "
                                "created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                                f"RETURNING {TOKEN_COLS}",
                           (name, role, json.dumps(list(scope), ensure_ascii=False), bool(full_ids),
                            token_sha256, prefix, now, expires_at))
        return _token(rows[0])

    def token_by_hash(self, token_sha256: str) -> dict | None:
        """The token row with this hash (revoked and expired ones too: the caller decides)."""
        rows = self._read(f"SELECT {TOKEN_COLS} FROM api_tokens WHERE token_sha256 = ?", (token_sha256,))
        return _token(rows[0]) if rows else None

    def list_tokens(self, include_revoked: bool = False) -> list[dict]:
        where = "" if include_revoked else " WHERE revoked_at IS NULL"
        return [_token(r) for r in self._read(f"SELECT {TOKEN_COLS} FROM api_tokens{where} ORDER BY token_id")]

    def revoke_token(self, name: str, now: float) -> int:
        """Revoke the live token of this name; → how many were revoked (0 or 1)."""
        with self._write() as cur:
            rows = self._q(cur, "SELECT token_id FROM api_tokens WHERE name = ? AND revoked_at IS NULL", (name,))
            for r in rows:
                self._x(cur, "UPDATE api_tokens SET revoked_at = ? WHERE token_id = ?", (now, r["token_id"]))
        return len(rows)

    def touch_token(self, token_id: int, now: float) -> None:
        with self._write() as cur:
            self._x(cur, "UPDATE api_tokens SET last_used_at = ? WHERE token_id = ?", (now, token_id))
