"""config.example.toml documents every key of both programs, and loads as it is."""

from __future__ import annotations

import dataclasses
import tomllib
import typing
from pathlib import Path

import pytest

from cloud_receiver.config import ReceiverConfig
from edge_agent.config import EdgeConfig

EXAMPLE = Path(__file__).resolve().parent.parent / "config.example.toml"


def dataclass_keys(cls, prefix: str) -> list[str]:
    keys = []
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        if dataclasses.is_dataclass(hint):
            keys += dataclass_keys(hint, f"{prefix}.{f.name}")
        else:
            keys.append(f"{prefix}.{f.name}")
    return keys


def example_keys(table: dict, prefix: str) -> list[str]:
    keys = []
    for k, v in table.items():
        if isinstance(v, dict):
            keys += example_keys(v, f"{prefix}.{k}")
        else:
            keys.append(f"{prefix}.{k}")
    return keys


@pytest.mark.parametrize("cls, section", [(EdgeConfig, "edge"), (ReceiverConfig, "receiver")])
def test_every_key_is_in_the_example_with_a_comment(cls, section):
    doc = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    assert sorted(example_keys(doc[section], section)) == sorted(dataclass_keys(cls, section))
    lines = [x.strip() for x in EXAMPLE.read_text(encoding="utf-8").splitlines()]

    def is_key(x: str) -> bool:
        return "=" in x and not x.startswith(("#", "["))

    for i, line in enumerate(lines):
        if is_key(line):
            j = i - 1
            while j >= 0 and is_key(lines[j]):  # keys of one group share the comment above them
                j -= 1
            assert j >= 0 and lines[j].startswith("#"), f"line {i + 1} ({line.split('=')[0].strip()}) has no comment"
