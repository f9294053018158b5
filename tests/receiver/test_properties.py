"""Hypothesis: idempotent ingest under any interleaving/repetition; fuzzed payloads never crash."""

import itertools
import json
import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared_schema import envelope
from shared_schema.chain import entry_hash

from .helpers import FakeGateway, topic

PROPS = settings(max_examples=25, deadline=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@st.composite
def deliveries(draw):
    n = draw(st.integers(1, 30))
    cuts = sorted(draw(st.sets(st.integers(1, n - 1), max_size=6))) if n > 1 else []
    bounds = [0, *cuts, n]
    chunks = [(a, b) for a, b in itertools.pairwise(bounds)]
    order = draw(st.lists(st.sampled_from(chunks), min_size=len(chunks), max_size=3 * len(chunks)))
    order = draw(st.permutations(order + chunks))  # every chunk at least once, any order, repeats
    return n, order


@PROPS
@given(plan=deliveries())
def test_any_interleaving_and_repetition_gives_the_same_stored_set(store, ingestor, plan):
    n, order = plan
    gw = FakeGateway("H-" + uuid.uuid4().hex[:12])  # a fresh gateway per example, same store
    gw.register(store)
    gw.add(n, rejected_every=4)
    sent = 0
    for a, b in order:
        out = ingestor.handle(topic(gw), gw.sealed_batch(gw.entries[a:b]))
        assert out.ack.status == "stored" and out.ack.stored_ranges == [[a + 1, b]]
        sent += b - a
    rows = store.ledger(gw.gateway_id)
    assert [(r["seq"], r["entry_hash"]) for r in rows] == [(e.seq, entry_hash(e)) for e in gw.entries]
    assert {r["chain_status"] for r in rows} == {"verified"}
    assert store.watermark(gw.gateway_id) == n
    assert store.alerts(None, gw.gateway_id, 10, 0) == []


@PROPS
@given(payload=st.one_of(
    st.binary(max_size=300),
    st.binary(max_size=200).map(lambda b: envelope.MAGIC + b),
    st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=10),
                 lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4),
                 max_leaves=10).map(lambda o: json.dumps(o).encode()),
), channel=st.sampled_from(["punches", "heartbeat", "status", "roster", "ack"]), signed=st.booleans())
def test_fuzzed_payloads_are_rejected_with_a_reason_and_never_raise(store, gw, ingestor, payload, channel, signed):
    if signed:
        payload = envelope.seal(payload, gw.key)
    out = ingestor.handle(topic(gw, channel), payload)
    assert not out.verdict.ok and out.verdict.reason
    assert store.ledger() == []
