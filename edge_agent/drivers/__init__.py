"""Turnstile drivers: one file per kind behind one small interface, chosen by ``type``.

A driver knows nothing of punches, the ledger or sync. The gate controller calls
``open(direction)`` (a pulse) only after :class:`edge_agent.gate.GateRecorder`
has committed the punch, polls ``read_inputs()`` for passage and fault levels
(it detects edges itself) and reports ``health()`` in the heartbeat::

    class Turnstile:
        kind: str; has_passage_sensors: bool; has_fault_input: bool
        def open(self, direction: "in" | "out") -> None           # raises TurnstileError
        def read_inputs(self) -> TurnstileInputs                  # None = no such sensor
        def health(self) -> DriverHealth                          # ok | degraded | down
        def close(self) -> None
        def hold_open(self, on: bool) -> None                     # fire/emergency: both ways held open

Serial drivers share :class:`~.serial_link.SerialLink` (bounded attempts, reconnection, health).

``open_turnstile(cfg)`` builds one from a decoded config (or a raw table).
"""

from __future__ import annotations

from typing import Any

from .base import Direction, DriverHealth, Turnstile, TurnstileError, TurnstileInputs, driver_for
from .config import KINDS, TurnstileBase, decode_turnstile
from .modbus_rtu import ModbusRtuTurnstile
from .osdp import OsdpTurnstile
from .simulated import SimulatedTurnstile
from .usb_relay import UsbRelayTurnstile

__all__ = ["REGISTRY", "Direction", "DriverHealth", "Turnstile", "TurnstileError", "TurnstileInputs",
           "open_turnstile"]

# The explicit registry: config ``type`` -> driver class (config classes: drivers.config.KINDS).
REGISTRY: dict[str, type[Turnstile]] = {
    "modbus_rtu": ModbusRtuTurnstile,
    "usb_relay": UsbRelayTurnstile,
    "simulated": SimulatedTurnstile,
    "osdp": OsdpTurnstile,
}
assert set(REGISTRY) == set(KINDS), "drivers.REGISTRY and drivers.config.KINDS disagree"


def open_turnstile(cfg: TurnstileBase | dict[str, Any], **kw: Any) -> Turnstile:
    """The driver for ``cfg``. Never raises for an absent device: it starts ``down`` and
    reconnects by itself. Raises ``ValueError`` naming an unknown ``type``."""
    cfg, driver = driver_for(cfg, REGISTRY, decode_turnstile, "turnstile")
    return driver(cfg, **kw)
