"""Small utilities for the receiver tests."""

from __future__ import annotations

import time

from devtools.fake_gateway import FakeGateway

__all__ = ["FakeGateway", "topic", "wait_for"]


def topic(gw: FakeGateway | str, channel: str = "punches") -> str:
    gid = gw.gateway_id if isinstance(gw, FakeGateway) else gw
    return f"rn/v1/gw/{gid}/{channel}"


def wait_for(pred, timeout: float = 10.0, interval: float = 0.02, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")
