"""A SAM_V second-generation ID card reader on a pseudo-terminal.

Parses the host's byte stream into ``AA AA AA 96 69`` frames (resynchronising on the
preamble), checks each frame's length and XOR checksum (a bad one is answered with SW3
``10``, as the protocol says) and answers reset / SAM status / SAM id / find / select /
read with correctly framed replies. The card is a :class:`Card` of plain strings, so a
test can put anything on it (an invalid ID number, a foreigner's card marker); its text
block is built here independently of the driver's parser. Like a real reader, a read
needs a find and a select of the card currently on it.

Faults, switchable at any time: ``no_reply`` (next N commands unanswered), ``corrupt_checksum``,
``truncate`` (only the first half of the next N replies), ``garbage_before`` (bytes sent before
replies), ``status`` (command → SW3 to answer instead, e.g. ``{(0x30, 0x01): 0x41}``),
``oversize`` (next N replies announce a length of 0xFFFF), ``babble`` (bytes sent instead of
the next reply: noise without a frame), ``delay_next`` (the next N replies wait ``reply_delay_s``),
``fault_commands`` (when set, the reply faults hit only replies to these commands), ``sam_sw3`` (the SAM self-check
status), and ``vanish()`` / ``reappear()`` from :class:`PtyDevice`.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from . import PtyDevice

log = logging.getLogger(__name__)

PREAMBLE = b"\xAA\xAA\xAA\x96\x69"
WIDTHS = (("name", 30), ("sex", 2), ("nation", 4), ("birth", 16), ("address", 70), ("id_number", 36),
          ("authority", 30), ("valid_from", 16), ("valid_until", 16), ("reserved", 36))
SAM_ID = bytes.fromhex("0501" "00000000" "0000002A" "00000000" "0000")     # a made-up module number


@dataclass
class Card:
    """What the chip holds. Strings go on the wire as UCS-2 LE, padded with spaces to the width."""
    name: str
    sex: str
    nation: str
    birth: str
    address: str
    id_number: str
    authority: str
    valid_from: str
    valid_until: str
    reserved: str = ""
    photo: bytes = field(default_factory=lambda: bytes(range(256)) * 4)
    type_marker: str = ""                 # "I" = foreigner's permanent residence card (offset 248)

    def text_block(self) -> bytes:
        out = bytearray()
        for name, width in WIDTHS:
            raw = getattr(self, name).encode("utf-16-le")
            if len(raw) > width:
                raise ValueError(f"{name} does not fit in {width} bytes")
            out += raw + " ".encode("utf-16-le") * ((width - len(raw)) // 2)
        if self.type_marker:
            out[248:250] = self.type_marker.encode("utf-16-le")
        assert len(out) == 256
        return bytes(out)


def _xor(data: bytes) -> int:
    x = 0
    for b in data:
        x ^= b
    return x


def frame(payload: bytes, *, length: int | None = None) -> bytes:
    head = (len(payload) + 1 if length is None else length).to_bytes(2, "big")
    return PREAMBLE + head + payload + bytes((_xor(head + payload),))


@dataclass(frozen=True)
class Request:
    t: float
    raw: bytes
    valid: bool


class IdCardReaderEmulator(PtyDevice):
    def __init__(self, link=None):
        self.card: Card | None = None
        self.selected = False
        self.found = False
        self.requests: list[Request] = []
        self.no_reply = 0
        self.corrupt_checksum = 0
        self.truncate = 0
        self.oversize = 0
        self.garbage_before = b""
        self.babble = b""
        self.delay_next = 0
        self.reply_delay_s = 0.0
        self.fault_commands: set[tuple[int, int]] | None = None
        self._cmd: tuple[int, int] | None = None
        self.status: dict[tuple[int, int], int] = {}
        self.sam_sw3 = 0x90
        self._buf = bytearray()
        self._changed = threading.Condition()
        super().__init__(link)

    # ---- test controls ----
    def insert(self, card: Card) -> None:
        with self._lock:
            self.card, self.found, self.selected = card, False, False

    def remove(self) -> None:
        with self._lock:
            self.card, self.found, self.selected = None, False, False

    def commands(self) -> list[bytes]:
        return [r.raw for r in self.requests if r.valid]

    def wait_for(self, predicate, timeout: float = 5.0) -> bool:
        with self._changed:
            return self._changed.wait_for(predicate, timeout)

    def vanish(self) -> None:
        super().vanish()
        self._buf.clear()

    # ---- the byte stream ----
    def on_frame(self, data: bytes, t: float) -> None:
        self._buf += data
        while True:
            start = self._buf.find(PREAMBLE)
            if start < 0:
                keep = min(4, len(self._buf))   # a preamble may be arriving
                if len(self._buf) > keep:
                    self._record(bytes(self._buf[:-keep]), t, False)
                    del self._buf[:-keep]
                return
            if start > 0:
                self._record(bytes(self._buf[:start]), t, False)
                del self._buf[:start]
            if len(self._buf) < 7:
                return
            n = int.from_bytes(self._buf[5:7], "big")
            if n < 3 or n > 1024:           # no command is that long: answer "length wrong", resync
                self._record(bytes(self._buf[:7]), t, False)
                del self._buf[:5]
                self._send(bytes((0, 0, 0x11)))
                continue
            if len(self._buf) < 7 + n:
                return
            raw = bytes(self._buf[:7 + n])
            del self._buf[:7 + n]
            if _xor(raw[5:-1]) != raw[-1]:
                self._record(raw, t, False)
                self._send(bytes((0, 0, 0x10)))
                continue
            self._record(raw, t, True)
            self._cmd = (raw[7], raw[8])
            self._answer(raw[7], raw[8])

    def _answer(self, cmd: int, para: int) -> None:
        forced = self.status.get((cmd, para))
        if forced is not None:
            self._send(bytes((0, 0, forced)))
            return
        card = self.card
        if (cmd, para) == (0x10, 0xFF):
            self.found = self.selected = False
            self._send(bytes((0, 0, 0x90)))
        elif (cmd, para) == (0x11, 0xFF):
            self._send(bytes((0, 0, self.sam_sw3)))
        elif (cmd, para) == (0x12, 0xFF):
            self._send(bytes((0, 0, 0x90)) + SAM_ID)
        elif (cmd, para) == (0x20, 0x01):
            self.found, self.selected = card is not None, False
            self._send(bytes((0, 0, 0x9F)) + bytes(4) if card is not None else bytes((0, 0, 0x80)))
        elif (cmd, para) == (0x20, 0x02):
            self.selected = card is not None and self.found
            self._send(bytes((0, 0, 0x90)) + bytes(8) if self.selected else bytes((0, 0, 0x81)))
        elif (cmd, para) == (0x30, 0x01):
            if card is None or not self.selected:
                self._send(bytes((0, 0, 0x41)))
                return
            text, photo = card.text_block(), card.photo
            self._send(bytes((0, 0, 0x90)) + len(text).to_bytes(2, "big") + len(photo).to_bytes(2, "big")
                       + text + photo)
        else:
            self._send(bytes((0, 0, 0x21)))

    def _send(self, payload: bytes) -> None:
        if self.fault_commands is not None and self._cmd not in self.fault_commands:
            self.write(frame(payload))
            return
        if self.delay_next:
            self.delay_next -= 1
            time.sleep(self.reply_delay_s)
        if self.no_reply:
            self.no_reply -= 1
            return
        if self.babble:
            out, self.babble = self.babble, b""
            self.write(out)
            return
        out = frame(payload)
        if self.oversize:
            self.oversize -= 1
            out = frame(payload, length=0xFFFF)[:64]
        if self.corrupt_checksum:
            self.corrupt_checksum -= 1
            out = out[:-1] + bytes((out[-1] ^ 0x5A,))
        if self.truncate:
            self.truncate -= 1
            out = out[:max(8, len(out) // 2)]
        self.write(self.garbage_before + out)

    def _record(self, raw: bytes, t: float, valid: bool) -> None:
        with self._changed:
            self.requests.append(Request(t, raw, valid))
            self._changed.notify_all()
