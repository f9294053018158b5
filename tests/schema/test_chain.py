"""The per-gateway hash chain over ledger entries."""

from __future__ import annotations

import hashlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schema_strategies import FAST, MEDIUM, chains, ledger_entries, link, reseq
from shared_schema.chain import GENESIS_HASH, ChainBroken, entry_hash, hash_wire_dict, verify_run
from shared_schema.messages import LedgerEntry, PunchBatch, decode_message, encode_message, replace


def independent_hash(e: LedgerEntry) -> str:
    d = {name: getattr(e, name) for name in e.__dataclass_fields__}
    body = json.dumps(d, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")
    return hashlib.sha256(body).hexdigest()


def broken_at(entries, prev_seq=0, prev_hash=GENESIS_HASH) -> int:
    with pytest.raises(ChainBroken) as exc:
        verify_run(entries, prev_seq, prev_hash)
    assert f"seq {exc.value.seq}" in str(exc.value)
    return exc.value.seq


def test_genesis():
    assert GENESIS_HASH == "0" * 64


@given(chains())
@MEDIUM
def test_generated_chains_verify(chain):
    assert chain[0].seq == 1 and chain[0].prev_hash == GENESIS_HASH
    head = verify_run(chain, 0, GENESIS_HASH)
    assert head == entry_hash(chain[-1]) == independent_hash(chain[-1])
    for k in range(1, len(chain)):  # any suffix continues from its predecessor
        assert verify_run(chain[k:], k, entry_hash(chain[k - 1])) == head
    assert verify_run([], len(chain), head) == head


@given(ledger_entries())
@MEDIUM
def test_entry_hash_definition(e):
    assert entry_hash(e) == independent_hash(e)
    assert entry_hash(e) == hashlib.sha256(e.canonical_bytes()).hexdigest()
    assert hash_wire_dict(e.to_wire()) == entry_hash(e)
    assert hash_wire_dict(json.loads(json.dumps(e.to_wire()))) == entry_hash(e)


@given(chains(max_size=5))
@FAST
def test_chain_survives_the_wire(chain):
    """Hashes computed by the gateway match what the receiver computes after decoding."""
    b = PunchBatch(v=1, type="punch_batch", gateway_id=chain[0].gateway_id, batch_id="c" * 32,
                   sent_at="2026-01-31T08:00:00Z", entries=tuple(chain))
    back = decode_message(encode_message(b))
    assert verify_run(back.entries, 0, GENESIS_HASH) == entry_hash(chain[-1])
    raw = json.loads(encode_message(b))["entries"]
    assert [hash_wire_dict(d) for d in raw] == [entry_hash(e) for e in chain]


def test_first_entry_must_link_to_genesis():
    chain = link([_entry()])
    forged = replace(chain[0], prev_hash="1" * 64)
    assert broken_at([forged]) == 1
    assert broken_at(chain, 0, "f" * 64) == 1


def test_run_must_start_right_after_prev_seq():
    chain = link([_entry() for _ in range(3)])
    assert broken_at(chain[1:], 0, GENESIS_HASH) == 2
    assert broken_at(chain, 1, GENESIS_HASH) == 1


def _entry(**over) -> LedgerEntry:
    d = dict(type="punch", event_id="e" * 32, gateway_id="GW1", project_code="P1", gate_id="g1",
             seq=1, prev_hash=GENESIS_HASH, device_time="2026-01-31T08:00:00.000000Z",
             monotonic_ns=1, boot_id="abcdef12", direction="in", worker_ref="W1", kind="work",
             match_score=0.9, liveness_score=0.9, liveness_cue="blink", snapshot_ref=None,
             reject_reason=None, manual_reason=None, operator=None, event_kind=None, ref_seq=None)
    d.update(over)
    return LedgerEntry(**d)


# A different, still valid value for every field of an entry.
def _altered(e: LedgerEntry, name: str) -> LedgerEntry:
    def other(s: str, alphabet: str) -> str:
        return s[:-1] + (alphabet[0] if s[-1] != alphabet[0] else alphabet[1])

    def as_punch(kind="work", **over):
        return replace(e, **{**dict(type="punch", kind=kind, worker_ref=e.worker_ref or "W9", reject_reason=None,
                                    direction=e.direction or "in", event_kind=None, ref_seq=None,
                                    manual_reason=None, operator=None), **over})

    def as_event(kind="door_held", ref=None):
        return replace(e, type="gate_event", event_kind=kind, ref_seq=ref, kind=None, reject_reason=None,
                       match_score=None, liveness_score=None, manual_reason=None, operator=None)

    if name == "type":
        if e.type == "punch":
            return replace(e, type="rejected", kind=None, reject_reason="no_match",
                           manual_reason=None, operator=None)
        if e.type == "gate_event":
            return as_punch()
        return as_event()
    if name == "kind":
        if e.type != "punch":
            return as_punch("non_work")
        return replace(e, kind="non_work" if e.kind != "non_work" else "work",
                       manual_reason=None, operator=None)
    if name == "event_kind":
        if e.type != "gate_event":
            return as_event()
        return as_event("fault" if e.event_kind == "door_held" else "door_held")
    if name == "ref_seq":
        if e.seq == 1:
            return _altered(e, "type")
        if e.ref_seq is None:
            return as_event("tailgating", e.seq - 1)
        if e.ref_seq > 1:
            return replace(e, ref_seq=e.ref_seq - 1)
        return as_event("tailgating", None)
    if e.type == "gate_event" and name in ("match_score", "liveness_score"):
        return as_punch(**{name: 0.5})
    values = {
        "event_id": other(e.event_id, "0123456789abcdef"),
        "gateway_id": other(e.gateway_id, "AB"),
        "project_code": other(e.project_code, "AB"),
        "gate_id": other(e.gate_id, "AB"),
        "seq": e.seq + 1,
        "prev_hash": other(e.prev_hash, "0123456789abcdef"),
        "device_time": e.device_time[:-2] + ("1Z" if e.device_time[-2] != "1" else "2Z"),
        "monotonic_ns": e.monotonic_ns + 1 if e.monotonic_ns < 2**62 else 0,
        "boot_id": other(e.boot_id, "0123456789abcdef"),
        "direction": "out" if e.direction == "in" else "in",
        "worker_ref": other(e.worker_ref, "AB") if e.worker_ref else "W9",
        "match_score": 0.5 if e.match_score != 0.5 else 0.25,
        "liveness_score": None if e.liveness_score is not None else 0.75,
        "liveness_cue": (e.liveness_cue or "") + "x" if len(e.liveness_cue or "") < 64 else "x",
        "snapshot_ref": (e.snapshot_ref or "") + "x" if len(e.snapshot_ref or "") < 128 else None,
        "reject_reason": None,
        "manual_reason": None,
        "operator": None,
    }
    if name == "reject_reason":
        if e.type != "rejected":
            return replace(e, type="rejected", kind=None, reject_reason="r", direction=e.direction or "in",
                           event_kind=None, ref_seq=None, manual_reason=None, operator=None)
        return replace(e, reject_reason=other(e.reject_reason, "ab"))
    if name in ("manual_reason", "operator"):
        if e.kind == "manual" or e.event_kind == "manual_release":
            return replace(e, **{name: getattr(e, name) + "x" if len(getattr(e, name)) < 64 else "x"})
        return as_punch("manual", manual_reason="忘打卡", operator="劳资员")
    return replace(e, **{name: values[name]})


FIELDS = list(LedgerEntry.__dataclass_fields__)


@given(chains(min_size=1, max_size=6), st.data())
@MEDIUM
def test_altering_any_field_of_any_entry_is_detected(chain, data):
    i = data.draw(st.integers(0, len(chain) - 1))
    name = data.draw(st.sampled_from(FIELDS))
    altered = _altered(chain[i], name)
    assert altered != chain[i] and entry_hash(altered) != entry_hash(chain[i])
    tampered = chain[:i] + [altered] + chain[i + 1:]
    original_head = entry_hash(chain[-1])
    if name in ("seq", "prev_hash"):
        expected = altered.seq  # the altered entry itself no longer fits
    elif i + 1 < len(chain):
        expected = chain[i + 1].seq  # its successor's prev_hash no longer matches
    else:
        expected = None  # the last entry: only the head hash tells
    if expected is None:
        assert verify_run(tampered, 0, GENESIS_HASH) != original_head
    else:
        assert broken_at(tampered) == expected


@pytest.mark.parametrize("name", FIELDS)
def test_altering_each_field_of_a_middle_entry(name):
    chain = link([_entry(event_id=f"{i:032x}") for i in range(4)])
    altered = _altered(chain[1], name)
    tampered = [chain[0], altered, chain[2], chain[3]]
    expected = altered.seq if name in ("seq", "prev_hash") else 3
    assert broken_at(tampered) == expected


@given(chains(min_size=2, max_size=7), st.data())
@MEDIUM
def test_deleting_an_entry_is_detected(chain, data):
    i = data.draw(st.integers(0, len(chain) - 1))
    rest = chain[:i] + chain[i + 1:]
    if i == len(chain) - 1:
        assert verify_run(rest, 0, GENESIS_HASH) != entry_hash(chain[-1])
    else:
        assert broken_at(rest) == chain[i + 1].seq


@given(chains(min_size=3, max_size=7), st.data())
@MEDIUM
def test_deleting_and_renumbering_is_detected(chain, data):
    """A forger who renumbers the following entries still breaks the hash link."""
    i = data.draw(st.integers(0, len(chain) - 2))
    rest = chain[:i] + [reseq(e, e.seq - 1) for e in chain[i + 1:]]
    assert broken_at(rest) == i + 1


@given(chains(min_size=2, max_size=7), st.data())
@MEDIUM
def test_swapping_two_entries_is_detected(chain, data):
    i = data.draw(st.integers(0, len(chain) - 2))
    j = data.draw(st.integers(i + 1, len(chain) - 1))
    swapped = list(chain)
    swapped[i], swapped[j] = swapped[j], swapped[i]
    assert broken_at(swapped) == chain[j].seq  # position i now holds seq j+1


@given(chains(min_size=2, max_size=7), st.data())
@MEDIUM
def test_swapping_with_swapped_seqs_is_detected(chain, data):
    """Swap the contents of two entries but keep the seq numbers in place."""
    i = data.draw(st.integers(0, len(chain) - 2))
    j = data.draw(st.integers(i + 1, len(chain) - 1))
    swapped = list(chain)
    swapped[i] = reseq(chain[j], chain[i].seq)
    swapped[j] = reseq(chain[i], chain[j].seq)
    assert broken_at(swapped) == chain[i].seq  # prev_hash at position i is chain[j]'s


@given(chains(min_size=1, max_size=6), ledger_entries(), st.data())
@MEDIUM
def test_inserting_a_forged_entry_is_detected(chain, forged, data):
    i = data.draw(st.integers(0, len(chain) - 1))
    prev_hash = entry_hash(chain[i - 1]) if i else GENESIS_HASH
    forged = reseq(forged, i + 1, gateway_id=chain[0].gateway_id, prev_hash=prev_hash)
    # properly linked to its predecessor, but the original entry i+1 now follows it
    inserted = chain[:i] + [forged] + chain[i:]
    assert broken_at(inserted) == chain[i].seq
    # renumbering everything after it does not help: the next prev_hash is wrong
    renumbered = chain[:i] + [forged] + [reseq(e, e.seq + 1) for e in chain[i:]]
    assert broken_at(renumbered) == i + 2


@given(chains(min_size=1, max_size=5), ledger_entries())
@FAST
def test_appending_a_forged_entry_changes_the_head(chain, forged):
    forged = reseq(forged, len(chain) + 1, prev_hash=entry_hash(chain[-1]))
    head = verify_run(chain + [forged], 0, GENESIS_HASH)
    assert head == entry_hash(forged) != entry_hash(chain[-1])


def test_chain_broken_is_value_error():
    exc = ChainBroken(7, "why")
    assert isinstance(exc, ValueError) and exc.seq == 7 and exc.why == "why"
