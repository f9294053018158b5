"""Gateway registry, heartbeat/status and roster-change rows, both dialects (mixed into
:class:`~.common.SqlStore`, ``?`` placeholders translated there)."""

from __future__ import annotations

from .base import GatewayKeyConflict

GATEWAY_COLS = ("gateway_id, public_key, project_code, site, vendor, registered_at, key_replaced_at, "
                "last_seen, rx_through_seq, last_heartbeat_at, head_seq, acked_through_seq, backlog, "
                "oldest_unacked_age_s, clock_offset_s, boot_id, software_version, disk_free_bytes, "
                "disk_alarm, ledger_ok, devices_json, online, status_since, status_reason, status_at, revoked_at")


class GatewayQueries:
    # ---- gateways -------------------------------------------------------------
    def register_gateway(self, gateway_id, public_key_hex, project_code, vendor, site=None, *,
                         replace=False, now):
        with self._write() as cur:
            rows = self._q(cur, "SELECT public_key FROM gateways WHERE gateway_id = ?", (gateway_id,))
            if not rows:
                self._x(cur, "INSERT INTO gateways (gateway_id, public_key, project_code, site, vendor, "
                             "registered_at) VALUES (?, ?, ?, ?, ?, ?)",
                        (gateway_id, public_key_hex, project_code, site, vendor, now))
                return "registered"
            same = rows[0]["public_key"] == public_key_hex
            if not same and not replace:
                raise GatewayKeyConflict(f"gateway {gateway_id} is registered with another key")
            # a replaced key (the gateway's new box) also lifts a revocation of the old one
            self._x(cur, "UPDATE gateways SET public_key = ?, project_code = ?, site = ?, vendor = ?, "
                         "key_replaced_at = CASE WHEN ? THEN ? ELSE key_replaced_at END, "
                         "revoked_at = CASE WHEN ? THEN NULL ELSE revoked_at END WHERE gateway_id = ?",
                    (public_key_hex, project_code, site, vendor, not same, now, not same, gateway_id))
            return "updated" if same else "replaced"

    def get_gateway(self, gateway_id):
        rows = self._read(f"SELECT {GATEWAY_COLS} FROM gateways WHERE gateway_id = ?", (gateway_id,))
        return rows[0] if rows else None

    def list_gateways(self):
        return self._read(f"SELECT {GATEWAY_COLS} FROM gateways ORDER BY gateway_id")

    def purge_exited_photos(self, cutoff):
        """Clear head photos of people with no active membership whose last one changed before
        ``cutoff`` (cloud_receiver.retention); returns how many were cleared."""
        with self._write() as cur:
            self._x(cur, "UPDATE persons SET head_image_b64 = NULL WHERE head_image_b64 IS NOT NULL "
                         "AND NOT EXISTS (SELECT 1 FROM memberships m WHERE m.id_type = persons.id_type "
                         "AND m.id_number = persons.id_number AND (m.status = 'active' OR m.updated_at >= ?))",
                    (cutoff,))
            return cur.rowcount

    def revoke_gateway(self, gateway_id, now):
        """Mark a registered gateway revoked (idempotent: the first time stays). False if unknown."""
        with self._write() as cur:
            rows = self._q(cur, "SELECT revoked_at FROM gateways WHERE gateway_id = ?", (gateway_id,))
            if not rows:
                return False
            if rows[0]["revoked_at"] is None:
                self._x(cur, "UPDATE gateways SET revoked_at = ? WHERE gateway_id = ?", (now, gateway_id))
            return True

    def watermark(self, gateway_id):
        rows = self._read("SELECT rx_through_seq FROM gateways WHERE gateway_id = ?", (gateway_id,))
        return rows[0]["rx_through_seq"] if rows else 0

    def update_heartbeat(self, gateway_id, hb, now):
        with self._write() as cur:
            self._x(cur, "UPDATE gateways SET last_seen = ?, last_heartbeat_at = ?, head_seq = ?, "
                         "acked_through_seq = ?, backlog = ?, oldest_unacked_age_s = ?, clock_offset_s = ?, "
                         "boot_id = ?, software_version = ?, disk_free_bytes = ?, disk_alarm = ?, ledger_ok = ?, "
                         "devices_json = ? WHERE gateway_id = ?",
                    (now, now, hb["head_seq"], hb["acked_through_seq"], hb["backlog"],
                     hb["oldest_unacked_age_s"], hb["clock_offset_s"], hb["boot_id"], hb["software_version"],
                     hb["disk_free_bytes"], hb["disk_alarm"], hb["ledger_ok"], hb["devices_json"], gateway_id))

    def update_status(self, gateway_id, online, since, reason, software_version, now):
        """Apply a status unless an equal-or-newer ``since`` was already applied... older ones are ignored."""
        with self._write() as cur:
            self._x(cur, "UPDATE gateways SET online = ?, status_since = ?, status_reason = ?, status_at = ?, "
                         "software_version = ?, last_seen = ? "
                         "WHERE gateway_id = ? AND (status_since IS NULL OR status_since <= ?)",
                    (online, since, reason, now, software_version, now, gateway_id, since))
            return cur.rowcount == 1

    def add_roster_change(self, row, now):
        cols = list(row) + ["received_at"]
        with self._write() as cur:
            self._x(cur, f"INSERT INTO roster_changes ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))}) "
                         "ON CONFLICT (change_id) DO NOTHING", (*row.values(), now))
            return cur.rowcount == 1
