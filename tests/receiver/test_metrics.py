"""``GET /metrics`` on the receiver: real ingest through the consumer's message handler, then a
scrape via the aiohttp test client, parsed strictly (both dialects)."""

import asyncio
import time
from types import SimpleNamespace

from aiohttp.test_utils import TestClient, TestServer

from cloud_receiver.api import make_app
from cloud_receiver.config import load_config
from cloud_receiver.consumer import Consumer
from devtools.promparse import parse
from shared_schema import envelope

from .conftest import write_config
from .helpers import FakeGateway, topic

TOKEN = "test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ID_NUMBER, NAME = "11010519491231002X", "张三"


class FakeMqttClient:
    def __init__(self):
        self.acks, self.published = [], []

    def ack(self, mid, qos):
        self.acks.append(mid)

    def publish(self, topic, payload, qos=0):
        self.published.append(topic)


def scrape(store) -> tuple[int, str, str]:
    async def main():
        async with TestClient(TestServer(make_app(store, {TOKEN}, silent_after_s=3600))) as c:
            assert (await c.get("/metrics")).status == 401          # same bearer token as the API
            r = await c.get("/metrics", headers=AUTH)
            return r.status, r.headers["Content-Type"], await r.text()
    return asyncio.run(main())


def test_metrics_move_with_real_ingest_and_leak_nothing(tmp_path, store, store_url, gw, city_key):
    cfg = load_config(write_config(tmp_path, store_url=store_url))
    consumer = Consumer(cfg, store, city_key)          # not started: we feed its message handler
    client = FakeMqttClient()
    mid = iter(range(1, 1000))

    def deliver(t, payload):
        consumer._on_message(client, None, SimpleNamespace(topic=t, payload=payload, mid=next(mid), qos=1))

    status, ctype, text = scrape(store)
    assert status == 200 and ctype.startswith("text/plain; version=0.0.4")
    before = parse(text)
    assert before.get("rn_receiver_gateways_registered") == 1
    assert before.get("rn_receiver_gateways_silent") == 1             # never heard from
    base_batches = before.total("rn_receiver_batches_total", outcome="stored")

    gw.add(10, rejected_every=5)
    deliver(topic(gw), gw.sealed_batch(gw.entries[:4]))
    deliver(topic(gw), gw.sealed_batch(gw.entries[:4]))                # resend: 4 duplicates
    deliver(topic(gw), gw.sealed_batch(gw.entries[6:]))                # 5, 6 missing: gap
    deliver(topic(gw), gw.seal(gw.batch(gw.entries[4:6]), key=envelope.generate_key()))   # forged
    deliver(topic(gw, "heartbeat"), gw.seal(gw.heartbeat(backlog=7)))
    deliver(topic(gw, "status"), gw.seal(gw.status(True)))
    deliver(topic(gw, "roster"), gw.seal(gw.roster(ID_NUMBER, name=NAME, worker_ref="W0001")))
    deliver(topic(FakeGateway("GW-NOPE")), b"garbage")
    store.sweep(time.time() + 3600, 60)                                # the gap becomes a tamper alert
    assert len(client.acks) == 8

    status, _, text = scrape(store)
    m = parse(text)
    assert m.types["rn_receiver_ingest_seconds"] == "histogram"
    assert m.get("rn_receiver_duplicates_dropped_total") == 4
    assert m.get("rn_receiver_rejected_messages_total", reason="bad_signature") == 1
    assert m.get("rn_receiver_rejected_messages_total", reason="unregistered_gateway") == 1
    assert m.get("rn_receiver_tamper_alerts_open", kind="chain_gap", state="open") == 1
    assert m.get("rn_receiver_gateways_online") == 1 and m.get("rn_receiver_gateways_silent") == 0
    assert m.get("rn_receiver_gateway_backlog_entries") == 7
    # in-process series (module-global: compare with the first scrape)
    assert m.total("rn_receiver_batches_total", outcome="stored") - base_batches == 3
    assert m.get("rn_receiver_ingest_seconds_count", channel="punches") >= 4
    assert m.get("rn_receiver_ingest_seconds_count", channel="roster") >= 1
    assert m.get("rn_receiver_entries_stored_total", type="punch") >= 6       # 1-4, 7-10 minus seq 10 rejected
    assert m.get("rn_receiver_messages_total", channel="punches", outcome="rejected") >= 2   # forged + garbage
    # no personal data: no ID number, name or worker reference, no project or gateway labels
    for secret in (ID_NUMBER, NAME, "W0001", gw.gateway_id, gw.project_code):
        assert secret not in text


def test_exposition_is_well_formed_on_an_empty_store(store):
    status, _, text = scrape(store)
    assert status == 200
    m = parse(text)
    assert m.get("rn_receiver_up") == 1 and m.get("rn_receiver_gateways_registered") == 0
