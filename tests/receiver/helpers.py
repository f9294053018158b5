"""Small utilities for the receiver tests."""

from __future__ import annotations

from devtools import wait_for
from devtools.fake_gateway import FakeGateway

__all__ = ["FakeGateway", "topic", "wait_for"]


def topic(gw: FakeGateway | str, channel: str = "punches") -> str:
    gid = gw.gateway_id if isinstance(gw, FakeGateway) else gw
    return f"rn/v1/gw/{gid}/{channel}"
