"""``GET /metrics`` on the gateway: Prometheus text format 0.0.4 on a loopback-only port.

A stdlib ``ThreadingHTTPServer`` in a daemon thread, started by :class:`~edge_agent.agent.EdgeAgent`
when a listen address is configured (``[edge.metrics] listen = "127.0.0.1:9108"``; off by
default). It refuses any address that is not loopback: a site box is scraped by a local
node-exporter / agent or through an SSH tunnel, never from the site network. No
authentication, therefore nothing personal: labels are gate ids, device ids, outcomes and
event kinds from the configuration and the code, never a worker, a name or an ID number.

Exported: ledger head seq, acked-through seq, backlog (pending / sent), oldest unacked age,
batches sent / acked / resent / rejected, ack timeouts, MQTT connects and link losses, the ack
latency histogram, gate decisions by gate and outcome with their latency (commit + open
pulse), liveness rejections, gate events by kind, gate fault state, turnstile health per
device (0 ok, 1 degraded, 2 down), disk free bytes and the disk alarm, heartbeats sent.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from shared_schema.promtext import CONTENT_TYPE, Exposition

log = logging.getLogger(__name__)

HEALTH_VALUE = {"ok": 0, "degraded": 1, "down": 2}


def parse_listen(listen: str) -> tuple[str, int]:
    """``"127.0.0.1:9108"`` / ``"[::1]:9108"`` / ``"localhost:9108"`` → (host, port); loopback only."""
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"metrics listen address must be HOST:PORT, not {listen!r}")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if host != "localhost":
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise ValueError(f"metrics listen address must be loopback (127.0.0.1, ::1, localhost), not {host!r}")
    return host, int(port)


def collect(agent) -> str:
    """The exposition text for a running :class:`~edge_agent.agent.EdgeAgent`."""
    out = Exposition()
    st = agent.ledger.stats()
    sync, c = agent.sync, dict(agent.sync.counters)
    out.metric("rn_edge_ledger_head_seq", "gauge", "Highest committed ledger sequence number.", st.head_seq)
    out.metric("rn_edge_acked_through_seq", "gauge", "Every entry up to this seq is acked by the city.",
               st.acked_through_seq)
    out.metric("rn_edge_backlog_entries", "gauge", "Ledger entries not yet acked, by outbox state.",
               [({"state": "pending"}, st.pending), ({"state": "sent"}, st.sent)])
    out.metric("rn_edge_oldest_unacked_age_seconds", "gauge", "Age of the oldest unacked entry (0: none).",
               st.oldest_unacked_age_s or 0.0)
    out.metric("rn_edge_ledger_ok", "gauge", "1 when the ledger verified at start.", bool(agent.ledger.ledger_ok))
    for name, key, help in (
            ("rn_edge_batches_sent_total", "batches_sent", "Punch batches published."),
            ("rn_edge_batches_acked_total", "batches_acked", "Punch batches acked (verified application ack)."),
            ("rn_edge_batches_resent_total", "batches_resent",
             "In-flight batches put back to pending (link loss, ack timeout, rejection) to be sent again."),
            ("rn_edge_batches_rejected_total", "batches_rejected", "Batches the receiver rejected."),
            ("rn_edge_entries_sent_total", "entries_sent", "Ledger entries published (resends included)."),
            ("rn_edge_ack_timeouts_total", "ack_timeouts", "Ack timeouts (the in-flight batches went back)."),
            ("rn_edge_acks_invalid_total", "ack_invalid", "Messages on the ack topic that failed verification."),
            ("rn_edge_mqtt_connects_total", "connects", "Successful MQTT connections (the first one included)."),
            ("rn_edge_mqtt_link_lost_total", "link_lost", "MQTT links lost after being up (reconnects follow).")):
        out.metric(name, "counter", help, c.get(key, 0))
    out.metric("rn_edge_mqtt_connected", "gauge", "1 while the link to the city broker is up.",
               sync.connected.is_set())
    out.metric("rn_edge_inflight_batches", "gauge", "Batches awaiting their ack.", sync.inflight_batches)
    sync.ack_seconds.render_into(out)
    rec = agent.recorder
    rec.decisions.render_into(out)
    rec.decision_seconds.render_into(out)
    out.metric("rn_edge_liveness_rejections_total", "counter",
               "Rejected attempts whose reject_reason starts with 'liveness', by gate.",
               [({"gate": g}, rec.decisions.value(g, "liveness")) for g in sorted(agent.gates)])
    rec.events.render_into(out)
    out.metric("rn_edge_gate_fault", "gauge", "1 while the gate refuses face entry (turnstile fault).",
               [({"gate": g}, ctl.fault is not None) for g, ctl in sorted(agent.gates.items())])
    health = []
    for t in agent.turnstiles.values():
        h = t.health()
        health.append(({"device": t.id, "kind": t.kind}, HEALTH_VALUE.get(h.state, 2)))
    out.metric("rn_edge_turnstile_health", "gauge", "Turnstile driver health: 0 ok, 1 degraded, 2 down.", health)
    ds = agent.disk.check()
    out.metric("rn_edge_disk_free_bytes", "gauge", "Free bytes on the ledger's file system.", ds.free_bytes)
    out.metric("rn_edge_disk_alarm", "gauge", "1 when free space is below the configured threshold.", ds.alarm)
    out.metric("rn_edge_heartbeats_sent_total", "counter", "Heartbeats handed to the broker.", agent.heartbeat.sent)
    return out.text()


class MetricsServer:
    def __init__(self, agent, listen: str):
        host, port = parse_listen(listen)
        self.agent = agent

        class Handler(BaseHTTPRequestHandler):
            server_version = "edge-agent-metrics"

            def do_GET(self):  # noqa: N802 - http.server's naming
                if self.path.split("?", 1)[0] != "/metrics":
                    self.send_error(404)
                    return
                try:
                    body = collect(agent).encode("utf-8")
                except Exception:  # noqa: BLE001 - a scrape never takes the agent down
                    log.exception("metrics collection failed")
                    self.send_error(500)
                    return
                self.send_response(200)
                self.send_header("Content-Type", CONTENT_TYPE)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, fmt, *args):   # no access log on stderr
                pass

        server_cls = ThreadingHTTPServer
        if ":" in host:
            server_cls = type("V6Server", (ThreadingHTTPServer,), {"address_family": socket.AF_INET6})
        self.httpd = server_cls((host, port), Handler)
        self.httpd.daemon_threads = True
        self.address = self.httpd.server_address[:2]
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="metrics-http", daemon=True)

    def start(self) -> "MetricsServer":
        self._thread.start()
        log.info("metrics on http://%s:%s/metrics", *self.address)
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self.httpd.shutdown()
        self.httpd.server_close()
