"""Drivers against emulators on real pseudo-terminals (os.openpty), through a symlink port."""

from __future__ import annotations

import pytest

from edge_agent.drivers import open_turnstile
from edge_agent.drivers.emulators.modbus_relay import ModbusRelayEmulator
from edge_agent.drivers.emulators.usb_relay import UsbRelayEmulator

FAST = {"timeout_ms": 80, "retries": 2, "reconnect_interval_s": 0.05, "pulse_ms": 150}


@pytest.fixture
def modbus_emu(tmp_path):
    emu = ModbusRelayEmulator(tmp_path / "ttyRS485", device_id=1)
    emu.set_input(2, True)         # fault contact is NC by default: closed = healthy
    with emu:
        yield emu


@pytest.fixture
def modbus(modbus_emu):
    made = []

    def make(**over):
        cfg = {"id": "T1", "type": "modbus_rtu", "port": modbus_emu.port, **FAST, **over}
        t = open_turnstile(cfg)
        made.append(t)
        return t
    yield make
    for t in made:
        t.close()


@pytest.fixture
def usb_emu(tmp_path):
    with UsbRelayEmulator(tmp_path / "ttyLCUS", channels=2) as emu:
        yield emu


@pytest.fixture
def usb(usb_emu):
    made = []

    def make(**over):
        cfg = {"id": "T2", "type": "usb_relay", "port": usb_emu.port, "retries": 2,
               "reconnect_interval_s": 0.05, "pulse_ms": 150, **over}
        t = open_turnstile(cfg)
        made.append(t)
        return t
    yield make
    for t in made:
        t.close()
