"""Feedback on the gate's own reader: each message as a reader LED colour and buzzer pattern.

For turnstiles whose driver can signal (an OSDP reader: ``indicate("ok" | "warning" | "alarm")``)
the agent adds this output next to the display/log one (:class:`~edge_agent.feedback.MultiFeedback`):
the message's level picks the signal (info → green + one beep, warning → amber + two,
alarm → red + three long). Never raises, never waits: the driver submits and returns.
"""

from __future__ import annotations

import logging
from typing import Any, Mapping

from .feedback import Feedback, message

log = logging.getLogger(__name__)

LEVELS = {"info": "ok", "warning": "warning", "alarm": "alarm"}


def signalling(turnstiles: Mapping[str, Any], gates) -> dict[str, Any]:
    """gate id → its turnstile, for the gates whose turnstile can signal."""
    return {g.id: turnstiles[g.turnstile] for g in gates
            if g.turnstile and callable(getattr(turnstiles.get(g.turnstile), "indicate", None))}


class ReaderFeedback(Feedback):
    def __init__(self, readers: Mapping[str, Any]):
        self.readers = dict(readers)

    def show(self, gate_id: str, key: str, direction: str | None = None) -> None:
        reader = self.readers.get(gate_id)
        if reader is None:
            return
        try:
            reader.indicate(LEVELS.get(message(key).level, "warning"))
        except Exception:  # noqa: BLE001 - a reader that cannot blink never stops the gate
            log.exception("gate %s: reader signal for %s failed", gate_id, key)
