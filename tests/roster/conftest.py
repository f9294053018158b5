"""Roster fixtures: a template key file (0600) and a registry on a real SQLite file."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from edge_agent.roster import WorkerRegistry, load_key, write_new_key  # noqa: E402


@pytest.fixture
def key_file(tmp_path) -> Path:
    path = tmp_path / "keys" / "template.key"
    write_new_key(path)
    return path


@pytest.fixture
def registry(tmp_path, key_file):
    reg = WorkerRegistry(tmp_path / "roster.db", "GW-R1", "P-ROSTER", key=load_key(str(key_file)))
    yield reg
    try:
        reg.close()
    except Exception:  # noqa: BLE001 - a test may have closed it
        pass
