"""What the person at the gate sees and hears: one message per event, zh-CN first.

The gate controller calls :meth:`Feedback.show` on every outcome with a *key*
(``"passed"``, ``"not_enrolled"``, ``"gate_fault"``…), never with personal data:
a display or speaker implementation looks the key up in :data:`MESSAGES` (or its
own translations / recorded voice files) and renders it. Implementations must be
quick and must not raise into the gate; the controller guards every call anyway.

Shipped: :class:`LogFeedback` (a console/log line per message, the default) and
:class:`MemoryFeedback` (keeps the keys; tests and demos). Real displays (an
LED matrix over serial, an HDMI kiosk page) and speakers (pre-recorded prompts
or TTS) implement the same one method; :class:`MultiFeedback` fans out to several.
"""

from __future__ import annotations

import abc
import logging
import threading
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Message:
    key: str
    zh: str          # shown and spoken on site (zh-CN)
    en: str          # for logs and foreign technicians
    voice: bool      # worth a voice prompt (not just a display line)
    level: str = "info"   # info | warning | alarm: a display may colour it


MESSAGES: dict[str, Message] = {m.key: m for m in (
    Message("please_pass", "请通行", "please pass", True),
    Message("passed", "通过", "passed", False),
    Message("look_at_camera", "请正视摄像头", "please look at the camera", True, "warning"),
    Message("not_enrolled", "未登记", "not enrolled", True, "warning"),
    Message("blink", "请眨眼", "please blink", True, "warning"),
    Message("turn_head", "请转头", "please turn your head", True, "warning"),
    Message("open_mouth", "请张嘴", "please open your mouth", True, "warning"),
    Message("liveness_failed", "活体检测未通过，请重试", "liveness check failed, try again", True, "warning"),
    Message("rejected", "验证未通过", "not verified", True, "warning"),
    Message("gate_fault", "设备故障，请联系管理员", "gate fault, call the site administrator", True, "alarm"),
    Message("gate_ready", "设备已恢复", "gate back in service", False),
    Message("not_passed", "未检测到通行，请重新验证", "no passage detected, verify again", False, "warning"),
    Message("tailgating", "请逐一通行", "one person per verification", True, "alarm"),
    Message("door_held", "请勿在通道内停留", "do not stay in the passage", True, "alarm"),
    Message("manual_release", "已手动放行", "manual release", True, "warning"),
    Message("release_ended", "消防联动解除，闸机恢复正常", "fire release ended, gate back to normal", True),
    # the vision pipeline's prompts (edge_agent.pipeline; quality keys from edge_agent.vision.quality)
    Message("move_closer", "请靠近摄像头", "please move closer", True, "warning"),
    Message("hold_still", "请保持不动", "please hold still", False, "warning"),
    Message("too_dark", "光线太暗", "too dark", False, "warning"),
    Message("too_bright", "光线太强", "too bright", False, "warning"),
    Message("one_at_a_time", "请一人一次验证", "one person at a time", True, "warning"),
    Message("already_punched", "已打卡", "already punched", True),
)}

# rejected attempt reason -> message key (liveness failures prompt for the cue that was asked)
REJECT_MESSAGES = {"not_enrolled": "not_enrolled", "low_match_score": "look_at_camera",
                   "gate_fault": "gate_fault", "liveness_timeout": "liveness_failed",
                   "liveness_unavailable": "gate_fault"}
CUE_MESSAGES = {"blink": "blink", "head_turn": "turn_head", "mouth_open": "open_mouth"}


def rejection_key(reject_reason: str | None, liveness_cue: str | None) -> str:
    if reject_reason == "liveness_failed":
        return CUE_MESSAGES.get(liveness_cue or "", "liveness_failed")
    return REJECT_MESSAGES.get(reject_reason or "", "rejected")


def message(key: str) -> Message:
    """The message for ``key``; an unknown key raises ``KeyError`` (a programming error)."""
    return MESSAGES[key]


class Feedback(abc.ABC):
    """Output to the person at one or more gates."""

    @abc.abstractmethod
    def show(self, gate_id: str, key: str, direction: str | None = None) -> None:
        """Display (and, if ``message(key).voice``, speak) the message ``key`` at ``gate_id``."""


class LogFeedback(Feedback):
    """One log line per message: gate, key and the texts. Never personal data."""

    def __init__(self, logger: logging.Logger | None = None, level: int = logging.INFO):
        self.log = logger or log
        self.level = level

    def show(self, gate_id: str, key: str, direction: str | None = None) -> None:
        m = message(key)
        self.log.log(self.level, "gate %s%s: [%s] %s / %s", gate_id,
                     f" ({direction})" if direction else "", m.key, m.zh, m.en)


class MemoryFeedback(Feedback):
    """Keeps ``(gate_id, key, direction)`` tuples in ``shown``."""

    def __init__(self):
        self.shown: list[tuple[str, str, str | None]] = []
        self._lock = threading.Lock()

    def show(self, gate_id: str, key: str, direction: str | None = None) -> None:
        message(key)
        with self._lock:
            self.shown.append((gate_id, key, direction))

    def keys(self, gate_id: str | None = None) -> list[str]:
        with self._lock:
            return [k for g, k, _ in self.shown if gate_id is None or g == gate_id]


class MultiFeedback(Feedback):
    """Every message to each of ``outputs`` (a failing one does not stop the others)."""

    def __init__(self, *outputs: Feedback):
        self.outputs = outputs

    def show(self, gate_id: str, key: str, direction: str | None = None) -> None:
        for out in self.outputs:
            try:
                out.show(gate_id, key, direction)
            except Exception:  # noqa: BLE001 - a broken display must not silence the speaker
                log.exception("feedback output %s failed", type(out).__name__)
