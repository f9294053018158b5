"""Modbus RTU relay module on RS-485 (pymodbus over pyserial).

The gateway drives the turnstile's dry-contact "open in" / "open out" inputs with
two coils (function 05, pulsed ON then OFF) and reads the passage sensors and the
fault/alarm contact (and, when wired, the fire/emergency input) as discrete inputs
(function 02, one request spanning them). While the fire input is active the gate
controller holds both coils ON (:meth:`hold_open`).
Retries are done here, not inside pymodbus (``retries=0`` there), so every attempt
is counted, bounded by ``retries`` and visible in ``health()``.
"""

from __future__ import annotations

import logging
import os

from pymodbus.client import ModbusSerialClient
from pymodbus.exceptions import ConnectionException, ModbusException

from .base import Direction, LinkError, PortError, SerialRelayTurnstile, TurnstileInputs
from .config import ModbusRtuConfig

log = logging.getLogger(__name__)


class ModbusRtuTurnstile(SerialRelayTurnstile):
    kind = "modbus_rtu"
    config_class = ModbusRtuConfig
    has_passage_sensors = True

    def __init__(self, cfg: ModbusRtuConfig, **kw):
        self.has_fault_input = cfg.fault_contact != "none"
        self.has_fire_input = cfg.fire_contact != "none"
        self._client: ModbusSerialClient | None = None
        used = [cfg.input_passage_in, cfg.input_passage_out]
        if cfg.fault_contact != "none":
            used.append(cfg.input_fault)
        if cfg.fire_contact != "none":
            used.append(cfg.input_fire)
        self._in_first = min(used)
        self._in_count = max(used) - self._in_first + 1
        super().__init__(cfg, **kw)

    # ---- hooks -------------------------------------------------------------
    def _port_open(self) -> None:
        cfg = self.cfg
        if not os.path.exists(cfg.port):
            raise PortError(f"{cfg.port} does not exist")
        client = ModbusSerialClient(cfg.port, baudrate=cfg.baudrate, bytesize=8, parity=cfg.parity,
                                    stopbits=cfg.stopbits, timeout=cfg.timeout_ms / 1000.0, retries=0,
                                    name=f"turnstile-{cfg.id}")
        if not client.connect():
            raise PortError(f"cannot open {cfg.port} (no permission, or in use by another program)")
        self._client = client

    def _port_close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()

    def _port_check(self) -> None:
        if not os.path.exists(self.cfg.port):
            raise PortError(f"{self.cfg.port} disappeared")

    def _call(self, what: str, fn):
        if self._client is None or not self._client.connected:
            raise PortError("port closed")
        try:
            resp = fn(self._client)
        except ConnectionException as exc:
            raise PortError(str(exc) or "connection lost") from None
        except ModbusException:   # ModbusIOException: no (valid) reply within the timeout
            if self._client is None or not self._client.connected:
                raise PortError("connection lost") from None
            raise LinkError(f"no valid reply from device {self.cfg.device_id} ({what})") from None
        except OSError as exc:
            raise PortError(str(exc)) from None
        if resp is None or resp.isError():
            raise LinkError(f"device {self.cfg.device_id} answered {what} with {resp}")
        return resp

    def _set_output(self, output: int, on: bool) -> None:
        what = f"write coil {output} {'ON' if on else 'OFF'}"
        resp = self._call(what, lambda c: c.write_coil(output, on, device_id=self.cfg.device_id))
        if resp.address != output or bool(resp.bits[0]) != on:
            raise LinkError(f"device {self.cfg.device_id} echoed a different coil write ({what})")

    def _output_for(self, direction: Direction) -> int:
        return self.cfg.coil_open_in if direction == "in" else self.cfg.coil_open_out

    def _all_outputs(self) -> tuple[int, ...]:
        return (self.cfg.coil_open_in, self.cfg.coil_open_out)

    # ---- interface ---------------------------------------------------------
    def read_inputs(self) -> TurnstileInputs:
        cfg = self.cfg
        with self._bus:
            self._tick()
            resp = self._io(lambda: self._call(
                "read discrete inputs",
                lambda c: c.read_discrete_inputs(self._in_first, count=self._in_count,
                                                 device_id=cfg.device_id)), "read inputs")
            bits = list(resp.bits)
            self._ok()

        def level(addr: int) -> bool:
            return bool(bits[addr - self._in_first])
        nc = cfg.passage_contact == "nc"
        fault = None
        if cfg.fault_contact != "none":
            fault = level(cfg.input_fault) != (cfg.fault_contact == "nc")   # nc: open contact = fault
        fire = None
        if cfg.fire_contact != "none":
            fire = level(cfg.input_fire) != (cfg.fire_contact == "nc")      # nc: open contact = alarm
        return TurnstileInputs(passage_in=level(cfg.input_passage_in) != nc,
                               passage_out=level(cfg.input_passage_out) != nc, fault=fault, fire=fire)
