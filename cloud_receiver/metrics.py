"""``GET /metrics``: Prometheus text format 0.0.4 for the receiver (hand-written, no dependency).

Served by the API app (:func:`cloud_receiver.api.make_app`), so behind the same
``Authorization: Bearer`` token as the rest of the API (city role only): Prometheus scrapes it with
``authorization: {credentials_file: ...}``. Only aggregates are exported: no gateway,
project, worker or person appears in a label (the number of series does not grow with
the number of gateways), and nothing read from roster messages is ever touched.

Two sources:

* the store (shared by every receiver instance, survives restarts): the ``counters``
  table (duplicates dropped, rejected messages by reason, sequence conflicts, internal
  errors), tamper alerts not resolved, gateways registered / online / silent, and the
  sum of the backlogs the gateways report in their heartbeats;
* this process (reset on restart, one series per instance): messages handled by
  channel and outcome, ledger entries newly stored by type, punch batches by outcome,
  and the ingest latency histogram (the consumer's handle time: verify + store +
  commit, store retries included), fed by :func:`observe` from the consumer.
"""

from __future__ import annotations

import asyncio
import collections
import time

from aiohttp import web

from shared_schema.promtext import CONTENT_TYPE, CounterVec, Exposition, Histogram

from .auth import require_role
from .openapi import op

CHANNELS = ("punches", "heartbeat", "status", "roster")

INGEST_SECONDS = Histogram("rn_receiver_ingest_seconds",
                           "Consumer handle time per MQTT message (verify, store, commit), seconds.", ("channel",))
MESSAGES = CounterVec("rn_receiver_messages_total", "MQTT messages handled by this process.",
                      ("channel", "outcome"))
ENTRIES = CounterVec("rn_receiver_entries_stored_total",
                     "Ledger entries newly stored by this process (duplicates excluded), by entry type.", ("type",))
BATCHES = CounterVec("rn_receiver_batches_total", "Punch batches handled by this process, by outcome.",
                     ("outcome",))


def observe(out, seconds: float) -> None:
    """Called by the consumer once per message with the ingest :class:`~cloud_receiver.ingest.Outcome`
    (None: internal error) and how long handling it took."""
    if out is None:
        channel, outcome = "unknown", "error"
    else:
        v = out.verdict
        channel = v.channel if v.channel in CHANNELS else "other"
        outcome = "accepted" if v.ok else "rejected"
        if channel == "punches":
            BATCHES.inc("stored" if out.result is not None else "rejected")
        if out.result is not None and out.result.new:
            new = set(out.result.new)
            for typ, n in collections.Counter(r.type for r in v.rows if r.seq in new).items():
                ENTRIES.inc(typ, n=n)
    MESSAGES.inc(channel, outcome)
    INGEST_SECONDS.observe(seconds, channel)


def collect(store, silent_after_s: float, now: float | None = None) -> str:
    """The exposition text (blocking store reads: run it in an executor)."""
    now = time.time() if now is None else now
    c = store.counters()
    alerts = collections.Counter((a["kind"], a["state"]) for a in store.open_tamper_alerts())
    gws = store.list_gateways()
    out = Exposition()
    out.metric("rn_receiver_up", "gauge", "1 when the store answered this scrape.", 1)
    out.metric("rn_receiver_duplicates_dropped_total", "counter",
               "Resent entries already stored (idempotent drop), all receivers.", c.get("duplicates_dropped", 0))
    out.metric("rn_receiver_seq_conflicts_total", "counter",
               "Resent entries whose content differs from the stored one, all receivers.", c.get("seq_conflicts", 0))
    out.metric("rn_receiver_internal_errors_total", "counter",
               "Messages that hit an internal error, all receivers.", c.get("internal_errors", 0))
    out.metric("rn_receiver_rejected_messages_total", "counter",
               "Rejected MQTT messages by reason, all receivers.",
               [({"reason": k.split(":", 1)[1]}, v) for k, v in sorted(c.items()) if k.startswith("rejected:")])
    out.metric("rn_receiver_tamper_alerts_open", "gauge", "Tamper alerts not resolved, by kind and state.",
               [({"kind": k, "state": s}, n) for (k, s), n in sorted(alerts.items())])
    silent = sum(1 for g in gws if g.get("last_seen") is None or now - g["last_seen"] > silent_after_s)
    out.metric("rn_receiver_gateways_registered", "gauge", "Registered gateways.", len(gws))
    out.metric("rn_receiver_gateways_online", "gauge", "Gateways whose last status said online.",
               sum(1 for g in gws if g.get("online")))
    out.metric("rn_receiver_gateways_silent", "gauge", "Gateways not heard from within the silence threshold.",
               silent)
    out.metric("rn_receiver_gateway_backlog_entries", "gauge",
               "Sum of the unacked backlogs reported in the gateways' last heartbeats.",
               sum(g.get("backlog") or 0 for g in gws))
    out.metric("rn_receiver_gateways_disk_alarm", "gauge", "Gateways whose last heartbeat raised the disk alarm.",
               sum(1 for g in gws if g.get("disk_alarm")))
    for family in (MESSAGES, ENTRIES, BATCHES, INGEST_SECONDS):
        family.render_into(out)
    return out.text()


@op("Prometheus指标 / Prometheus metrics (city only)", roles=("city",), produces=(CONTENT_TYPE,), tag="meta")
async def handle(request: web.Request) -> web.Response:
    from .api import OPTS_KEY, STORE_KEY   # api registers this route; imported here to avoid a cycle

    require_role(request, "city")

    loop = asyncio.get_running_loop()
    text = await loop.run_in_executor(None, collect, request.app[STORE_KEY],
                                      request.app[OPTS_KEY]["silent_after_s"])
    return web.Response(text=text, headers={"Content-Type": CONTENT_TYPE})
