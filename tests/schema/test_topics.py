"""MQTT topic layout ``rn/v1/gw/{gateway_id}/{channel}``."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schema_strategies import MEDIUM, dumps, gateway_ids, valid_dicts
from shared_schema import topics
from shared_schema.messages import decode_message
from shared_schema.topics import CHANNELS, TopicError
from shared_schema.wire import DecodeError

HELPERS = {"punches": topics.punches, "ack": topics.ack, "heartbeat": topics.heartbeat,
           "status": topics.status, "roster": topics.roster}


def test_channels():
    assert CHANNELS == ("punches", "ack", "heartbeat", "status", "roster")


@given(gateway_ids, st.sampled_from(CHANNELS))
@MEDIUM
def test_build_parse_round_trip(gw, channel):
    name = topics.topic(gw, channel)
    assert name == f"rn/v1/gw/{gw}/{channel}"
    assert HELPERS[channel](gw) == name
    assert topics.parse(name) == (gw, channel)
    assert not any(c in name for c in "+#\x00") and name.count("/") == 4


def test_examples():
    assert topics.punches("GW1") == "rn/v1/gw/GW1/punches"
    assert topics.ack("site-7.gate_2") == "rn/v1/gw/site-7.gate_2/ack"
    assert topics.parse("rn/v1/gw/GW1/status") == ("GW1", "status")
    assert topics.check_gateway_id("G" * 64) == "G" * 64


@pytest.mark.parametrize("gw", [
    "", "GW/1", "GW+", "+", "#", "GW#1", "a/b/c", "G" * 65, "-GW", "_GW", ".GW", "GW 1", "网关1",
    "GW1\n", "GW1\x00", "$SYS", "GW1/", None, 1, b"GW1", "ＧＷ1",
])
def test_bad_gateway_ids_rejected(gw):
    with pytest.raises(TopicError):
        topics.check_gateway_id(gw)
    for channel in CHANNELS:
        with pytest.raises(TopicError):
            topics.topic(gw, channel)
    with pytest.raises(TopicError):
        topics.punches(gw)


def test_trailing_newline_gateway_id_rejected():
    """Pins a bug: ``GATEWAY_ID_RE.match`` with ``$`` accepted ``"GW1\\n"``, giving the
    topic ``rn/v1/gw/GW1\\n/punches`` (and parse() accepted it back)."""
    with pytest.raises(TopicError):
        topics.punches("GW1\n")
    with pytest.raises(TopicError):
        topics.parse("rn/v1/gw/GW1\n/punches")


@given(st.text(max_size=70))
@MEDIUM
def test_topic_ids_agree_with_message_gateway_ids(gw):
    """A gateway id is valid in a topic exactly when it is valid in a message."""
    try:
        topics.check_gateway_id(gw)
        topic_ok = True
    except TopicError:
        topic_ok = False
    try:
        decode_message(dumps(dict(valid_dicts()["heartbeat"], gateway_id=gw)))
        message_ok = True
    except DecodeError:
        message_ok = False
    assert topic_ok == message_ok
    if topic_ok:
        assert not any(c in gw for c in "/+#")


@pytest.mark.parametrize("channel", ["", "punch", "Punches", "acks", "+", "#", "punches/x"])
def test_unknown_channel(channel):
    with pytest.raises(TopicError):
        topics.topic("GW1", channel)
    with pytest.raises(TopicError):
        topics.wildcard(channel)
    with pytest.raises(TopicError):
        topics.shared("g", channel)


@pytest.mark.parametrize("name", [
    "", "rn/v1/gw/GW1", "rn/v1/gw/GW1/punches/", "rn/v1/gw/GW1/punches/x", "rn/v2/gw/GW1/punches",
    "/rn/v1/gw/GW1/punches", "rn/v1/gw/+/punches", "rn/v1/gw/#", "rn/v1/gw//punches",
    "rn/v1/gw/GW1/unknown", "$share/g/rn/v1/gw/+/punches", "RN/v1/gw/GW1/punches",
    "rn/v1/gw/GW1/ack ", "rn/v1/gw/a/b/ack",
])
def test_parse_rejects(name):
    with pytest.raises(TopicError):
        topics.parse(name)


def test_wildcard_and_shared():
    assert topics.wildcard("punches") == "rn/v1/gw/+/punches"
    assert topics.shared("g", "punches") == "$share/g/rn/v1/gw/+/punches"
    for channel in CHANNELS:
        assert topics.shared("receivers", channel) == f"$share/receivers/rn/v1/gw/+/{channel}"


@pytest.mark.parametrize("group", ["", "a/b", "a+", "#", "$g", "g#"])
def test_shared_rejects_bad_group(group):
    with pytest.raises(TopicError):
        topics.shared(group, "punches")


def test_topic_error_is_value_error():
    assert issubclass(TopicError, ValueError)
