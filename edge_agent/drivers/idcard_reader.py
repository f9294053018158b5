"""Driver for second-generation resident ID card readers (二代证阅读器, SAM_V modules) on a
serial line. The enrollment UI calls :meth:`IdCardReader.poll` (find → select → read) and fills
its form from the :class:`IdCardRecord`; manual entry stays possible whatever happens here.
The protocol, with its sources, is in :mod:`edge_agent.drivers.idcard_protocol`.

PIPL: this module never logs a name, number, address or any text field of a card.
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import serial

from shared_schema.messages import CODE
from shared_schema.wire import decode, field

from .base import CLOSED, DriverHealth, HealthTracker, LinkError, PortError
from .config import PORT_LEN
from .serial_link import SERIAL_ERRORS, LinkClosed, LinkFailed, SerialLink

from .idcard_protocol import (
    CMD_FIND,
    CMD_READ,
    CMD_SAM_ID,
    CMD_SAM_STATUS,
    CMD_SELECT,
    CardRejected,
    FrameError,
    IdCardReaderError,
    IdCardRecord,
    MAX_GARBAGE,
    PREAMBLE,
    Reply,
    SW3_FOUND,
    SW3_NO_CARD,
    SW3_OK,
    SW3_SELECT_FAILED,
    StatusError,
    TEXT_LEN,
    decode_frame,
    encode_command,
    parse_card,
    split_read_reply,
)

log = logging.getLogger(__name__)


# ---- config ---------------------------------------------------------------------

@dataclass(frozen=True)
class IdCardReaderConfig:
    id: str = field(default="idcard", pattern=CODE)
    type: Literal["sam_serial"] = "sam_serial"
    port: str = field(default="/dev/ttyUSB0", max_len=PORT_LEN)
    baudrate: Literal[9600, 19200, 38400, 57600, 115200] = 115200
    timeout_ms: int = field(default=500, min=20, max=10000)        # status / find / select reply
    read_timeout_ms: int = field(default=3000, min=100, max=30000)  # the 1295-byte read reply
    retries: int = field(default=1, min=0, max=5)
    reconnect_interval_s: float = field(default=2.0, min=0.05, max=600.0)


def decode_idcard_reader(obj: Any, path: str = "edge.idcard_reader") -> IdCardReaderConfig:
    return decode(IdCardReaderConfig, obj, path)


# ---- the driver -----------------------------------------------------------------

def _card_side(exc: Exception | None) -> bool:
    """A status that blames the card (lifted, unreadable), not the reader: health stays ok."""
    return isinstance(exc, StatusError) and exc.card_side


class IdCardReader:
    """One SAM_V reader on a serial port. Never raises for an absent device at construction:
    it starts ``down`` and reconnects by itself when polled."""

    kind = "sam_serial"

    def __init__(self, cfg: IdCardReaderConfig | dict, *, today: Callable[[], _dt.date] = _dt.date.today):
        if isinstance(cfg, dict):
            cfg = decode_idcard_reader(cfg)
        self.cfg = cfg
        self.id = cfg.id
        self._today = today
        self._lock = threading.Lock()
        self._ser: serial.Serial | None = None
        self._tracker = HealthTracker(cfg.id, "down", "not connected yet", what="ID card reader")
        self._link = SerialLink(cfg.port, self._tracker, retries=cfg.retries,
                                reconnect_interval_s=cfg.reconnect_interval_s, open_port=self._port_open,
                                close_port=self._port_close, on_connect=self._sam_check)
        with self._lock:
            try:
                self._link.connect()
            except PortError as exc:
                self._link.drop(exc)

    # ---- port ----
    def _port_open(self) -> None:
        cfg = self.cfg
        if not os.path.exists(cfg.port):
            raise PortError(f"{cfg.port} does not exist")
        try:
            self._ser = serial.Serial(cfg.port, baudrate=cfg.baudrate, bytesize=8, parity="N", stopbits=1,
                                      timeout=0.02, write_timeout=cfg.timeout_ms / 1000.0, exclusive=True)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise PortError(str(exc)) from None

    def _port_close(self) -> None:
        ser, self._ser = self._ser, None
        if ser is not None:
            ser.close()

    def _sam_check(self) -> None:
        """Run on every (re)connect: a silent or failing SAM leaves the port open but not ok."""
        try:
            reply = self._exchange(CMD_SAM_STATUS, self.cfg.timeout_ms)
            if reply.sw3 != SW3_OK:
                raise StatusError("SAM status", reply.sw3)
        except LinkError as exc:
            self._link.failures += 1
            self._tracker.set("degraded", f"connected on {self.cfg.port}, SAM check failed: {exc}")
            return
        self._ok()

    def _ok(self) -> None:
        self._link.failures = 0
        self._tracker.set("ok", f"ready on {self.cfg.port}")

    @staticmethod
    def _stale(command: tuple[int, int], reply: Reply) -> bool:
        """Replies carry no command echo: a late reply to the previous command (after a timeout)
        can arrive while we wait for this one. These shapes cannot answer ``command``: skip them."""
        if command == CMD_FIND:
            return reply.sw3 == SW3_OK                       # a late SAM-status / select / read reply
        if command == CMD_SELECT:
            return reply.sw3 == SW3_FOUND                    # a late find reply
        if command == CMD_READ:
            return reply.sw3 == SW3_FOUND or (reply.sw3 == SW3_OK and len(reply.data) < 4 + TEXT_LEN)
        return False

    def _exchange(self, command: tuple[int, int], timeout_ms: int) -> Reply:
        """Send one command and read its reply within ``timeout_ms``. PortError / FrameError."""
        ser = self._ser
        if ser is None:
            raise PortError("port closed")
        frame = encode_command(*command)
        try:
            if not os.path.exists(self.cfg.port):
                raise PortError(f"{self.cfg.port} disappeared")
            ser.reset_input_buffer()          # a late reply to an earlier attempt must not answer this one
            if ser.write(frame) != len(frame):
                raise PortError("short write")
            ser.flush()
            deadline = time.monotonic() + timeout_ms / 1000.0
            buf = bytearray()
            while True:
                found = decode_frame(buf)
                if found is not None:
                    reply = Reply.from_payload(found[0])
                    if not self._stale(command, reply):
                        return reply
                    log.debug("ID card reader %s: skipped a stale reply (SW3 %02X)", self.id, reply.sw3)
                    del buf[:found[2]]
                    continue
                if PREAMBLE not in buf and len(buf) > MAX_GARBAGE:
                    raise FrameError("garbage", f"{len(buf)} bytes without a frame")
                if time.monotonic() >= deadline:
                    break
                chunk = ser.read(max(1, min(ser.in_waiting, 8192)))
                if chunk:
                    buf += chunk
        except serial.SerialTimeoutException as exc:
            raise PortError(f"write timed out: {exc}") from None
        except SERIAL_ERRORS as exc:
            raise PortError(str(exc)) from None
        if not buf:
            raise FrameError("no_reply", f"no reply within {timeout_ms} ms")
        if PREAMBLE in buf:
            raise FrameError("truncated", f"incomplete reply ({len(buf)} bytes) within {timeout_ms} ms")
        raise FrameError("garbage", f"{len(buf)} bytes without a frame within {timeout_ms} ms")

    # ---- one find → select → read ----
    def _poll_once(self) -> IdCardRecord | None:
        cfg = self.cfg
        reply = self._exchange(CMD_FIND, cfg.timeout_ms)
        if reply.sw3 == SW3_NO_CARD:
            return None
        if reply.sw3 != SW3_FOUND:
            raise StatusError("find card", reply.sw3)
        reply = self._exchange(CMD_SELECT, cfg.timeout_ms)
        if reply.sw3 == SW3_SELECT_FAILED:      # lifted between find and select
            return None
        if reply.sw3 != SW3_OK:
            raise StatusError("select card", reply.sw3)
        reply = self._exchange(CMD_READ, cfg.read_timeout_ms)
        if reply.sw3 != SW3_OK:
            raise StatusError("read card", reply.sw3)
        text, photo = split_read_reply(reply.data)
        return parse_card(text, photo, today=self._today())

    # ---- interface ----
    def poll(self) -> IdCardRecord | None:
        """One find → select → read. ``None`` when no card is on the reader. Raises
        :class:`CardRejected` (the card's data is unusable: the reason is safe to show) or
        :class:`IdCardReaderError` (no valid answer after 1 + ``retries`` attempts, or port absent)."""
        with self._lock:
            try:
                record = self._link.run(self._poll_once, "poll", benign=_card_side)
            except LinkClosed as exc:
                raise IdCardReaderError(str(exc)) from None
            except LinkFailed as exc:
                if self._link.connected and _card_side(exc.last):
                    self._ok()      # the reader answered properly: it is the card that failed
                    raise IdCardReaderError(f"ID card reader {self.id}: {exc.last}; "
                                            "place the card flat and retry") from None
                raise IdCardReaderError(f"ID card reader {self.id}: {exc.last}") from None
            except CardRejected as exc:
                self._ok()
                log.info("ID card reader %s: %s", self.id, exc)    # value-free by construction
                raise
            self._ok()
            if record is not None:
                log.info("ID card reader %s: card read", self.id)
            return record

    def sam_id(self) -> bytes:
        """The SAM's management info (``12 FF``): the module number, raw bytes (not personal data)."""
        with self._lock:
            if not self._link.connected:
                raise IdCardReaderError(f"ID card reader {self.id}: {self._tracker.get().detail}")
            try:
                reply = self._exchange(CMD_SAM_ID, self.cfg.timeout_ms)
            except PortError as exc:
                self._link.drop(exc)
                raise IdCardReaderError(f"ID card reader {self.id}: {exc}") from None
            except LinkError as exc:
                raise IdCardReaderError(f"ID card reader {self.id}: {exc}") from None
            if reply.sw3 != SW3_OK:
                raise IdCardReaderError(f"ID card reader {self.id}: {StatusError('SAM id', reply.sw3)}")
            return reply.data

    def health(self) -> DriverHealth:
        return self._tracker.get()

    def close(self) -> None:
        with self._lock:
            if self._link.closed:
                return
            self._link.close()
            self._tracker.set("down", CLOSED)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
