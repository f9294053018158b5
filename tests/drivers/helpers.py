"""Polling helpers for the driver tests."""

from __future__ import annotations

import time

from edge_agent.drivers import TurnstileError


def wait(pred, timeout=3.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.01)
    return False


def poll_until_ok(t, timeout=3.0):
    """Poll read_inputs() (the drivers' liveness tick) until health is ok."""
    def ok():
        try:
            t.read_inputs()
        except TurnstileError:
            return False
        return t.health().state == "ok"
    return wait(ok, timeout)
