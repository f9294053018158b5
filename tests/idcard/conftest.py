"""The reader against the SAM emulator on a real pseudo-terminal, through a symlink port."""

from __future__ import annotations

import datetime as dt

import pytest

from edge_agent.drivers.emulators.idcard_reader import IdCardReaderEmulator
from edge_agent.drivers.idcard_reader import IdCardReader

TODAY = dt.date(2026, 11, 24)
FAST = {"timeout_ms": 120, "read_timeout_ms": 600, "retries": 1, "reconnect_interval_s": 0.05}


@pytest.fixture
def emu(tmp_path):
    with IdCardReaderEmulator(tmp_path / "ttySAM") as e:
        yield e


@pytest.fixture
def reader(emu):
    made = []

    def make(**over):
        r = IdCardReader({"id": "R1", "port": emu.port, **FAST, **over}, today=lambda: TODAY)
        made.append(r)
        return r
    yield make
    for r in made:
        r.close()
