"""Strict JSON decoding into frozen dataclasses, and canonical encoding.

The decoder is deliberately unforgiving: unknown fields, missing fields, wrong
types, NaN/Infinity, duplicate keys and oversize payloads are all rejected with
a :class:`DecodeError` whose ``reason`` is a short stable code (for counters)
and whose message names the offending field (never its value: values can be
personal data).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import math
import re
import types
import typing
from typing import Any, Literal

MAX_PAYLOAD_BYTES = 1 << 20  # 1 MiB: a full batch of 1000 entries is ~450 KB
DEFAULT_MAX_STR = 128
_UTC_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$", re.ASCII)


class DecodeError(ValueError):
    """A payload that must be rejected. ``reason`` is a stable code for counters."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def field(*, max_len: int | None = None, pattern: str | None = None, min: float | None = None,
          max: float | None = None, min_items: int | None = None, max_items: int | None = None,
          default: Any = dataclasses.MISSING, default_factory: Any = dataclasses.MISSING,
          utc: bool = False, doc: str = ""):
    """A dataclass field with validation metadata for :func:`decode`."""
    meta = {"max_len": max_len, "pattern": re.compile(pattern, re.ASCII) if pattern else None, "min": min,
            "max": max, "min_items": min_items, "max_items": max_items, "utc": utc, "doc": doc}
    return dataclasses.field(default=default, default_factory=default_factory, metadata=meta)


# ---- time ---------------------------------------------------------------

def format_utc(moment: _dt.datetime) -> str:
    """``2026-11-24T19:03:09.123456Z`` (always UTC, always microseconds)."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: wire times are UTC-aware")
    return moment.astimezone(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def utc_now() -> str:
    return format_utc(_dt.datetime.now(_dt.timezone.utc))


def parse_utc(text: str) -> _dt.datetime:
    if not isinstance(text, str) or not _UTC_RE.fullmatch(text):
        raise ValueError("not a UTC time like 2026-01-31T08:00:00.000Z")
    return _dt.datetime.fromisoformat(text[:-1]).replace(tzinfo=_dt.timezone.utc)


# ---- JSON ---------------------------------------------------------------

def canonical_json(obj: Any) -> bytes:
    """Deterministic bytes: sorted keys, no spaces, UTF-8. Used for hashing."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def _no_duplicates(pairs):
    obj = dict(pairs)
    if len(obj) != len(pairs):  # rare: find which key, for the message
        seen = set()
        for k, _ in pairs:
            if k in seen:
                raise DecodeError("duplicate_key", f"key {k!r} appears twice")
            seen.add(k)
    return obj


def _no_constants(name):
    raise DecodeError("bad_number", f"{name} is not allowed")


def loads_strict(data: bytes, *, max_bytes: int = MAX_PAYLOAD_BYTES) -> Any:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise DecodeError("not_bytes", "payload must be bytes")
    if len(data) > max_bytes:
        raise DecodeError("oversize", f"{len(data)} bytes > limit {max_bytes}")
    try:
        text = bytes(data).decode("utf-8")
    except UnicodeDecodeError:
        raise DecodeError("not_utf8", "payload is not UTF-8") from None
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
    except DecodeError:
        raise
    except (ValueError, RecursionError) as exc:
        raise DecodeError("not_json", f"payload is not JSON ({type(exc).__name__})") from None


# ---- dataclass decode / encode ----------------------------------------------

def to_wire(obj: Any) -> Any:
    """Dataclass → plain JSON-able structure (all fields, ``None`` included)."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_wire(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_wire(v) for v in obj]
    return obj


# Decoding is compiled once per dataclass into a plan of per-field checker
# closures: the receiver decodes tens of thousands of entries a second, and
# walking type hints for every value cost ~40 µs an entry.
_PLANS: dict[type, tuple] = {}

from .fastdecode import fast_decoder  # noqa: E402  (needs the names above)


def _plan(cls: type) -> tuple:
    plan = _PLANS.get(cls)
    if plan is None:
        hints = typing.get_type_hints(cls)
        steps = []
        for f in dataclasses.fields(cls):
            if f.default is not dataclasses.MISSING:
                default = (lambda d=f.default: d)
            elif f.default_factory is not dataclasses.MISSING:
                default = f.default_factory
            else:
                default = None
            steps.append((f.name, default, _compile(hints[f.name], f.metadata)))
        plan = _PLANS[cls] = (frozenset(s[0] for s in steps), tuple(steps))
    return plan


def decode(cls: type, obj: Any, path: str = "") -> Any:
    """Decode a parsed JSON object into dataclass ``cls``, strictly."""
    if type(obj) is dict:
        fast = fast_decoder(cls, _compile)(obj)
        if fast is not None:
            return fast
    return decode_reference(cls, obj, path)


def decode_reference(cls: type, obj: Any, path: str = "") -> Any:
    """The reference decoder: the one that explains every rejection."""
    where = path or cls.__name__
    if not isinstance(obj, dict):
        raise DecodeError("wrong_type", f"{where} must be an object")
    names, steps = _plan(cls)
    if not names.issuperset(obj):
        unknown = sorted(set(obj) - names)
        raise DecodeError("unknown_field", f"{where}: unknown field {unknown[0]!r}")
    values = {}
    for name, default, check in steps:
        if name in obj:
            values[name] = check(obj[name], f"{path}.{name}" if path else name)
        elif default is not None:
            values[name] = default()
        else:
            raise DecodeError("missing_field", f"missing field {(f'{path}.{name}' if path else name)!r}")
    try:
        return cls(**values)
    except ValueError as exc:  # cross-field rules in __post_init__
        if isinstance(exc, DecodeError):
            raise
        raise DecodeError("bad_value", f"{where}: {exc}") from None


def _compile(hint: Any, meta: Any):
    """A checker ``(value, path) -> decoded value`` for one type hint."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        inner = [a for a in args if a is not type(None)]
        if len(inner) != 1 or type(None) not in args:
            raise TypeError(f"unsupported union {hint!r}")
        check_inner = _compile(inner[0], meta)

        def check_optional(value, path):
            return None if value is None else check_inner(value, path)
        return check_optional
    if origin is Literal:
        allowed = typing.get_args(hint)
        kind = type(allowed[0])
        text = ", ".join(map(str, allowed))

        def check_literal(value, path):
            if type(value) is not kind or value not in allowed:
                _null_or(value, path, "bad_value", f"{path} must be one of {text}")
            return value
        return check_literal
    if origin is list:
        (item_hint,) = typing.get_args(hint)
        check_item = _compile(item_hint, {})
        lo, hi = meta.get("min_items"), meta.get("max_items")

        def check_list(value, path):
            if not isinstance(value, list):
                _null_or(value, path, "wrong_type", f"{path} must be a list")
            if lo is not None and len(value) < lo:
                raise DecodeError("bad_value", f"{path} needs at least {lo} items")
            if hi is not None and len(value) > hi:
                raise DecodeError("oversize", f"{path} has more than {hi} items")
            return tuple([check_item(v, f"{path}[{i}]") for i, v in enumerate(value)])
        return check_list
    if dataclasses.is_dataclass(hint):
        def check_dataclass(value, path):
            if value is None:
                raise DecodeError("wrong_type", f"{path} must not be null")
            return decode_reference(hint, value, path)
        return check_dataclass
    if hint is bool:
        def check_bool(value, path):
            if type(value) is not bool:
                _null_or(value, path, "wrong_type", f"{path} must be true or false")
            return value
        return check_bool
    if hint is int:
        def check_int(value, path):
            if type(value) is not int:
                _null_or(value, path, "wrong_type", f"{path} must be an integer")
            _check_range(value, path, meta)
            return value
        return check_int
    if hint is float:
        def check_float(value, path):
            if type(value) not in (int, float):
                _null_or(value, path, "wrong_type", f"{path} must be a number")
            try:
                number = float(value)
            except OverflowError:
                raise DecodeError("bad_number", f"{path} is out of range") from None
            if not math.isfinite(number):
                raise DecodeError("bad_number", f"{path} must be finite")
            _check_range(number, path, meta)
            return number
        return check_float
    if hint is str:
        max_len = meta.get("max_len") or DEFAULT_MAX_STR
        pattern = meta.get("pattern")
        utc = meta.get("utc")

        def check_str(value, path):
            if type(value) is not str:
                _null_or(value, path, "wrong_type", f"{path} must be a string")
            if len(value) > max_len:
                raise DecodeError("oversize", f"{path} longer than {max_len} characters")
            if not value.isascii():
                try:
                    value.encode("utf-8")
                except UnicodeEncodeError:  # lone surrogate from a \ud800 escape
                    raise DecodeError("not_utf8", f"{path} is not valid Unicode") from None
            if pattern is not None and not pattern.fullmatch(value):
                raise DecodeError("bad_value", f"{path} has the wrong format")
            if utc:
                try:
                    parse_utc(value)
                except ValueError as exc:
                    raise DecodeError("bad_value", f"{path}: {exc}") from None
            return value
        return check_str
    raise TypeError(f"unsupported type {hint!r}")


def _null_or(value: Any, path: str, reason: str, message: str):
    if value is None:
        raise DecodeError("wrong_type", f"{path} must not be null")
    raise DecodeError(reason, message)


def _check_range(value: float, path: str, meta: Any) -> None:
    lo, hi = meta.get("min"), meta.get("max")
    if lo is not None and value < lo:
        raise DecodeError("bad_value", f"{path} must be ≥ {lo}")
    if hi is not None and value > hi:
        raise DecodeError("bad_value", f"{path} must be ≤ {hi}")
