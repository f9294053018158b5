"""The MQTT topic layout, in one place.

``rn/v1/gw/{gateway_id}/{channel}``

=========== ========== =====================================================
channel     direction  payload
=========== ========== =====================================================
punches     gw → city  signed :class:`~shared_schema.messages.PunchBatch`
ack         city → gw  signed :class:`~shared_schema.messages.BatchAck`
heartbeat   gw → city  signed :class:`~shared_schema.messages.Heartbeat`
status      gw → city  signed :class:`~shared_schema.messages.GatewayStatus` (retained; last will)
roster      both       signed :class:`~shared_schema.messages.RosterChange`
=========== ========== =====================================================

Receivers subscribe through an MQTT 5 shared subscription
(``$share/{group}/rn/v1/gw/+/punches``) so several receivers split the load.
"""

from __future__ import annotations

import re

PREFIX = "rn/v1/gw"
CHANNELS = ("punches", "ack", "heartbeat", "status", "roster")
GATEWAY_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", re.ASCII)


class TopicError(ValueError):
    pass


def check_gateway_id(gateway_id: str) -> str:
    if not isinstance(gateway_id, str) or not GATEWAY_ID_RE.fullmatch(gateway_id):
        raise TopicError("gateway id must be 1-64 characters of A-Z a-z 0-9 _ . - (no MQTT wildcards)")
    return gateway_id


def topic(gateway_id: str, channel: str) -> str:
    if channel not in CHANNELS:
        raise TopicError(f"unknown channel {channel!r}")
    return f"{PREFIX}/{check_gateway_id(gateway_id)}/{channel}"


def punches(gateway_id: str) -> str:
    return topic(gateway_id, "punches")


def ack(gateway_id: str) -> str:
    return topic(gateway_id, "ack")


def heartbeat(gateway_id: str) -> str:
    return topic(gateway_id, "heartbeat")


def status(gateway_id: str) -> str:
    return topic(gateway_id, "status")


def roster(gateway_id: str) -> str:
    return topic(gateway_id, "roster")


def wildcard(channel: str) -> str:
    """All gateways' topics of one channel: ``rn/v1/gw/+/{channel}``."""
    if channel not in CHANNELS:
        raise TopicError(f"unknown channel {channel!r}")
    return f"{PREFIX}/+/{channel}"


def shared(group: str, channel: str) -> str:
    """MQTT 5 shared subscription for a group of receivers."""
    if not group or any(c in group for c in "/+#$"):
        raise TopicError("share group must be non-empty without / + # $")
    return f"$share/{group}/{wildcard(channel)}"


def parse(topic_name: str) -> tuple[str, str]:
    """``rn/v1/gw/GW1/punches`` → ``("GW1", "punches")``; raises TopicError otherwise."""
    parts = topic_name.split("/")
    if len(parts) != 5 or "/".join(parts[:3]) != PREFIX or parts[4] not in CHANNELS:
        raise TopicError("not a rn/v1/gw/{id}/{channel} topic")
    return check_gateway_id(parts[3]), parts[4]
