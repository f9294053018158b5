"""Golden byte vectors: the exact frames the drivers put on the wire, captured by the emulators.

The constants are hand-checked: ``01 05 00 00 FF 00 8C 3A`` / ``01 05 00 00 00 00 CD CA``
(relay 1 on/off) and ``01 02 00 00 00 08 79 CC`` are the frames printed in common RTU relay
module manuals; ``11 05 00 AC FF 00 4E 8B`` is the write-single-coil example of the Modbus
specification (simplymodbus.ca); the rest were checked with the bit-by-bit CRC in test_crc.py.
Layout: address, function, register hi lo, value hi lo (FF 00 = ON, 00 00 = OFF), CRC lo hi.
"""

from __future__ import annotations

import pytest

from edge_agent.drivers.emulators.modbus_relay import ModbusRelayEmulator, crc16_modbus, with_crc
from edge_agent.drivers.usb_relay import lcus_command

H = bytes.fromhex

DEV1_COIL0_ON = H("01 05 00 00 FF 00 8C 3A")
DEV1_COIL0_OFF = H("01 05 00 00 00 00 CD CA")
DEV1_COIL1_ON = H("01 05 00 01 FF 00 DD FA")
DEV1_COIL1_OFF = H("01 05 00 01 00 00 9C 0A")
DEV1_READ_DI_0_3 = H("01 02 00 00 00 03 38 0B")      # function 02, inputs 0..2
DEV3_COIL5_ON = H("03 05 00 05 FF 00 9D D9")
DEV3_COIL5_OFF = H("03 05 00 05 00 00 DC 29")
DEV3_COIL6_OFF = H("03 05 00 06 00 00 2C 29")
DEV3_READ_DI_4_3 = H("03 02 00 04 00 03 78 28")      # function 02, inputs 4..6


def test_modbus_constants_are_self_consistent():
    """Pins the CRC byte order (low byte first) against the manual / specification frames."""
    assert with_crc(H("11 05 00 AC FF 00")) == H("11 05 00 AC FF 00 4E 8B")
    assert with_crc(H("01 02 00 00 00 08")) == H("01 02 00 00 00 08 79 CC")
    for frame in (DEV1_COIL0_ON, DEV1_COIL0_OFF, DEV1_COIL1_ON, DEV1_COIL1_OFF, DEV1_READ_DI_0_3,
                  DEV3_COIL5_ON, DEV3_COIL5_OFF, DEV3_COIL6_OFF, DEV3_READ_DI_4_3):
        assert with_crc(frame[:-2]) == frame
        assert crc16_modbus(frame) == 0      # a frame with its CRC appended has residue 0


def test_modbus_driver_frames_default_wiring(modbus, modbus_emu):
    t = modbus(fault_contact="nc")
    assert modbus_emu.valid_requests() == [DEV1_COIL0_OFF, DEV1_COIL1_OFF]   # safe state on connect
    t.open("in")
    t.open("out")
    t.read_inputs()
    assert modbus_emu.valid_requests()[2:] == [DEV1_COIL0_ON, DEV1_COIL0_OFF, DEV1_COIL1_ON,
                                               DEV1_COIL1_OFF, DEV1_READ_DI_0_3]


def test_modbus_driver_frames_other_device_and_addresses(tmp_path):
    from edge_agent.drivers import open_turnstile
    with ModbusRelayEmulator(tmp_path / "tty", device_id=3) as emu:
        t = open_turnstile({"id": "T9", "type": "modbus_rtu", "port": emu.port, "device_id": 3,
                            "coil_open_in": 5, "coil_open_out": 6, "input_passage_in": 4,
                            "input_passage_out": 5, "input_fault": 6, "fault_contact": "no",
                            "pulse_ms": 50, "timeout_ms": 80})
        try:
            t.open("in")
            t.read_inputs()
        finally:
            t.close()
        assert emu.valid_requests()[:5] == [DEV3_COIL5_OFF, DEV3_COIL6_OFF, DEV3_COIL5_ON,
                                            DEV3_COIL5_OFF, DEV3_READ_DI_4_3]


@pytest.mark.parametrize("channel, on, frame", [
    (1, True, "A0 01 01 A2"), (1, False, "A0 01 00 A1"),
    (2, True, "A0 02 01 A3"), (2, False, "A0 02 00 A2"),
    (4, True, "A0 04 01 A5"), (8, False, "A0 08 00 A8"),
])
def test_lcus_command_bytes(channel, on, frame):
    assert lcus_command(channel, on) == H(frame)


def test_usb_driver_frames(usb, usb_emu):
    t = usb()
    t.open("in")
    t.open("out")
    assert usb_emu.wait_for(lambda: len(usb_emu.commands) >= 6, 2)
    assert usb_emu.valid_commands() == [H("A0 01 00 A1"), H("A0 02 00 A2"),    # safe state on connect
                                        H("A0 01 01 A2"), H("A0 01 00 A1"),
                                        H("A0 02 01 A3"), H("A0 02 00 A2")]
    assert all(c.valid for c in usb_emu.commands)
