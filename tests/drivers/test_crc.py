"""CRC-16/MODBUS of the emulator (table driven) against a bit-by-bit reference written here."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from edge_agent.drivers.emulators.modbus_relay import crc16_modbus, with_crc


def crc_bitwise(data: bytes) -> int:
    """Straight from the definition: poly x^16+x^15+x^2+1 (0x8005), reflected in and out, init FFFF."""
    crc = 0xFFFF
    for byte in data:
        for i in range(8):                     # LSB first (reflected input)
            bit = (byte >> i) & 1
            top = crc & 1
            crc >>= 1
            if top ^ bit:
                crc ^= 0xA001                  # 0x8005 bit-reversed
    return crc


def test_check_value():
    assert crc16_modbus(b"123456789") == 0x4B37 == crc_bitwise(b"123456789")  # catalogue check value
    assert crc16_modbus(b"") == 0xFFFF


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_table_crc_matches_bitwise_reference(data):
    assert crc16_modbus(data) == crc_bitwise(data)
    framed = with_crc(data)
    assert framed[-2:] == crc_bitwise(data).to_bytes(2, "little")
    assert crc16_modbus(framed) == 0


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=1, max_size=64), st.data())
def test_any_single_bit_flip_is_detected(data, draw):
    framed = bytearray(with_crc(data))
    bit = draw.draw(st.integers(0, len(framed) * 8 - 1))
    framed[bit // 8] ^= 1 << (bit % 8)
    assert crc16_modbus(bytes(framed)) != 0
