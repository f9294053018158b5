"""The SAM_V protocol of second-generation resident ID card readers (二代证阅读器): frames,
status words, and parsing a card's text into an :class:`IdCardRecord`. No I/O here: the
driver is :mod:`edge_agent.drivers.idcard_reader`, the emulator
:mod:`edge_agent.drivers.emulators.idcard_reader`.

Protocol (the public "公安部身份证阅读器模块SAM通讯协议" as republished by its vendors):

- UART 8N1, default 115200 bps (57600/38400/19200/9600 settable).
- Command frame ``AA AA AA 96 69 | Len1 Len2 | CMD Para Data | CHK_SUM``; reply frame
  ``AA AA AA 96 69 | Len1 Len2 | SW1 SW2 SW3 Data | CHK_SUM``. Len is big-endian and counts
  everything after itself, the checksum included. CHK_SUM is the XOR of every byte except
  the preamble and the checksum (so: over Len1..Data).
- Commands: ``10 FF`` reset SAM, ``11 FF`` SAM status check, ``12 FF`` read SAM management
  info (its number), ``20 01`` find card, ``20 02`` select card, ``30 01`` read text + photo.
  (``12 FF`` is *not* the status check: the sources list it as "读 SAM 管理信息".)
- SW3: ``90`` success, ``9F`` find success (Data = the card's 4-byte IIN), ``80`` find
  failed (no card), ``81`` select failed, ``10`` our checksum wrong, ``11`` our length
  wrong, ``21`` bad command, ``24`` unknown error, ``31``/``32``/``33`` card/reader
  authentication or verification failed, ``40`` wrong card, ``41`` read failed, ``47`` get
  random failed, ``60`` self-test failed, ``66`` reader not authorised.
- The ``30 01`` reply is 1295 bytes: ``AA AA AA 96 69 05 08 00 00 90 01 00 04 00`` + 256 bytes
  of text + 1024 bytes of photo + checksum; text and photo lengths are 2-byte big-endian
  (``01 00`` = 256, ``04 00`` = 1024).
- The 256 bytes of text (GA/T 490, UCS-2 little-endian, space-padded): name 30, sex code 2
  (GB/T 2261.1), nation code 4 (GB/T 3304), birth date 16 (YYYYMMDD), address 70, ID number
  36, issuing authority 30, validity start 16, validity end 16 (YYYYMMDD, or "长期" =
  long-term), reserved 36. The photo is a WLT file that only the vendor library decodes: its
  raw bytes are kept, never decoded here. A foreigner's permanent residence card has another
  layout and carries a type marker ("I") at text offset 248; a non-blank marker there is
  rejected as "not a resident ID card".

Sources: eastcoms.com/service/downdrive/508.html (SAM_V 通讯协议: UART settings, frame
format, checksum, command table) and .../533.html (the 1295-byte read reply header);
softs.im "身份证阅读器通信协议" (commands incl. 11/12, the SW3 table); yzsam.com
"C# 使用串口分析SAM协议" and geeksrepos.com/qiwenming/IDCardDemo (find/select/read frames
and their replies with checksums, the text layout, "长期"); wiki.nfc.im 智能卡手册
二代居民身份证 (GA/T 490 field widths, WLT photo); afzhan.com news_212938 (the foreigner
card layout with its "I" marker at offset 248).

PIPL: an :class:`IdCardRecord` prints and logs with its ID number masked and its name
shortened; this module never logs a name, number, address or any text field. Rejection
reasons name the field and the rule, never the value.
"""

from __future__ import annotations

import datetime as _dt
import logging
from dataclasses import dataclass
from functools import reduce


from shared_schema.idcard import InvalidIdNumber, mask_id_number, parse_resident_id
from shared_schema.personcodes import NATIONS, SEX_LABELS

from .base import (
    LinkError,
)

log = logging.getLogger(__name__)

PREAMBLE = b"\xAA\xAA\xAA\x96\x69"
CMD_RESET = (0x10, 0xFF)
CMD_SAM_STATUS = (0x11, 0xFF)
CMD_SAM_ID = (0x12, 0xFF)
CMD_FIND = (0x20, 0x01)
CMD_SELECT = (0x20, 0x02)
CMD_READ = (0x30, 0x01)

SW3_OK, SW3_FOUND, SW3_NO_CARD, SW3_SELECT_FAILED = 0x90, 0x9F, 0x80, 0x81
SW3_TEXT = {
    0x90: "success", 0x9F: "card found", 0x10: "reader got a bad checksum", 0x11: "reader got a bad length",
    0x21: "reader rejected the command", 0x24: "reader: unidentified error",
    0x31: "card failed to authenticate the reader", 0x32: "reader failed to authenticate the card",
    0x33: "information verification failed", 0x40: "wrong card type", 0x41: "reading the card failed",
    0x47: "getting a random number failed", 0x60: "SAM self-test failed", 0x66: "reader not authorised",
    0x80: "no card", 0x81: "selecting the card failed", 0x91: "no such item on the card",
}
CARD_SIDE = frozenset({0x31, 0x32, 0x33, 0x40, 0x41, 0x47})   # the card, not the reader: health unaffected

MAX_LEN = 4096        # largest Len accepted (the biggest documented reply, text+photo+fingerprints, is 2314)
MAX_GARBAGE = 4096    # bytes skipped while hunting a preamble before the reply counts as garbage
TEXT_LEN, PHOTO_LEN = 256, 1024
TEXT_FIELDS: tuple[tuple[str, int], ...] = (
    ("name", 30), ("sex", 2), ("nation", 4), ("birth", 16), ("address", 70), ("id_number", 36),
    ("authority", 30), ("valid_from", 16), ("valid_until", 16), ("reserved", 36))
assert sum(w for _, w in TEXT_FIELDS) == TEXT_LEN
TYPE_MARKER_OFFSET = 248
LONG_TERM = "长期"


# ---- frames -------------------------------------------------------------------

class FrameError(LinkError):
    """A reply that is not a valid frame; ``reason``: checksum, length, oversize, truncated, garbage,
    no_reply, layout."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


class StatusError(LinkError):
    """A well-formed reply whose SW3 says the command failed."""

    def __init__(self, what: str, sw3: int):
        super().__init__(f"{what}: SW3 {sw3:02X} ({SW3_TEXT.get(sw3, 'undocumented status')})")
        self.sw3 = sw3
        self.card_side = sw3 in CARD_SIDE


def xor_checksum(data: bytes) -> int:
    return reduce(lambda a, b: a ^ b, data, 0)


def encode_frame(payload: bytes) -> bytes:
    """Preamble, 2-byte big-endian length (payload + checksum), payload, XOR checksum over length..payload."""
    if len(payload) + 1 > 0xFFFF:
        raise ValueError("payload too long for a SAM frame")
    head = (len(payload) + 1).to_bytes(2, "big")
    return PREAMBLE + head + payload + bytes((xor_checksum(head + payload),))


def encode_command(cmd: int, para: int, data: bytes = b"") -> bytes:
    """``encode_command(0x20, 0x01)`` = ``AA AA AA 96 69 00 03 20 01 22`` (find card)."""
    return encode_frame(bytes((cmd, para)) + data)


def encode_reply(sw3: int, data: bytes = b"", sw1: int = 0, sw2: int = 0) -> bytes:
    """``encode_reply(0x9F, bytes(4))`` = ``AA AA AA 96 69 00 08 00 00 9F 00 00 00 00 97``."""
    return encode_frame(bytes((sw1, sw2, sw3)) + data)


def decode_frame(buf: bytes | bytearray, max_len: int = MAX_LEN) -> tuple[bytes, int, int] | None:
    """The first frame in ``buf``: ``(payload, start, end)`` (payload without length and checksum;
    ``buf[start:end]`` is the whole frame; bytes before ``start`` were noise). ``None`` while more
    bytes are needed. Raises :class:`FrameError` for a length below 1 or above ``max_len`` and for a
    wrong checksum (without waiting for the rest of an oversize frame)."""
    start = bytes(buf).find(PREAMBLE)
    if start < 0:
        return None
    p = start + len(PREAMBLE)
    if len(buf) < p + 2:
        return None
    n = int.from_bytes(buf[p:p + 2], "big")
    if n < 1:
        raise FrameError("length", "length field 0")
    if n > max_len:
        raise FrameError("oversize", f"length field {n} > {max_len}")
    end = p + 2 + n
    if len(buf) < end:
        return None
    body = bytes(buf[p:end - 1])          # length bytes + payload
    if xor_checksum(body) != buf[end - 1]:
        raise FrameError("checksum", f"checksum {buf[end - 1]:02X}, computed {xor_checksum(body):02X}")
    return body[2:], start, end


@dataclass(frozen=True)
class Reply:
    sw1: int
    sw2: int
    sw3: int
    data: bytes

    @classmethod
    def from_payload(cls, payload: bytes) -> Reply:
        if len(payload) < 3:
            raise FrameError("length", f"reply of {len(payload)} bytes has no SW1 SW2 SW3")
        return cls(payload[0], payload[1], payload[2], payload[3:])


# ---- the record ----------------------------------------------------------------

class IdCardReaderError(RuntimeError):
    """The reader could not deliver a card (after bounded retries); ``health()`` says more."""


class CardRejected(IdCardReaderError):
    """The card was read but its data is not a usable resident ID; ``reason`` names the field and
    the rule, never the value (safe to log and to show)."""

    def __init__(self, reason: str):
        super().__init__(f"card rejected: {reason}")
        self.reason = reason


@dataclass(frozen=True, repr=False)
class IdCardRecord:
    name: str
    sex_code: str                        # GB/T 2261.1: "1" 男, "2" 女
    sex_label: str
    nation_code: str                     # GB/T 3304: "01".."56", "97", "98"
    nation_label: str
    birth_date: _dt.date
    address: str
    id_number: str                       # validated (GB 11643), consistent with birth date and sex
    issuing_authority: str
    valid_from: _dt.date
    valid_until: _dt.date | None         # None = 长期 (long-term)
    photo_wlt: bytes                     # the chip photo, WLT-encoded: needs the vendor decoder

    @property
    def long_term(self) -> bool:
        return self.valid_until is None

    @property
    def masked_id_number(self) -> str:
        return mask_id_number(self.id_number)

    def is_expired(self, today: _dt.date | None = None) -> bool:
        return self.valid_until is not None and self.valid_until < (today or _dt.date.today())

    def form_fields(self) -> dict[str, str]:
        """Full values for the enrollment form (never log this)."""
        return {"id_type": "01", "id_number": self.id_number, "name": self.name, "sex": self.sex_code,
                "nation": self.nation_code, "birth_date": self.birth_date.isoformat(),
                "address": self.address, "issuing_authority": self.issuing_authority,
                "valid_from": self.valid_from.isoformat(),
                "valid_until": LONG_TERM if self.valid_until is None else self.valid_until.isoformat()}

    def __repr__(self) -> str:
        until = LONG_TERM if self.valid_until is None else self.valid_until.isoformat()
        return (f"IdCardRecord(id_number={self.masked_id_number!r}, name={self.name[:1] + '*' * (len(self.name) - 1)!r}, "
                f"sex={self.sex_code!r}, nation={self.nation_code!r}, valid_until={until!r}, "
                f"photo_wlt=<{len(self.photo_wlt)} bytes>)")

    __str__ = __repr__


def _date(text: str, what: str) -> _dt.date:
    if len(text) != 8 or not text.isascii() or not text.isdigit():
        raise CardRejected(f"{what} is not YYYYMMDD")
    try:
        return _dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        raise CardRejected(f"{what} is not a date") from None


def split_text(text: bytes) -> dict[str, str]:
    """The 256-byte text block → field name → value (UCS-2 LE, trailing spaces/NULs trimmed)."""
    if len(text) != TEXT_LEN:
        raise CardRejected(f"text block is {len(text)} bytes, not {TEXT_LEN}")
    out, pos = {}, 0
    for name, width in TEXT_FIELDS:
        try:
            out[name] = text[pos:pos + width].decode("utf-16-le").rstrip(" \x00")
        except UnicodeDecodeError:
            raise CardRejected(f"field {name} is not UCS-2 text") from None
        pos += width
    return out


def parse_card(text: bytes, photo: bytes, *, today: _dt.date | None = None) -> IdCardRecord:
    """Text + photo blocks → a validated record; :class:`CardRejected` with a value-free reason."""
    f = split_text(text)
    if text[TYPE_MARKER_OFFSET:TYPE_MARKER_OFFSET + 2] not in (b"\x20\x00", b"\x00\x00"):
        raise CardRejected("not a resident ID card (card type marker set: e.g. a foreigner's "
                           "permanent residence card); enter it by hand")
    if not f["name"]:
        raise CardRejected("name is empty")
    sex = f["sex"]
    if sex not in ("1", "2"):
        raise CardRejected("sex code is not 1 or 2 (GB/T 2261.1)")
    nation = f["nation"]
    if nation not in NATIONS:
        raise CardRejected("nation code is not in the GB/T 3304 table")
    birth = _date(f["birth"], "birth date")
    try:
        rid = parse_resident_id(f["id_number"], today=today)
    except InvalidIdNumber as exc:
        raise CardRejected(f"ID number on the card is invalid: {exc}") from None
    if rid.birth_date != birth:
        raise CardRejected("birth date on the card does not match the ID number")
    if rid.sex != ("M" if sex == "1" else "F"):
        raise CardRejected("sex on the card does not match the ID number")
    valid_from = _date(f["valid_from"], "validity start")
    valid_until = None if f["valid_until"] == LONG_TERM else _date(f["valid_until"], "validity end")
    if valid_until is not None and valid_until < valid_from:
        raise CardRejected("validity end is before validity start")
    if len(photo) != PHOTO_LEN:
        raise CardRejected(f"photo is {len(photo)} bytes, not {PHOTO_LEN}")
    return IdCardRecord(name=f["name"], sex_code=sex, sex_label=SEX_LABELS[sex], nation_code=nation,
                        nation_label=NATIONS[nation], birth_date=birth, address=f["address"],
                        id_number=rid.number, issuing_authority=f["authority"], valid_from=valid_from,
                        valid_until=valid_until, photo_wlt=bytes(photo))


def split_read_reply(data: bytes) -> tuple[bytes, bytes]:
    """The Data of a ``30 01`` reply → (text, photo); :class:`FrameError` ``layout`` when it does not add up."""
    if len(data) < 4:
        raise FrameError("layout", f"read reply data of {len(data)} bytes")
    text_len, photo_len = int.from_bytes(data[:2], "big"), int.from_bytes(data[2:4], "big")
    if (text_len, photo_len) != (TEXT_LEN, PHOTO_LEN):
        raise FrameError("layout", f"text/photo lengths {text_len}/{photo_len}, expected {TEXT_LEN}/{PHOTO_LEN}")
    if len(data) != 4 + text_len + photo_len:
        raise FrameError("layout", f"read reply data of {len(data)} bytes for {text_len}+{photo_len}")
    return data[4:4 + text_len], data[4 + text_len:]
