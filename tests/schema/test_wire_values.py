"""The strict wire decoder on single values: numbers, strings, and fuzzing of whole payloads."""

from __future__ import annotations

import copy
import dataclasses
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schema_strategies import MEDIUM, dumps, msg, reason_of, valid_dicts
from shared_schema.messages import (MESSAGE_TYPES, decode_message, encode_message)
from shared_schema.wire import (DEFAULT_MAX_STR, DecodeError, decode, field)


# ---- numbers ---------------------------------------------------------------------------------

@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity"])
@pytest.mark.parametrize("name", ["oldest_unacked_age_s", "backlog", "software_version"])
def test_nan_and_infinity_are_bad_number(literal, name):
    body = dumps(msg("heartbeat", **{name: "@@"})).replace(b'"@@"', literal)
    assert reason_of(body) == "bad_number"


@pytest.mark.parametrize("literal", [b"1e400", b"-1e400", b"1" + b"0" * 400, b"1E999"])
def test_overflowing_numbers_in_float_field_are_bad_number(literal):
    """Pins a bug: ``1e400`` parsed to ``inf`` and was accepted in an unbounded float
    field (the message then could not be re-encoded), and a 400-digit integer made
    ``float()`` raise OverflowError instead of DecodeError."""
    body = dumps(msg("heartbeat", oldest_unacked_age_s="@@")).replace(b'"@@"', literal)
    assert reason_of(body) == "bad_number"


def test_huge_int_in_int_field_is_not_a_crash():
    body = dumps(msg("heartbeat", backlog="@@")).replace(b'"@@"', b"1" + b"0" * 5000)
    assert reason_of(body) in ("not_json", "bad_value")
    body = dumps(msg("heartbeat", backlog="@@")).replace(b'"@@"', b"1" + b"0" * 400)
    assert reason_of(body) == "bad_value"  # counters are bounded: they must fit a PostgreSQL bigint


def test_int_accepted_for_float_field_and_becomes_float():
    m = decode_message(dumps(msg("heartbeat", oldest_unacked_age_s=3)))
    assert m.oldest_unacked_age_s == 3.0 and type(m.oldest_unacked_age_s) is float


# ---- strings ---------------------------------------------------------------------------------

def test_lone_surrogate_is_rejected():
    """Pins a bug: a ``\\ud800`` escape decoded to a lone surrogate that the decoder
    accepted; encode_message / the chain hash then raised UnicodeEncodeError."""
    body = dumps(msg("heartbeat", software_version="a\ud800"))
    assert b"\\ud800" in body
    assert reason_of(body) == "not_utf8"
    d = msg("punch_batch")
    d["entries"][0]["liveness_cue"] = "\udfff"
    assert reason_of(dumps(d)) == "not_utf8"


def test_surrogate_pair_escape_is_fine():
    m = decode_message(dumps(msg("heartbeat", software_version="\U0001F600")))
    assert m.software_version == "\U0001F600"


@dataclasses.dataclass(frozen=True)
class _Plain:
    s: str
    t: str = field(max_len=3)
    u: str | None = field(pattern=r"^[a-z]+$", default=None)


def test_default_max_str_applies_without_max_len():
    assert decode(_Plain, {"s": "x" * DEFAULT_MAX_STR, "t": "abc"}).s == "x" * DEFAULT_MAX_STR
    with pytest.raises(DecodeError) as exc:
        decode(_Plain, {"s": "x" * (DEFAULT_MAX_STR + 1), "t": "abc"})
    assert exc.value.reason == "oversize" and "s longer" in str(exc.value)


def test_max_len_counts_characters_not_bytes():
    assert decode(_Plain, {"s": "", "t": "张三丰"}).t == "张三丰"
    with pytest.raises(DecodeError):
        decode(_Plain, {"s": "", "t": "张三丰x"})


def test_decode_direct_optional_default_and_pattern():
    assert decode(_Plain, {"s": "", "t": ""}).u is None
    assert decode(_Plain, {"s": "", "t": "", "u": None}).u is None
    for bad in ["A", "", "abc\n", "ab c"]:
        with pytest.raises(DecodeError) as exc:
            decode(_Plain, {"s": "", "t": "", "u": bad})
        assert exc.value.reason == "bad_value"
    with pytest.raises(DecodeError) as exc:
        decode(_Plain, ["s"])
    assert exc.value.reason == "wrong_type"


def test_error_messages_never_contain_values():
    secret = "SECRET-4405241990"
    cases = [
        msg("roster_change", name=secret * 10),
        msg("roster_change", id_number=secret * 3),
        msg("roster_change", entry_date=secret),
        msg("heartbeat", gateway_id=secret + "/"),
        msg("heartbeat", sent_at=secret),
        msg("heartbeat", backlog=secret),
        msg("gateway_status", online=secret),
        msg("batch_ack", status=secret),
    ]
    for d in cases:
        with pytest.raises(DecodeError) as exc:
            decode_message(dumps(d))
        assert "SECRET" not in str(exc.value), str(exc.value)
        assert "4405241990" not in exc.value.detail


def test_bad_time_error_never_echoes_value():
    """Pins a bug: a time with non-ASCII digits passed ``_UTC_RE`` and the
    ``fromisoformat`` error (which quotes its input) ended up in the DecodeError."""
    with pytest.raises(DecodeError) as exc:
        decode_message(dumps(msg("heartbeat", sent_at="１９９０-01-31T08:00:00Z")))
    assert exc.value.reason == "bad_value" and "sent_at" in str(exc.value)
    assert "１９９０" not in str(exc.value)


# ---- fuzz ------------------------------------------------------------------------------------

fuzz_strings = st.text(max_size=10) | st.integers(0xD800, 0xDFFF).map(chr)
fuzz_scalars = (st.none() | st.booleans() | st.integers(min_value=-2**70, max_value=2**70)
                | st.floats(allow_nan=False, allow_infinity=False) | fuzz_strings)
fuzz_json = st.recursive(fuzz_scalars, lambda c: st.lists(c, max_size=3) | st.dictionaries(
    fuzz_strings, c, max_size=3), max_leaves=12)


def _accepts_only_decode_errors(body: bytes):
    try:
        m = decode_message(body)
    except DecodeError:
        return None
    # anything accepted must survive re-encoding and decode to the same thing
    again = encode_message(m)
    assert decode_message(again) == m
    return m


@given(st.binary(max_size=300))
@MEDIUM
def test_fuzz_arbitrary_bytes(data):
    _accepts_only_decode_errors(data)


@given(fuzz_json)
@MEDIUM
def test_fuzz_arbitrary_json(value):
    _accepts_only_decode_errors(dumps(value))


@given(st.sampled_from(sorted(MESSAGE_TYPES)), st.data())
@MEDIUM
def test_fuzz_mutated_valid_messages(kind, data):
    d = msg(kind)
    target = d
    if kind == "punch_batch" and data.draw(st.booleans()):
        target = d["entries"][data.draw(st.integers(0, 1))]
    op = data.draw(st.sampled_from(["replace", "delete", "add"]))
    key = data.draw(st.sampled_from(sorted(target)))
    if op == "replace":
        target[key] = data.draw(fuzz_json)
    elif op == "delete":
        del target[key]
    else:
        target[data.draw(fuzz_strings)] = data.draw(fuzz_json)
    _accepts_only_decode_errors(dumps(d))


@given(st.sampled_from(sorted(MESSAGE_TYPES)), st.data())
@MEDIUM
def test_fuzz_byte_edits_of_valid_messages(kind, data):
    body = bytearray(dumps(msg(kind)))
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, len(body) - 1))
        op = data.draw(st.sampled_from(["set", "delete", "insert"]))
        byte = data.draw(st.integers(0, 255))
        if op == "set":
            body[pos] = byte
        elif op == "delete":
            del body[pos]
        else:
            body.insert(pos, byte)
    _accepts_only_decode_errors(bytes(body))


def test_valid_dicts_are_valid():
    # guard for the tests above: every base message decodes and round-trips
    for kind, d in valid_dicts().items():
        m = decode_message(dumps(copy.deepcopy(d)))
        assert type(m) is MESSAGE_TYPES[kind]
        assert json.loads(encode_message(m)) == d
