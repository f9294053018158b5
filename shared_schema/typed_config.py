"""TOML configuration decoded into typed, validated, frozen dataclasses.

Both programs describe their configuration as dataclasses built with
:func:`shared_schema.wire.field`; this module reads the TOML file and decodes
one top-level table with the same strict decoder the wire uses, so an unknown
or misspelt key is an error that names the key (``edge.sync: unknown field
'bach_size'``).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, TypeVar

from .wire import DecodeError, decode

T = TypeVar("T")
KNOWN_TOP_LEVEL = ("edge", "receiver")  # one file may configure both programs


class ConfigError(ValueError):
    pass


def load_table(path: str | Path, section: str) -> dict[str, Any]:
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        doc = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    unknown = sorted(set(doc) - set(KNOWN_TOP_LEVEL))
    if unknown:
        raise ConfigError(f"{path}: unknown top-level table {unknown[0]!r} "
                          f"(expected {' / '.join(KNOWN_TOP_LEVEL)})")
    if section not in doc:
        raise ConfigError(f"{path}: missing table [{section}]")
    return doc[section]


def decode_config(cls: type[T], table: dict[str, Any], section: str, source: str = "config") -> T:
    try:
        return decode(cls, table, section)
    except DecodeError as exc:
        raise ConfigError(f"{source}: {exc.detail}") from None


def load(cls: type[T], path: str | Path, section: str) -> T:
    return decode_config(cls, load_table(path, section), section, str(path))


def decode_tagged(obj: Any, kinds: dict[str, type], path: str, what: str) -> Any:
    """A tagged union on ``type``: read ``type`` first, then decode the table strictly into
    that kind's dataclass (so kind-specific keys are checked, and unknown ones named)."""
    from .wire import decode

    if not isinstance(obj, dict):
        raise DecodeError("wrong_type", f"{path} must be a table")
    if "type" not in obj:
        raise DecodeError("missing_field", f"missing field '{path}.type'")
    kind = obj["type"]
    if not isinstance(kind, str) or kind not in kinds:
        shown = repr(kind) if isinstance(kind, str) and len(kind) <= 40 else "this value"
        raise DecodeError("bad_value", f"{path}.type: unknown {what} type {shown} "
                                       f"(one of {', '.join(sorted(kinds))})")
    return decode(kinds[kind], obj, path)


def decode_tagged_list(items: Any, kinds: dict[str, type], path: str, what: str) -> tuple:
    if not isinstance(items, list):
        raise DecodeError("wrong_type", f"{path} must be a list")
    return tuple(decode_tagged(item, kinds, f"{path}[{i}]", what) for i, item in enumerate(items))
