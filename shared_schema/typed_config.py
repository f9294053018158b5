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
