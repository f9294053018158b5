"""An LCUS-type USB relay board on a pseudo-terminal.

Parses the byte stream into 4-byte ``A0 <channel> <state> <checksum>`` commands,
resynchronising on ``A0``; a wrong checksum, state or channel is recorded and
ignored (the real boards ignore it too). It never answers, like the real boards;
tests can make it send garbage, play dead (``ignore``) or vanish and come back.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from . import PtyDevice


@dataclass(frozen=True)
class Command:
    t: float
    raw: bytes
    valid: bool


@dataclass(frozen=True)
class Switch:
    t: float
    channel: int
    on: bool


class UsbRelayEmulator(PtyDevice):
    def __init__(self, link=None, *, channels: int = 2):
        self.channels = channels
        self.states = [False] * (channels + 1)      # index 1..channels
        self.commands: list[Command] = []
        self.switches: list[Switch] = []
        self.ignore = False
        self._buf = bytearray()
        self._changed = threading.Condition()
        super().__init__(link)

    def wait_for(self, predicate, timeout: float = 5.0) -> bool:
        with self._changed:
            return self._changed.wait_for(predicate, timeout)

    def valid_commands(self) -> list[bytes]:
        return [c.raw for c in self.commands if c.valid]

    def vanish(self) -> None:
        super().vanish()
        self._buf.clear()

    def on_frame(self, data: bytes, t: float) -> None:
        self._buf += data
        while self._buf:
            start = self._buf.find(0xA0)
            if start < 0:
                self._record(bytes(self._buf), t, False)
                self._buf.clear()
                return
            if start > 0:
                self._record(bytes(self._buf[:start]), t, False)
                del self._buf[:start]
            if len(self._buf) < 4:
                return
            cmd = bytes(self._buf[:4])
            _, ch, state, checksum = cmd
            valid = checksum == (0xA0 + ch + state) & 0xFF and state in (0, 1) and 1 <= ch <= self.channels
            if not valid:
                self._record(cmd, t, False)   # then drop only the A0 and resynchronise
                del self._buf[:1]
                continue
            del self._buf[:4]
            self._record(cmd, t, True)
            if not self.ignore:
                with self._changed:
                    self.states[ch] = bool(state)
                    self.switches.append(Switch(t, ch, bool(state)))
                    self._changed.notify_all()

    def _record(self, raw: bytes, t: float, valid: bool) -> None:
        with self._changed:
            self.commands.append(Command(t, raw, valid))
            self._changed.notify_all()
