"""Resident ID number (居民身份证号码) checks per GB 11643-1999.

18 characters: 6-digit region code, 8-digit birth date, 3-digit order code
(odd = male, even = female) and a check character computed over the first 17.
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"
_SHAPE = re.compile(r"^\d{17}[\dX]$")


class InvalidIdNumber(ValueError):
    """The text is not a valid resident ID number; ``str(exc)`` says why (never echoes the number)."""


def check_character(first17: str) -> str:
    """The GB 11643 check character for the first 17 digits."""
    if len(first17) != 17 or not first17.isdigit() or not first17.isascii():
        raise InvalidIdNumber("需要17位数字 / need 17 digits")
    total = sum(int(d) * w for d, w in zip(first17, WEIGHTS))
    return CHECK_CHARS[total % 11]


@dataclass(frozen=True)
class ResidentId:
    number: str
    region_code: str
    birth_date: _dt.date
    sex: str  # "M" or "F"


def parse_resident_id(text: str, *, today: _dt.date | None = None) -> ResidentId:
    """Validate and decompose an 18-character resident ID number.

    A lower-case ``x`` is accepted and normalised. Raises :class:`InvalidIdNumber`
    with a reason that does not contain the number itself (safe to log).
    """
    if not isinstance(text, str):
        raise InvalidIdNumber("身份证号必须是文本 / must be text")
    number = text.strip().upper()
    if len(number) != 18:
        raise InvalidIdNumber("身份证号应为18位 / must be 18 characters")
    if not number.isascii() or not _SHAPE.match(number):
        raise InvalidIdNumber("身份证号格式错误 / must be 17 digits and a digit or X")
    try:
        birth = _dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise InvalidIdNumber("出生日期无效 / birth date is not a date") from None
    today = today or _dt.date.today()
    if birth > today or birth.year < 1900:
        raise InvalidIdNumber("出生日期不合理 / birth date out of range")
    if check_character(number[:17]) != number[17]:
        raise InvalidIdNumber("校验码错误 / check character does not match")
    sex = "M" if int(number[16]) % 2 == 1 else "F"
    return ResidentId(number=number, region_code=number[:6], birth_date=birth, sex=sex)


def is_valid_resident_id(text: str) -> bool:
    try:
        parse_resident_id(text)
    except InvalidIdNumber:
        return False
    return True


def mask_id_number(number: str) -> str:
    """Mask for display: keep the first 3 and last 4 characters (``440***********1234``)."""
    if len(number) <= 7:
        return "*" * len(number)
    return number[:3] + "*" * (len(number) - 7) + number[-4:]
