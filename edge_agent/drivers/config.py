"""Typed configuration of the turnstiles: a tagged union on ``type``.

``[[edge.turnstiles]]`` entries are decoded by reading ``type`` first and then
decoding the whole entry strictly into the matching dataclass, so an unknown or
misspelt key is an error naming it (``edge.turnstiles[0]: unknown field 'baud'``).
Every kind extends :class:`TurnstileBase` (``id``, ``type``).
No hardware library is imported here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from shared_schema.messages import CODE
from shared_schema.typed_config import decode_tagged, decode_tagged_list
from shared_schema.wire import field

PORT_LEN = 4096
Kind = Literal["modbus_rtu", "usb_relay", "simulated", "osdp"]
BAUDRATES = Literal[1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200]


@dataclass(frozen=True)
class TurnstileBase:
    id: str = field(pattern=CODE)
    type: Kind = field()


@dataclass(frozen=True)
class ModbusRtuConfig(TurnstileBase):
    type: Literal["modbus_rtu"] = "modbus_rtu"
    port: str = field(default="/dev/ttyUSB0", max_len=PORT_LEN)
    baudrate: BAUDRATES = 9600
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1
    device_id: int = field(default=1, min=1, max=247)
    coil_open_in: int = field(default=0, min=0, max=65535)
    coil_open_out: int = field(default=1, min=0, max=65535)
    pulse_ms: int = field(default=500, min=50, max=10000)
    input_passage_in: int = field(default=0, min=0, max=65535)
    input_passage_out: int = field(default=1, min=0, max=65535)
    input_fault: int = field(default=2, min=0, max=65535)
    passage_contact: Literal["no", "nc"] = "no"
    fault_contact: Literal["no", "nc", "none"] = "nc"
    # fire/emergency input (a fire panel's relay): while active the gate is held open; "none" = not wired
    input_fire: int = field(default=3, min=0, max=65535)
    fire_contact: Literal["no", "nc", "none"] = "none"
    timeout_ms: int = field(default=300, min=20, max=10000)
    retries: int = field(default=2, min=0, max=10)
    reconnect_interval_s: float = field(default=2.0, min=0.05, max=600.0)

    def __post_init__(self):
        if self.coil_open_in == self.coil_open_out:
            raise ValueError("coil_open_in and coil_open_out must differ")
        used = [self.input_passage_in, self.input_passage_out]
        if self.fault_contact != "none":
            used.append(self.input_fault)
        if self.fire_contact != "none":
            used.append(self.input_fire)
        if len(set(used)) != len(used):
            raise ValueError("input_passage_in, input_passage_out, input_fault and input_fire must differ")
        if max(used) - min(used) >= 2000:
            raise ValueError("the inputs must lie within 2000 addresses (one function 02 read)")


@dataclass(frozen=True)
class UsbRelayConfig(TurnstileBase):
    type: Literal["usb_relay"] = "usb_relay"
    port: str = field(default="/dev/ttyUSB0", max_len=PORT_LEN)
    baudrate: BAUDRATES = 9600
    channels: int = field(default=2, min=1, max=16)
    channel_open_in: int = field(default=1, min=1, max=16)
    channel_open_out: int = field(default=2, min=1, max=16)
    pulse_ms: int = field(default=500, min=50, max=10000)
    write_timeout_ms: int = field(default=300, min=20, max=10000)
    retries: int = field(default=2, min=0, max=10)
    reconnect_interval_s: float = field(default=2.0, min=0.05, max=600.0)

    def __post_init__(self):
        if self.channel_open_in == self.channel_open_out:
            raise ValueError("channel_open_in and channel_open_out must differ")
        if max(self.channel_open_in, self.channel_open_out) > self.channels:
            raise ValueError("channel_open_in / channel_open_out must be ≤ channels")


@dataclass(frozen=True)
class SimulatedConfig(TurnstileBase):
    type: Literal["simulated"] = "simulated"
    passage_delay_ms: int = field(default=1200, min=0, max=600000)
    passage_ms: int = field(default=400, min=10, max=60000)
    turn_back_probability: float = field(default=0.0, min=0.0, max=1.0)
    tailgate_probability: float = field(default=0.0, min=0.0, max=1.0)
    fault: bool = False
    seed: int = field(default=0, min=0)


@dataclass(frozen=True)
class OsdpConfig(TurnstileBase):
    """An OSDP (IEC 60839-11-5) reader/controller (PD) on RS-485, secure channel always on."""
    type: Literal["osdp"] = "osdp"
    port: str = field(default="/dev/ttyUSB0", max_len=PORT_LEN)
    baudrate: Literal[9600, 19200, 38400, 57600, 115200] = 9600
    address: int = field(default=0, min=0, max=126)
    scbk_file: str = field(default="keys/osdp-scbk.hex", max_len=PORT_LEN)   # 16-byte key, 32 hex digits
    output_open_in: int = field(default=0, min=0, max=255)
    output_open_out: int = field(default=1, min=0, max=255)
    pulse_ms: int = field(default=500, min=100, max=10000)       # OSDP output timers count 100 ms
    input_passage_in: int = field(default=-1, min=-1, max=255)   # PD input numbers; -1 = not wired
    input_passage_out: int = field(default=-1, min=-1, max=255)
    input_fault: int = field(default=-1, min=-1, max=255)
    input_fire: int = field(default=-1, min=-1, max=255)
    reader: int = field(default=0, min=0, max=255)               # the reader whose LED/buzzer gives feedback
    command_timeout_ms: int = field(default=1000, min=100, max=10000)
    retries: int = field(default=1, min=0, max=10)
    reconnect_interval_s: float = field(default=2.0, min=0.05, max=600.0)

    def __post_init__(self):
        if self.output_open_in == self.output_open_out:
            raise ValueError("output_open_in and output_open_out must differ")
        used = [i for i in (self.input_passage_in, self.input_passage_out, self.input_fault, self.input_fire)
                if i >= 0]
        if len(set(used)) != len(used):
            raise ValueError("input_passage_in, input_passage_out, input_fault and input_fire must differ")
        if (self.input_passage_in < 0) != (self.input_passage_out < 0):
            raise ValueError("wire both passage inputs or neither")


# The tagged union: ``type`` value -> config dataclass (the drivers' REGISTRY mirrors it).
KINDS: dict[str, type[TurnstileBase]] = {
    "modbus_rtu": ModbusRtuConfig,
    "usb_relay": UsbRelayConfig,
    "simulated": SimulatedConfig,
    "osdp": OsdpConfig,
}


def decode_turnstile(obj: Any, path: str = "turnstile") -> TurnstileBase:
    """Read ``type`` first, then decode the entry strictly into that kind's dataclass."""
    return decode_tagged(obj, KINDS, path, "turnstile")


def decode_turnstiles(items: Any, path: str = "turnstiles") -> tuple[TurnstileBase, ...]:
    return decode_tagged_list(items, KINDS, path, "turnstile")
