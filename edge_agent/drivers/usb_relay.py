"""LCUS-type USB serial relay boards (CH340 + STC MCU, 1/2/4/8 channels).

Protocol: 4-byte commands ``A0 <channel> <state> <checksum>``, channel 1..N,
state 01 = ON / 00 = OFF, checksum = (A0 + channel + state) & 0xFF, 9600 8N1.

These boards are *open loop*: they never acknowledge a command and have no
inputs. So this driver can confirm that the bytes left through a present port,
not that the relay switched; ``read_inputs()`` returns ``None`` for every sensor
(unknown, not "inactive") and ``has_passage_sensors`` / ``has_fault_input`` are
False: the gate controller must not expect passage confirmation from it.
"""

from __future__ import annotations

import logging
import os

import serial

from .base import Direction, PortError, SerialRelayTurnstile, TurnstileError, TurnstileInputs
from .config import UsbRelayConfig
from .serial_link import SERIAL_ERRORS

log = logging.getLogger(__name__)

UNKNOWN_INPUTS = TurnstileInputs(passage_in=None, passage_out=None, fault=None)


def lcus_command(channel: int, on: bool) -> bytes:
    """``A0 01 01 A2`` = channel 1 ON, ``A0 01 00 A1`` = channel 1 OFF."""
    if not 1 <= channel <= 255:
        raise ValueError("channel must be 1..255")
    state = 1 if on else 0
    return bytes((0xA0, channel, state, (0xA0 + channel + state) & 0xFF))


class UsbRelayTurnstile(SerialRelayTurnstile):
    kind = "usb_relay"
    config_class = UsbRelayConfig
    has_passage_sensors = False
    has_fault_input = False

    def __init__(self, cfg: UsbRelayConfig, **kw):
        self._ser: serial.Serial | None = None
        super().__init__(cfg, **kw)

    def _port_open(self) -> None:
        cfg = self.cfg
        if not os.path.exists(cfg.port):
            raise PortError(f"{cfg.port} does not exist")
        try:
            self._ser = serial.Serial(cfg.port, baudrate=cfg.baudrate, bytesize=8, parity="N",
                                      stopbits=1, timeout=0, write_timeout=cfg.write_timeout_ms / 1000.0,
                                      exclusive=True)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise PortError(str(exc)) from None

    def _port_close(self) -> None:
        ser, self._ser = self._ser, None
        if ser is not None:
            ser.close()

    def _port_check(self) -> None:
        if not os.path.exists(self.cfg.port):
            raise PortError(f"{self.cfg.port} disappeared")
        try:
            if self._ser is not None and self._ser.in_waiting:   # the boards never talk: drop noise
                self._ser.reset_input_buffer()
        except SERIAL_ERRORS as exc:
            raise PortError(str(exc)) from None

    def _set_output(self, output: int, on: bool) -> None:
        if self._ser is None:
            raise PortError("port closed")
        frame = lcus_command(output, on)
        try:
            written = self._ser.write(frame)
            self._ser.flush()    # tcdrain: the bytes have left the UART
        except serial.SerialTimeoutException as exc:
            raise PortError(f"write timed out: {exc}") from None
        except SERIAL_ERRORS as exc:
            raise PortError(str(exc)) from None
        if written != len(frame):
            raise PortError(f"short write ({written} of {len(frame)} bytes)")

    def _output_for(self, direction: Direction) -> int:
        return self.cfg.channel_open_in if direction == "in" else self.cfg.channel_open_out

    def _all_outputs(self) -> tuple[int, ...]:
        return (self.cfg.channel_open_in, self.cfg.channel_open_out)

    def read_inputs(self) -> TurnstileInputs:
        """No sensors on these boards: always all ``None``. Still the liveness tick: raises
        :class:`TurnstileError` when the port is gone (and reconnects when it is back)."""
        with self._bus:
            if self._closed:
                raise TurnstileError(f"turnstile {self.id} is closed")
            self._tick()
            if not self._connected:
                raise TurnstileError(f"turnstile {self.id}: {self.health().detail}")
            if not self.pending_off:
                self._ok()
        return UNKNOWN_INPUTS
