"""The strict wire decoder and canonical encoder (shared_schema.wire), driven
through ``decode_message`` the way both programs use it."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import types
import typing

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schema_strategies import FAST, MEDIUM, any_message, dumps, msg, reason_of
from shared_schema.messages import (MESSAGE_TYPES, BatchAck, Heartbeat, LedgerEntry, PunchBatch,
                                    decode_message, encode_message)
from shared_schema.wire import (MAX_PAYLOAD_BYTES, DecodeError, canonical_json,
                                format_utc, loads_strict, parse_utc, to_wire)




# ---- canonical JSON --------------------------------------------------------------------

json_scalars = st.none() | st.booleans() | st.integers() | st.text() | st.floats(
    allow_nan=False, allow_infinity=False)
json_values = st.recursive(json_scalars, lambda c: st.lists(c, max_size=4) | st.dictionaries(
    st.text(max_size=6), c, max_size=4), max_leaves=20)


@given(st.dictionaries(st.text(max_size=8), json_values, max_size=8), st.randoms())
@MEDIUM
def test_canonical_json_is_independent_of_key_order(d, rnd):
    items = list(d.items())
    rnd.shuffle(items)
    shuffled = dict(items)
    assert canonical_json(shuffled) == canonical_json(d)
    assert canonical_json(d) == json.dumps(d, sort_keys=True, separators=(",", ":"),
                                           ensure_ascii=False).encode("utf-8")
    assert json.loads(canonical_json(d)) == d


def test_canonical_json_shape():
    assert canonical_json({"b": 1, "a": [1, 2], "c": "张三"}) == '{"a":[1,2],"b":1,"c":"张三"}'.encode()


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_canonical_json_refuses_non_finite(bad):
    with pytest.raises(ValueError):
        canonical_json({"x": bad})


@given(any_message)
@FAST
def test_encode_message_is_canonical_and_deterministic(m):
    body = encode_message(m)
    assert body == encode_message(m)
    assert body == canonical_json(json.loads(body))
    assert json.loads(body) == to_wire(m)


# ---- UTC times ---------------------------------------------------------------------------

@given(st.datetimes(min_value=dt.datetime(1000, 1, 1), timezones=st.timezones()))
@MEDIUM
def test_format_parse_utc_round_trip(moment):
    text = format_utc(moment)
    assert text.endswith("Z") and len(text) == 27
    # compare in UTC: PEP 495 makes gap/fold times unequal across zones
    assert parse_utc(text) == moment.astimezone(dt.timezone.utc)
    assert parse_utc(text).utcoffset() == dt.timedelta(0)


def test_format_utc_refuses_naive():
    with pytest.raises(ValueError):
        format_utc(dt.datetime(2026, 1, 1))


@pytest.mark.parametrize("text", ["2026-01-31T08:00:00Z", "2026-01-31T08:00:00.1Z",
                                  "2026-01-31T08:00:00.123456Z", "2024-02-29T23:59:59Z"])
def test_parse_utc_accepts(text):
    assert parse_utc(text).tzinfo is dt.timezone.utc


@pytest.mark.parametrize("text", [
    "2026-01-31T08:00:00", "2026-01-31T08:00:00+00:00", "2026-01-31T08:00:00+08:00",
    "2026-01-31 08:00:00Z", "2026-01-31t08:00:00Z", "2026-01-31T08:00:00z",
    "2026-01-31T08:00:00.1234567Z", "2026-01-31T08:00:00.Z", "2026-1-31T08:00:00Z",
    "2026-01-31T08:00Z", "2026-02-30T08:00:00Z", "2026-13-01T08:00:00Z", "2026-01-31T24:00:00Z",
    "2026-01-31T08:60:00Z", "0000-01-01T00:00:00Z", "", None, 20260131,
])
def test_parse_utc_rejects(text):
    with pytest.raises(ValueError):
        parse_utc(text)


@pytest.mark.parametrize("text", ["2019-07-04T08:00:00Z\n", "２０１９-07-04T08:00:00Z",
                                  "2019-07-04T08:00:00.١Z"])
def test_parse_utc_rejects_trailing_newline_and_non_ascii_digits(text):
    """Pins a bug: ``_UTC_RE`` used ``match`` with ``$`` (so a trailing newline passed)
    and Unicode ``\\d`` (so fullwidth digits reached ``fromisoformat``, whose error
    echoed the value)."""
    with pytest.raises(ValueError) as exc:
        parse_utc(text)
    assert text[:10] not in str(exc.value)


# ---- loads_strict ------------------------------------------------------------------------

@pytest.mark.parametrize("data, reason", [
    (b'{"a":1,"a":2}', "duplicate_key"),
    (b'{"a":{"b":1,"b":1}}', "duplicate_key"),
    (b'[{"x":1,"x":1}]', "duplicate_key"),
    (b'{"a":NaN}', "bad_number"),
    (b'{"a":Infinity}', "bad_number"),
    (b'{"a":-Infinity}', "bad_number"),
    (b"", "not_json"),
    (b"{", "not_json"),
    (b"hello", "not_json"),
    (b"[1,]", "not_json"),
    (b"{'a':1}", "not_json"),
    (b"\xff\xfe{}", "not_utf8"),
    (b'{"a":"\xc3"}', "not_utf8"),
    (b'{"a":"\xed\xa0\x80"}', "not_utf8"),  # UTF-8-encoded surrogate
])
def test_loads_strict_rejects(data, reason):
    with pytest.raises(DecodeError) as exc:
        loads_strict(data)
    assert exc.value.reason == reason
    assert isinstance(exc.value, ValueError)


@pytest.mark.parametrize("data", ["{}", {"a": 1}, None, 12])
def test_loads_strict_needs_bytes(data):
    with pytest.raises(DecodeError) as exc:
        loads_strict(data)
    assert exc.value.reason == "not_bytes"


def test_loads_strict_accepts_bytearray_and_memoryview():
    assert loads_strict(bytearray(b'{"a":1}')) == {"a": 1}
    assert loads_strict(memoryview(b'{"a":1}')) == {"a": 1}


def test_duplicate_key_message_names_key_not_value():
    with pytest.raises(DecodeError) as exc:
        loads_strict(b'{"name":"SECRET-VALUE","name":"x"}')
    assert "name" in str(exc.value) and "SECRET" not in str(exc.value)


@pytest.mark.parametrize("depth", [10_000, 100_000])
@pytest.mark.parametrize("open_, close", [(b"[", b"]"), (b'{"a":', b"}")])
def test_deeply_nested_json_is_not_json_not_a_crash(depth, open_, close):
    data = open_ * depth + b"1" + close * depth
    with pytest.raises(DecodeError) as exc:
        decode_message(data)
    assert exc.value.reason in ("not_json", "wrong_type", "wrong_version")
    with pytest.raises(DecodeError) as exc:
        loads_strict(b"[" * depth + b"]" * depth)
    assert exc.value.reason == "not_json"


def test_deep_nesting_inside_a_valid_message_field():
    d = msg("batch_ack")
    nested = [1]
    for _ in range(200):
        nested = [nested]
    d["stored_ranges"] = [nested]
    assert reason_of(dumps(d)) == "wrong_type"


# ---- size ------------------------------------------------------------------------------------

def test_payload_exactly_at_limit_is_decoded_and_one_more_byte_is_oversize():
    body = dumps(msg("heartbeat"))
    padded = body[:-1] + b" " * (MAX_PAYLOAD_BYTES - len(body)) + b"}"
    assert len(padded) == MAX_PAYLOAD_BYTES
    assert isinstance(decode_message(padded), Heartbeat)
    over = body[:-1] + b" " * (MAX_PAYLOAD_BYTES - len(body) + 1) + b"}"
    assert reason_of(over) == "oversize"


def test_loads_strict_custom_limit():
    with pytest.raises(DecodeError) as exc:
        loads_strict(b"[1, 2]", max_bytes=5)
    assert exc.value.reason == "oversize"
    assert loads_strict(b"[1,2]", max_bytes=5) == [1, 2]


# ---- envelope of the message: version and type -----------------------------------------------

@pytest.mark.parametrize("kind", sorted(MESSAGE_TYPES))
@pytest.mark.parametrize("v", [0, 2, -1, "1", 1.0, True, None, [1], {"v": 1}])
def test_wrong_version(kind, v):
    assert reason_of(dumps(msg(kind, v=v))) == "wrong_version"


@pytest.mark.parametrize("kind", sorted(MESSAGE_TYPES))
def test_missing_version(kind):
    d = msg(kind)
    del d["v"]
    assert reason_of(dumps(d)) == "wrong_version"


@pytest.mark.parametrize("t", ["punch", "rejected", "PunchBatch", "PUNCH_BATCH", "", None, 1,
                               True, ["punch_batch"], {"a": 1}, "punch_batch "])
def test_unknown_type(t):
    assert reason_of(dumps(msg("heartbeat", type=t))) == "unknown_type"


def test_missing_type():
    d = msg("heartbeat")
    del d["type"]
    assert reason_of(dumps(d)) == "unknown_type"


@pytest.mark.parametrize("top", [b"[]", b"1", b'"x"', b"null", b"true", b"[{}]"])
def test_top_level_must_be_object(top):
    assert reason_of(top) == "wrong_type"


def test_expected_type():
    body = dumps(msg("heartbeat"))
    assert isinstance(decode_message(body, Heartbeat), Heartbeat)
    assert reason_of(body, PunchBatch) == "unexpected_type"
    assert reason_of(body, BatchAck) == "unexpected_type"


# ---- per-field strictness, computed from the dataclass specs ---------------------------------

def _field_cases():
    cases = []
    for kind, cls in sorted(MESSAGE_TYPES.items()):
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            if f.name in ("v", "type"):
                continue
            if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING:
                continue   # a field added later with a default: optional by design (backward compatibility)
            cases.append((kind, f.name, hints[f.name]))
    return cases


FIELD_CASES = _field_cases()


@pytest.mark.parametrize("kind, name, hint", FIELD_CASES, ids=[f"{k}.{n}" for k, n, _ in FIELD_CASES])
def test_missing_field(kind, name, hint):
    d = msg(kind)
    del d[name]
    with pytest.raises(DecodeError) as exc:
        decode_message(dumps(d))
    assert exc.value.reason == "missing_field"
    assert repr(name) in str(exc.value)


@pytest.mark.parametrize("kind", sorted(MESSAGE_TYPES))
@pytest.mark.parametrize("extra", ["extra", "V", "Type", "gateway-id", "", "\u5f20"])
def test_unknown_field(kind, extra):
    d = msg(kind)
    d[extra] = 1
    with pytest.raises(DecodeError) as exc:
        decode_message(dumps(d))
    assert exc.value.reason == "unknown_field"
    assert repr(extra) in str(exc.value)


def test_unknown_field_inside_entry_names_path():
    d = msg("punch_batch")
    d["entries"][1]["extra"] = 1
    with pytest.raises(DecodeError) as exc:
        decode_message(dumps(d))
    assert exc.value.reason == "unknown_field"
    assert "entries[1]" in str(exc.value) and "'extra'" in str(exc.value)


def _wrong_values(hint):
    """Values of the wrong JSON type for a field annotation (null handled apart)."""
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    base = args[0] if typing.get_origin(hint) in (typing.Union, types.UnionType) else hint
    origin = typing.get_origin(base)
    if origin is typing.Literal:
        return [("bad_value", "not-a-choice"), ("bad_value", 1), ("bad_value", True)]
    if origin is list:
        return [("wrong_type", {}), ("wrong_type", "[]"), ("wrong_type", 1)]
    if base is int:
        return [("wrong_type", True), ("wrong_type", False), ("wrong_type", 1.0), ("wrong_type", 1.5),
                ("wrong_type", "1"), ("wrong_type", [1]), ("wrong_type", {})]
    if base is float:
        return [("wrong_type", True), ("wrong_type", "0.5"), ("wrong_type", [0.5])]
    if base is bool:
        return [("wrong_type", 1), ("wrong_type", 0), ("wrong_type", "true"), ("wrong_type", 1.0)]
    if base is str:
        return [("wrong_type", 1), ("wrong_type", True), ("wrong_type", 1.5), ("wrong_type", ["a"]),
                ("wrong_type", {"a": 1})]
    raise AssertionError(f"no wrong values for {hint}")


WRONG_TYPE_CASES = [(k, n, r, v) for k, n, h in FIELD_CASES for r, v in _wrong_values(h)]


@pytest.mark.parametrize("kind, name, reason, value", WRONG_TYPE_CASES,
                         ids=[f"{k}.{n}={v!r}" for k, n, _, v in WRONG_TYPE_CASES])
def test_wrong_types(kind, name, reason, value):
    with pytest.raises(DecodeError) as exc:
        decode_message(dumps(msg(kind, **{name: value})))
    assert exc.value.reason == reason
    assert name in str(exc.value)


NON_OPTIONAL = [(k, n) for k, n, h in FIELD_CASES if type(None) not in typing.get_args(h)]


@pytest.mark.parametrize("kind, name", NON_OPTIONAL, ids=[f"{k}.{n}" for k, n in NON_OPTIONAL])
def test_null_for_required_field(kind, name):
    with pytest.raises(DecodeError) as exc:
        decode_message(dumps(msg(kind, **{name: None})))
    assert exc.value.reason == "wrong_type"
    assert name in str(exc.value)


ENTRY_FIELDS = [(f.name, typing.get_type_hints(LedgerEntry)[f.name])
                for f in dataclasses.fields(LedgerEntry)]


@pytest.mark.parametrize("name, hint", ENTRY_FIELDS, ids=[n for n, _ in ENTRY_FIELDS])
def test_wrong_types_inside_batch_entries(name, hint):
    for reason, value in _wrong_values(hint):
        d = msg("punch_batch")
        d["entries"][0][name] = value
        with pytest.raises(DecodeError) as exc:
            decode_message(dumps(d))
        assert exc.value.reason == reason, (name, value)
        assert f"entries[0].{name}" in str(exc.value)
    d = msg("punch_batch")
    del d["entries"][0][name]
    with pytest.raises(DecodeError) as exc:
        decode_message(dumps(d))
    assert exc.value.reason == "missing_field"
    assert f"entries[0].{name}" in str(exc.value)
