"""The generated fast decoder must agree with the reference decoder on everything:
it may only accept what the reference accepts, and build the same object."""

from __future__ import annotations

import copy

from hypothesis import given, settings
from hypothesis import strategies as st

from schema_strategies import any_message, valid_dicts
from shared_schema.fastdecode import fast_decoder
from shared_schema.messages import MESSAGE_TYPES, LedgerEntry
from shared_schema.wire import DecodeError, _compile, decode_reference, to_wire

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False)
    | st.text(max_size=140) | st.sampled_from(["in", "out", "punch", "work", "0" * 64, "a" * 32,
                                              "2026-01-01T00:00:00.000000Z", "G1"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6)


def agree(cls, obj) -> None:
    fast = fast_decoder(cls, _compile)(copy.deepcopy(obj))
    try:
        ref = decode_reference(cls, copy.deepcopy(obj))
    except DecodeError:
        assert fast is None, f"fast path accepted what the reference rejects: {obj!r}"
        return
    assert fast is None or fast == ref


@settings(max_examples=300, deadline=None)
@given(msg=any_message, data=st.data())
def test_fast_and_reference_agree_on_mutated_messages(msg, data):
    obj = to_wire(msg)
    cls = type(msg)
    agree(cls, obj)
    key = data.draw(st.sampled_from(sorted(obj)))
    mutated = dict(obj)
    action = data.draw(st.sampled_from(["replace", "delete", "add"]))
    if action == "replace":
        mutated[key] = data.draw(json_values)
    elif action == "delete":
        del mutated[key]
    else:
        mutated[data.draw(st.text(max_size=8))] = data.draw(json_values)
    agree(cls, mutated)


@settings(max_examples=300, deadline=None)
@given(field=st.sampled_from(sorted(valid_dicts()["punch_batch"]["entries"][0])), value=json_values)
def test_fast_and_reference_agree_on_every_entry_field(field, value):
    entry = dict(valid_dicts()["punch_batch"]["entries"][0])
    entry[field] = value
    agree(LedgerEntry, entry)


def test_fast_path_is_taken_for_valid_entries():
    """Not a speed test: the fast path really returns the object for a valid entry."""
    entry = valid_dicts()["punch_batch"]["entries"][0]
    assert fast_decoder(LedgerEntry, _compile)(dict(entry)) == decode_reference(LedgerEntry, dict(entry))
    for kind, cls in MESSAGE_TYPES.items():
        assert fast_decoder(cls, _compile)(copy.deepcopy(valid_dicts()[kind])) is not None, kind


EDGE_VALUES = [None, True, False, 0, 1, -1, 2, 0.5, 1.5, -0.5, 1e308, 2**62, 2**62 + 1, 2**63, 10**30,
               "", "x", "x" * 65, "x" * 129, "x" * 300, "in", "work", "rejected", "a" * 32, "A" * 32,
               "0" * 64, "g" * 64, "2026-01-31T08:00:00.000000Z", "2026-01-31T08:00:00Z\n", "W001\n",
               "１２", "\ud800", [], {}, [1], {"a": 1}]


def test_fast_and_reference_agree_on_edge_values_of_every_field():
    """Deterministic sweep: every field of every message type × boundary values."""
    for kind, cls in MESSAGE_TYPES.items():
        base = valid_dicts()[kind]
        for key in base:
            for value in EDGE_VALUES:
                mutated = copy.deepcopy(base)
                mutated[key] = value
                agree(cls, mutated)
    entry = valid_dicts()["punch_batch"]["entries"][0]
    for key in entry:
        for value in EDGE_VALUES:
            agree(LedgerEntry, dict(entry, **{key: value}))
