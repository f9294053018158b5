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
import re
import types
import typing
from typing import Any, Literal

MAX_PAYLOAD_BYTES = 1 << 20  # 1 MiB: a full batch of 1000 entries is ~450 KB
DEFAULT_MAX_STR = 128
_UTC_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$")


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
    meta = {"max_len": max_len, "pattern": re.compile(pattern) if pattern else None, "min": min,
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
    if not isinstance(text, str) or not _UTC_RE.match(text):
        raise ValueError("not a UTC time like 2026-01-31T08:00:00.000Z")
    return _dt.datetime.fromisoformat(text[:-1]).replace(tzinfo=_dt.timezone.utc)


# ---- JSON ---------------------------------------------------------------

def canonical_json(obj: Any) -> bytes:
    """Deterministic bytes: sorted keys, no spaces, UTF-8. Used for hashing."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def _no_duplicates(pairs):
    obj = {}
    for k, v in pairs:
        if k in obj:
            raise DecodeError("duplicate_key", f"key {k!r} appears twice")
        obj[k] = v
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


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def decode(cls: type, obj: Any, path: str = "") -> Any:
    """Decode a parsed JSON object into dataclass ``cls``, strictly."""
    where = path or cls.__name__
    if not isinstance(obj, dict):
        raise DecodeError("wrong_type", f"{where} must be an object")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(obj) - set(fields))
    if unknown:
        raise DecodeError("unknown_field", f"{where}: unknown field {unknown[0]!r}")
    hints = _hints(cls)
    values = {}
    for name, f in fields.items():
        fpath = f"{path}.{name}" if path else name
        if name not in obj:
            if f.default is not dataclasses.MISSING:
                values[name] = f.default
                continue
            if f.default_factory is not dataclasses.MISSING:
                values[name] = f.default_factory()
                continue
            raise DecodeError("missing_field", f"missing field {fpath!r}")
        values[name] = _decode_value(hints[name], obj[name], fpath, f.metadata)
    try:
        return cls(**values)
    except ValueError as exc:  # cross-field rules in __post_init__
        if isinstance(exc, DecodeError):
            raise
        raise DecodeError("bad_value", f"{where}: {exc}") from None


def _decode_value(hint: Any, value: Any, path: str, meta: Any) -> Any:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        if len(inner) != 1:
            raise TypeError(f"unsupported union at {path}")
        return _decode_value(inner[0], value, path, meta)
    if value is None:
        raise DecodeError("wrong_type", f"{path} must not be null")
    if origin is Literal:
        allowed = typing.get_args(hint)
        if value not in allowed or type(value) is not type(allowed[0]):
            raise DecodeError("bad_value", f"{path} must be one of {', '.join(map(str, allowed))}")
        return value
    if origin is list:
        if not isinstance(value, list):
            raise DecodeError("wrong_type", f"{path} must be a list")
        lo, hi = meta.get("min_items"), meta.get("max_items")
        if lo is not None and len(value) < lo:
            raise DecodeError("bad_value", f"{path} needs at least {lo} items")
        if hi is not None and len(value) > hi:
            raise DecodeError("oversize", f"{path} has more than {hi} items")
        (item_hint,) = typing.get_args(hint)
        return tuple(_decode_value(item_hint, v, f"{path}[{i}]", {}) for i, v in enumerate(value))
    if dataclasses.is_dataclass(hint):
        return decode(hint, value, path)
    if hint is bool:
        if type(value) is not bool:
            raise DecodeError("wrong_type", f"{path} must be true or false")
        return value
    if hint is int:
        if type(value) is not int:
            raise DecodeError("wrong_type", f"{path} must be an integer")
        _check_range(value, path, meta)
        return value
    if hint is float:
        if type(value) not in (int, float):
            raise DecodeError("wrong_type", f"{path} must be a number")
        _check_range(value, path, meta)
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise DecodeError("wrong_type", f"{path} must be a string")
        max_len = meta.get("max_len") or DEFAULT_MAX_STR
        if len(value) > max_len:
            raise DecodeError("oversize", f"{path} longer than {max_len} characters")
        pattern = meta.get("pattern")
        if pattern is not None and not pattern.match(value):
            raise DecodeError("bad_value", f"{path} has the wrong format")
        if meta.get("utc"):
            try:
                parse_utc(value)
            except ValueError as exc:
                raise DecodeError("bad_value", f"{path}: {exc}") from None
        return value
    raise TypeError(f"unsupported type {hint!r} at {path}")


def _check_range(value: float, path: str, meta: Any) -> None:
    lo, hi = meta.get("min"), meta.get("max")
    if lo is not None and value < lo:
        raise DecodeError("bad_value", f"{path} must be ≥ {lo}")
    if hi is not None and value > hi:
        raise DecodeError("bad_value", f"{path} must be ≤ {hi}")
