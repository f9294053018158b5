"""Read side of the ledger: punches, gate events, tamper alerts, counters and stats, both
dialects (mixed into :class:`~.common.SqlStore`)."""

from __future__ import annotations

PUNCH_COLS = ("gateway_id, seq, event_id, project_code, gate_id, device_time, direction, worker_ref, "
              "kind, match_score, liveness_score, liveness_cue, snapshot_ref, manual_reason, operator, "
              "chain_status, received_at")
GATE_EVENT_COLS = ("gateway_id, seq, event_id, project_code, gate_id, device_time, device_date, event_kind, "
                   "ref_seq, direction, worker_ref, liveness_cue, snapshot_ref, manual_reason, operator, "
                   "chain_status, received_at")
# A punch's passage, for every reader of the ledger (listing, attendance, anomalies, dashboard,
# upload): "not_passed" when a not_passed gate event of its gateway refers to it (index
# ledger_gate_event_ref); NULL otherwise, and for rows that are not punches. The row is ``p``.
PASSAGE_SQL = ("CASE WHEN p.type = 'punch' AND EXISTS (SELECT 1 FROM ledger g WHERE g.type = 'gate_event' "
               "AND g.gateway_id = p.gateway_id AND g.ref_seq = p.seq AND g.event_kind = 'not_passed') "
               "THEN 'not_passed' END AS passage")
_PUNCHES_SQL = (f"SELECT {', '.join('p.' + c for c in PUNCH_COLS.split(', '))}, {PASSAGE_SQL} FROM punches p "
                "WHERE p.project_code = ? AND p.device_date = ? "
                "ORDER BY p.device_time, p.gateway_id, p.seq LIMIT ? OFFSET ?")


class LedgerReadQueries:
    def punches(self, project_code, date, limit, offset):
        return self._read(_PUNCHES_SQL, (project_code, date, limit, offset))

    def gate_events(self, gateway_id, date, kind, limit, offset):
        where, params = [], []
        for col, value in (("gateway_id", gateway_id), ("device_date", date), ("event_kind", kind)):
            if value is not None:
                where.append(f"{col} = ?")
                params.append(value)
        sql = (f"SELECT {GATE_EVENT_COLS} FROM gate_events" + (" WHERE " + " AND ".join(where) if where else "")
               + " ORDER BY device_time, gateway_id, seq LIMIT ? OFFSET ?")
        return self._read(sql, (*params, limit, offset))

    def alerts(self, state, gateway_id, limit, offset):
        where, params = [], []
        if state:
            where.append("state = ?")
            params.append(state)
        if gateway_id:
            where.append("gateway_id = ?")
            params.append(gateway_id)
        sql = ("SELECT alert_id, gateway_id, seq, kind, detail, detected_at, state, state_changed_at, "
               "state_operator, state_note FROM tamper_alerts" + (" WHERE " + " AND ".join(where) if where else "") +
               " ORDER BY alert_id LIMIT ? OFFSET ?")
        return self._read(sql, (*params, limit, offset))

    def set_alert_state(self, alert_id, state, now, operator=None, note=None):
        with self._write() as cur:
            self._x(cur, "UPDATE tamper_alerts SET state = ?, state_changed_at = ?, state_operator = ?, "
                         "state_note = ? WHERE alert_id = ?", (state, now, operator, note, alert_id))
            return cur.rowcount == 1

    def counters(self):
        return {r["name"]: r["value"] for r in self._read("SELECT name, value FROM counters ORDER BY name")}

    def stats(self):
        c = self.counters()
        counts = {r["type"]: r["n"] for r in self._read("SELECT type, count(*) AS n FROM ledger GROUP BY type")}
        chain = {r["chain_status"]: r["n"] for r in
                 self._read("SELECT chain_status, count(*) AS n FROM ledger GROUP BY chain_status")}
        alerts: dict[str, dict[str, int]] = {}
        for r in self._read("SELECT kind, state, count(*) AS n FROM tamper_alerts GROUP BY kind, state"):
            alerts.setdefault(r["kind"], {})[r["state"]] = r["n"]
        return {
            "punches": counts.get("punch", 0),
            "rejected_attempts": counts.get("rejected", 0),
            "gate_events": counts.get("gate_event", 0),
            "duplicates_dropped": c.get("duplicates_dropped", 0),
            "seq_conflicts": c.get("seq_conflicts", 0),
            "rejected": {k.split(":", 1)[1]: v for k, v in c.items() if k.startswith("rejected:")},
            "gateways": self._read("SELECT count(*) AS n FROM gateways")[0]["n"],
            "chain_status": chain,
            "tamper_alerts": alerts,
            "roster_changes": self._read("SELECT count(*) AS n FROM roster_changes")[0]["n"],
        }

    def ledger(self, gateway_id=None):
        cols = "gateway_id, seq, event_id, type, entry_hash, prev_hash, chain_status, batch_id, ingest_no"
        if gateway_id is None:
            return self._read(f"SELECT {cols} FROM ledger ORDER BY gateway_id, seq")
        return self._read(f"SELECT {cols} FROM ledger WHERE gateway_id = ? ORDER BY seq", (gateway_id,))
