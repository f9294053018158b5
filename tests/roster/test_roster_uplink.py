"""The uplink's outbox rules without a broker: one change in flight, in order, resent after an
ack timeout or a rejection, dropped only on a stored ack for its change id."""

from __future__ import annotations

from edge_agent.roster.uplink import RosterUplink
from roster_helpers import record, resident_id
from shared_schema.envelope import generate_key, open_signed
from shared_schema.messages import RosterAck, RosterChange, decode_message
from shared_schema.wire import utc_now


def ack(reg, change_id, status="stored", outcome="applied", gateway_id=None):
    return RosterAck(v=1, type="roster_ack", gateway_id=gateway_id or reg.gateway_id, change_id=change_id,
                     status=status, outcome=outcome if status == "stored" else None,
                     reason="project_mismatch" if status == "rejected" else None, receiver_id="rx", acked_at=utc_now())


def test_in_order_with_timeouts_rejections_and_acks(registry):
    key = generate_key()
    up = RosterUplink(registry, key, ack_timeout_s=5.0, reject_retry_s=10.0, max_inflight=1)
    sent = []

    def publish(topic, payload):
        sent.append(decode_message(open_signed(payload, key.public_key()), RosterChange))
        return True
    for i in range(3):
        registry.enroll(record(id_number=resident_id(order=i + 1)), operator="op")
    order = list(registry.outbox.states())
    up.pump(publish, 0.0)
    up.pump(publish, 1.0)                                      # one in flight: nothing more goes out
    assert [c.change_id for c in sent] == order[:1]
    up.pump(publish, 6.0)                                      # no ack in time: the same change again
    assert [c.change_id for c in sent] == [order[0]] * 2
    assert up.handle(ack(registry, order[0], gateway_id="GW-OTHER"))   # another gateway's ack: ignored
    assert registry.outbox.states()[order[0]][0] == "sent"
    assert up.handle(ack(registry, order[0]))
    assert registry.outbox.states()[order[0]] == ("acked", "applied")
    up.pump(publish, 6.5)
    assert sent[-1].change_id == order[1]
    assert up.handle(ack(registry, order[1], status="rejected"))
    up.pump(publish, 7.0)                                      # paused after a rejection (monotonic clock)
    assert registry.outbox.states()[order[1]][0] == "pending" and sent[-1].change_id == order[1]
    assert up.handle(ack(registry, order[0]))                  # a repeated ack changes nothing
    assert up.counters["acks_unknown"] == 1


def test_a_failed_publish_keeps_the_change_pending(registry):
    up = RosterUplink(registry, generate_key())
    registry.enroll(record(), operator="op")
    up.pump(lambda t, p: False, 0.0)
    assert [s for s, _ in registry.outbox.states().values()] == ["pending"]


def test_a_window_of_changes_but_never_two_of_one_person(registry):
    key = generate_key()
    up = RosterUplink(registry, key, max_inflight=4)
    sent = []

    def publish(topic, payload):
        sent.append(decode_message(open_signed(payload, key.public_key()), RosterChange))
        return True
    a = registry.enroll(record(id_number=resident_id(order=1)), operator="op")
    registry.enroll(record(id_number=resident_id(order=2)), operator="op")
    registry.update(a.worker_ref, {"team_code": "T9"}, operator="op")      # A again: must wait for A's enroll
    registry.enroll(record(id_number=resident_id(order=3)), operator="op")
    up.pump(publish, 0.0)
    assert [(c.action, c.id_number) for c in sent] == [("enroll", resident_id(order=1)),
                                                       ("enroll", resident_id(order=2))]
    up.handle(ack(registry, sent[1].change_id))               # B's ack does not free A
    up.pump(publish, 0.1)
    assert len(sent) == 2
    up.handle(ack(registry, sent[0].change_id))
    up.pump(publish, 0.2)
    assert [(c.action, c.id_number) for c in sent[2:]] == [("update", resident_id(order=1)),
                                                           ("enroll", resident_id(order=3))]
    for c in sent[2:]:
        up.handle(ack(registry, c.change_id))
    assert all(s == "acked" for s, _ in registry.outbox.states().values())
