"""A Modbus RTU relay module (coils + discrete inputs) on a pseudo-terminal.

Written from the frame up (not pymodbus' server) so that tests control every
fault: it validates each request's CRC-16/MODBUS (a bad one is recorded and
ignored, as a real slave does), records every raw request with a timestamp and
every accepted coil write, and can be told to stay silent, corrupt its replies'
CRC, prefix garbage, or vanish and come back. Functions: 01, 02, 05; others get
exception 01. Broadcast (address 0) writes are executed without a reply.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from . import PtyDevice

log = logging.getLogger(__name__)


def _table() -> tuple[int, ...]:
    out = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        out.append(crc)
    return tuple(out)


_CRC_TABLE = _table()


def crc16_modbus(data: bytes) -> int:
    """CRC-16/MODBUS (poly 0x8005 reflected = 0xA001, init 0xFFFF). On the wire: low byte first."""
    crc = 0xFFFF
    for b in data:
        crc = (crc >> 8) ^ _CRC_TABLE[(crc ^ b) & 0xFF]
    return crc


def with_crc(pdu: bytes) -> bytes:
    crc = crc16_modbus(pdu)
    return pdu + bytes((crc & 0xFF, crc >> 8))


@dataclass(frozen=True)
class Request:
    t: float            # time.monotonic() when the frame arrived
    raw: bytes
    crc_ok: bool


@dataclass(frozen=True)
class CoilWrite:
    t: float
    address: int
    on: bool


class ModbusRelayEmulator(PtyDevice):
    def __init__(self, link=None, *, device_id: int = 1, coils: int = 8, inputs: int = 8):
        self.device_id = device_id
        self.coils = [False] * coils
        self.inputs = [False] * inputs
        self.requests: list[Request] = []
        self.coil_writes: list[CoilWrite] = []
        # faults, switchable from tests at any time
        self.no_reply = False          # receive and execute, never answer
        self.ignore = False            # receive, do nothing (a dead module)
        self.drop_replies = 0          # the next N replies are not sent
        self.corrupt_crc = 0           # the next N replies carry a wrong CRC
        self.garbage_before = b""      # sent before replies ...
        self.garbage_replies = -1      # ... the next N of them (-1: all)
        self.reply_delay_s = 0.0
        self._changed = threading.Condition()
        super().__init__(link)

    # ---- test helpers --------------------------------------------------------
    def set_input(self, address: int, level: bool) -> None:
        self.inputs[address] = level

    def wait_for(self, predicate, timeout: float = 5.0) -> bool:
        with self._changed:
            return self._changed.wait_for(predicate, timeout)

    def valid_requests(self) -> list[bytes]:
        return [r.raw for r in self.requests if r.crc_ok]

    # ---- protocol ------------------------------------------------------------
    def on_frame(self, data: bytes, t: float) -> None:
        ok = len(data) >= 4 and crc16_modbus(data[:-2]) == int.from_bytes(data[-2:], "little")
        with self._changed:
            self.requests.append(Request(t, data, ok))
            self._changed.notify_all()
        if not ok:
            log.debug("modbus emulator: bad CRC, frame ignored: %s", data.hex(" "))
            return
        addr, pdu = data[0], data[1:-2]
        if self.ignore or addr not in (0, self.device_id) or not pdu:
            return
        reply = self._execute(pdu, t)
        if addr == 0 or reply is None or self.no_reply:
            return
        if self.drop_replies > 0:
            self.drop_replies -= 1
            return
        frame = with_crc(bytes((addr,)) + reply)
        if self.corrupt_crc > 0:
            self.corrupt_crc -= 1
            frame = frame[:-1] + bytes((frame[-1] ^ 0x5A,))
        if self.reply_delay_s:
            time.sleep(self.reply_delay_s)
        garbage = self.garbage_before if self.garbage_replies != 0 else b""
        if garbage and self.garbage_replies > 0:
            self.garbage_replies -= 1
        self.write(garbage + frame)

    def _execute(self, pdu: bytes, t: float) -> bytes | None:
        fc = pdu[0]
        if fc in (0x01, 0x02) and len(pdu) == 5:
            start, count = int.from_bytes(pdu[1:3], "big"), int.from_bytes(pdu[3:5], "big")
            table = self.coils if fc == 0x01 else self.inputs
            if not 1 <= count <= 2000:
                return bytes((fc | 0x80, 0x03))
            if start + count > len(table):
                return bytes((fc | 0x80, 0x02))
            bits = table[start:start + count]
            packed = bytearray((count + 7) // 8)
            for i, bit in enumerate(bits):
                if bit:
                    packed[i // 8] |= 1 << (i % 8)
            return bytes((fc, len(packed))) + bytes(packed)
        if fc == 0x05 and len(pdu) == 5:
            address, value = int.from_bytes(pdu[1:3], "big"), pdu[3:5]
            if value not in (b"\xff\x00", b"\x00\x00"):
                return bytes((0x85, 0x03))
            if address >= len(self.coils):
                return bytes((0x85, 0x02))
            on = value == b"\xff\x00"
            with self._changed:
                self.coils[address] = on
                self.coil_writes.append(CoilWrite(t, address, on))
                self._changed.notify_all()
            return pdu     # function 05 echoes the request
        return bytes((fc | 0x80, 0x01))
