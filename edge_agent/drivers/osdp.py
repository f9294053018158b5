"""OSDP (IEC 60839-11-5) readers / door controllers through libosdp, secure channel always on.

The gateway is the OSDP *control panel* (CP); the turnstile's reader/controller is a
*peripheral device* (PD) on RS-485. libosdp runs the protocol (polling, sequence numbers,
CRC, the AES secure channel, its own reconnection of an offline PD) in its refresh thread;
this driver gives it a byte channel over a pyserial port (:class:`SerialPortChannel`, which
reopens a vanished port through :class:`~.serial_link.SerialLink`) and maps the Turnstile
interface onto OSDP commands:

* ``open(direction)``: osdp_OUT "temporary ON" for ``pulse_ms`` on that output (the PD's own
  timer switches it OFF even if the link drops meanwhile), then "permanent OFF", each
  confirmed by libosdp's command completion;
* ``hold_open``: "permanent ON" / "permanent OFF" on both outputs (re-asserted whenever the
  PD comes back online);
* ``read_inputs()``: the PD's input status reports (osdp_ISTATR, sent by the PD when an
  input changes); an input is unknown (None) until the first report;
* ``indicate(level)``: reader LED colour and buzzer (feedback to the person);
* ``health()``: port present, PD online, secure channel active — anything else is ``down``.
  ``EnforceSecure``: libosdp never talks to the PD in the clear, so a wrong SCBK is ``down``.

The SCBK (secure channel base key) is read from ``scbk_file`` (32 hex digits) and never logged.
libosdp 3.2.9 writes its own log lines to stdout at ``LOG_LEVEL`` and above.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from pathlib import Path
from typing import Any, Literal

import osdp
import serial

from .base import (
    CLOSED,
    Direction,
    DriverHealth,
    HealthTracker,
    PortError,
    Turnstile,
    TurnstileError,
    TurnstileInputs,
    check_direction,
)
from .config import OsdpConfig
from .serial_link import SerialLink

log = logging.getLogger(__name__)

LOG_LEVEL = osdp.LogLevel.Error
KICK_MIN_S = 3.0     # an offline PD on a present port is re-probed at most this often (see _supervise)
OUT_PERMANENT_OFF, OUT_PERMANENT_ON, OUT_TEMPORARY_ON = 1, 2, 5   # osdp_OUT control codes
LED_TEMPORARY, BUZZER_DEFAULT_TONE = 2, 2
Level = Literal["ok", "warning", "alarm"]
# reader LED colour, LED on-time (×100 ms), beeps, beep length (×100 ms) per feedback level
INDICATION = {"ok": (osdp.CommandLEDColor.Green, 10, 1, 1),
              "warning": (osdp.CommandLEDColor.Amber, 15, 2, 1),
              "alarm": (osdp.CommandLEDColor.Red, 30, 3, 3)}


def load_scbk(path: str) -> bytes:
    """The 16-byte secure channel base key from a file of 32 hex digits (whitespace ignored)."""
    try:
        text = Path(path).read_text(encoding="ascii")
    except FileNotFoundError:
        raise TurnstileError(f"OSDP SCBK file {path} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TurnstileError(f"OSDP SCBK file {path} unreadable: {type(exc).__name__}") from None
    digits = "".join(text.split())
    if len(digits) != 32:
        raise TurnstileError(f"OSDP SCBK file {path}: expected 32 hex digits (16 bytes), found {len(digits)}")
    try:
        key = bytes.fromhex(digits)
    except ValueError:
        raise TurnstileError(f"OSDP SCBK file {path}: not hexadecimal") from None
    if key == bytes(16):
        raise TurnstileError(f"OSDP SCBK file {path}: an all-zero key is not a key")
    return key


class SerialPortChannel(osdp.Channel):
    """libosdp's byte channel on a serial port. Called from libosdp's refresh thread only
    (under its lock); never raises into libosdp: a failed port reads as silence and is
    reopened by the :class:`SerialLink` once its backoff has passed."""

    def __init__(self, cfg: OsdpConfig, tracker: HealthTracker):
        super().__init__()
        self.cfg = cfg
        self._ser: serial.Serial | None = None
        self.link = SerialLink(cfg.port, tracker, retries=0, reconnect_interval_s=cfg.reconnect_interval_s,
                               open_port=self._open, close_port=self._close)

    def _open(self) -> None:
        if not os.path.exists(self.cfg.port):
            raise PortError(f"{self.cfg.port} does not exist")
        try:
            self._ser = serial.Serial(self.cfg.port, baudrate=self.cfg.baudrate, timeout=0, write_timeout=0.5,
                                      exclusive=True)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise PortError(str(exc)) from None

    def _close(self) -> None:
        ser, self._ser = self._ser, None
        if ser is not None:
            ser.close()

    def _check(self) -> None:
        if not os.path.exists(self.cfg.port):
            raise PortError(f"{self.cfg.port} disappeared")

    def read(self, max_bytes: int) -> bytes:
        self.link.tick(self._check)
        if self._ser is None:
            return b""
        try:
            return self._ser.read(max_bytes)
        except Exception as exc:  # noqa: BLE001 - SerialException, OSError, termios.error
            self.link.drop(PortError(str(exc)))
            return b""

    def write(self, buf: bytes) -> int:
        if self._ser is None:
            return len(buf)     # lost on an unplugged line; 0 would make libosdp back off for 300 s
        try:
            return self._ser.write(buf) or 0
        except Exception as exc:  # noqa: BLE001
            self.link.drop(PortError(str(exc)))
            return 0

    def flush(self) -> None:
        if self._ser is not None:
            try:
                self._ser.reset_input_buffer()
            except Exception as exc:  # noqa: BLE001
                self.link.drop(PortError(str(exc)))


class OsdpTurnstile(Turnstile):
    kind = "osdp"
    config_class = OsdpConfig

    def __init__(self, cfg: OsdpConfig, *, sleep=time.sleep):
        super().__init__(cfg)
        self._sleep = sleep
        self.has_passage_sensors = cfg.input_passage_in >= 0
        self.has_fault_input = cfg.input_fault >= 0
        self.has_fire_input = cfg.input_fire >= 0
        key = load_scbk(cfg.scbk_file)
        self._tracker = HealthTracker(cfg.id, "down", "not connected yet")
        self._channel = SerialPortChannel(cfg, self._tracker)
        self._op = threading.Lock()                # one command exchange at a time
        self._done = threading.Condition()
        self._completions: list[tuple[dict, int]] = []
        self._inputs: bytes | None = None
        self._inputs_lock = threading.Lock()
        self.held = False
        self._hold_confirmed = False
        self._was_online = False
        self._closed = False
        self._kicked_at = time.monotonic()
        try:
            self._channel.link.connect()
        except PortError as exc:
            self._channel.link.drop(exc)
        pd = osdp.PDInfo(cfg.address, self._channel, scbk=key, flags=[osdp.LibFlag.EnforceSecure],
                         name=f"turnstile-{cfg.id}")
        self._cp = osdp.ControlPanel([pd], log_level=LOG_LEVEL, event_handler=self._on_event,
                                     command_completion_handler=self._on_completion)
        self._cp.start()

    # ---- libosdp callbacks (its refresh thread) ----------------------------------------
    def _on_event(self, pd: int, event: dict) -> int:
        if event.get("event") == osdp.Event.Status and event.get("type") == osdp.StatusReportType.Input:
            with self._inputs_lock:
                self._inputs = bytes(event.get("report") or b"")
        return 0

    def _on_completion(self, address: int, command: dict, status: int) -> None:
        with self._done:
            self._completions.append((command, status))
            self._done.notify_all()

    # ---- state ---------------------------------------------------------------------------
    def _link_state(self) -> tuple[bool, bool]:
        """(online, secure channel active) as libosdp sees the PD."""
        if self._cp.lock is None:
            return False, False
        return self._cp.is_online(self.cfg.address), self._cp.is_sc_active(self.cfg.address)

    def _link_problem(self) -> str | None:
        """Why commands cannot reach the PD securely now, or None."""
        if not self._channel.link.connected:
            return self._tracker.get().detail
        online, sc = self._link_state()
        if not online:
            return (f"PD {self.cfg.address} on {self.cfg.port} offline (no valid reply, or the secure channel "
                    f"was refused: check the address and the SCBK)")
        if not sc:
            return f"PD {self.cfg.address}: secure channel not active (check the SCBK)"
        return None

    def health(self) -> DriverHealth:
        if self._closed or not self._channel.link.connected:
            return self._tracker.get()
        problem = self._link_problem()
        if problem is None and self.held and not self._hold_confirmed:
            problem = "hold open not confirmed by the PD (retrying)"
        if problem is not None:
            self._tracker.set("down", problem)
        else:
            held = "; outputs held ON" if self.held else ""
            self._tracker.set("ok", f"PD {self.cfg.address} online, secure channel active on {self.cfg.port}{held}")
        return self._tracker.get()

    # ---- commands ------------------------------------------------------------------------
    def _command(self, cmd: dict, what: str) -> None:
        """Submit ``cmd`` and wait for libosdp's completion; at most 1 + retries submissions."""
        last = "not sent"
        for _attempt in range(1 + self.cfg.retries):
            if self._closed:
                raise TurnstileError(f"turnstile {self.id} is closed")
            problem = self._link_problem()
            if problem is not None:
                raise TurnstileError(f"turnstile {self.id}: {what}: {problem}")
            with self._done:
                self._completions.clear()
            if not self._cp.submit_command(self.cfg.address, cmd):
                last = "libosdp refused the command"
                continue
            status = self._wait_completion(cmd)
            if status == osdp.CompletionStatus.Ok:
                return
            last = "no completion within command_timeout_ms" if status is None else f"completion status {status}"
            log.debug("turnstile %s: %s failed: %s", self.id, what, last)
        raise TurnstileError(f"turnstile {self.id}: {what} failed: {last}")

    def _wait_completion(self, cmd: dict) -> int | None:
        deadline = time.monotonic() + self.cfg.command_timeout_ms / 1000.0
        with self._done:
            while True:
                for done, status in self._completions:
                    if done.get("command") == cmd["command"] and done.get("output_no") == cmd.get("output_no"):
                        return status
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._done.wait(remaining)

    def _output(self, out: int, code: int) -> dict:
        timer = math.ceil(self.cfg.pulse_ms / 100) if code == OUT_TEMPORARY_ON else 0
        return {"command": osdp.Command.Output, "output_no": out, "control_code": code, "timer_count": timer}

    def _output_for(self, direction: Direction) -> int:
        return self.cfg.output_open_in if direction == "in" else self.cfg.output_open_out

    # ---- interface -----------------------------------------------------------------------
    def open(self, direction: Direction) -> None:
        check_direction(direction)
        out = self._output_for(direction)
        with self._op:
            if self.held:
                return                                  # held open already
            self._command(self._output(out, OUT_TEMPORARY_ON), f"pulse output {out}")
            self._sleep(self.cfg.pulse_ms / 1000.0)
            self._command(self._output(out, OUT_PERMANENT_OFF), f"OFF output {out}")

    def hold_open(self, on: bool) -> None:
        with self._op:
            self.held, self._hold_confirmed = on, False
            code = OUT_PERMANENT_ON if on else OUT_PERMANENT_OFF
            for out in (self.cfg.output_open_in, self.cfg.output_open_out):
                self._command(self._output(out, code), f"{'hold ON' if on else 'OFF'} output {out}")
            self._hold_confirmed = on

    def _supervise(self) -> None:
        """After a PD went offline libosdp waits 300 s before probing it again; a turnstile cannot.
        While the port is present and the PD offline, disable + enable it (a fresh probe) every
        max(reconnect_interval_s, KICK_MIN_S)."""
        now = time.monotonic()
        if (not self._channel.link.connected or self._link_state()[0]
                or now - self._kicked_at < max(self.cfg.reconnect_interval_s, KICK_MIN_S)):
            return
        self._kicked_at = now
        if self._cp.disable_pd(self.cfg.address):
            while self._cp.is_pd_enabled(self.cfg.address) and time.monotonic() < now + 1.0:
                time.sleep(0.01)
        self._cp.enable_pd(self.cfg.address)
        log.debug("turnstile %s: PD %s offline: probing it again", self.id, self.cfg.address)

    def read_inputs(self) -> TurnstileInputs:
        """The last input status report; also the liveness tick (re-probes an offline PD,
        re-asserts a hold after the PD came back). Raises :class:`TurnstileError` while the PD
        is not reachable securely."""
        if self._closed:
            raise TurnstileError(f"turnstile {self.id} is closed")
        self._supervise()
        online = self._link_state()[0] and self._channel.link.connected
        if online and not self._was_online and self.held:
            try:
                self.hold_open(True)                    # the PD may have lost its outputs' state
            except TurnstileError as exc:
                log.warning("turnstile %s: re-asserting the hold failed: %s", self.id, exc)
        self._was_online = online
        h = self.health()
        if h.state != "ok":
            raise TurnstileError(f"turnstile {self.id}: {h.detail}")
        with self._inputs_lock:
            report = self._inputs

        def level(i: int) -> bool | None:
            if i < 0 or report is None or i >= len(report):
                return None
            return bool(report[i])
        return TurnstileInputs(passage_in=level(self.cfg.input_passage_in),
                               passage_out=level(self.cfg.input_passage_out),
                               fault=level(self.cfg.input_fault), fire=level(self.cfg.input_fire))

    def indicate(self, level: Level) -> None:
        """Reader LED and buzzer for the person at the gate. Fire and forget: never raises,
        never waits (feedback must not slow the gate)."""
        color, led_time, beeps, beep_len = INDICATION[level]
        cmds: list[dict[str, Any]] = [
            {"command": osdp.Command.LED, "reader": self.cfg.reader, "led_number": 0,
             "control_code": LED_TEMPORARY, "on_count": led_time, "off_count": 0, "on_color": color,
             "off_color": osdp.CommandLEDColor.Black, "timer_count": led_time, "temporary": True},
            {"command": osdp.Command.Buzzer, "reader": self.cfg.reader, "control_code": BUZZER_DEFAULT_TONE,
             "on_count": beep_len, "off_count": 1, "rep_count": beeps}]
        if self._closed or self.health().state != "ok":
            return
        for cmd in cmds:
            try:
                if not self._cp.submit_command(self.cfg.address, cmd):
                    log.debug("turnstile %s: indication refused by libosdp", self.id)
            except Exception:  # noqa: BLE001 - feedback must never raise into the gate
                log.debug("turnstile %s: indication failed", self.id, exc_info=True)

    def close(self) -> None:
        if self._closed:
            return
        if self._link_problem() is None:
            for out in (self.cfg.output_open_in, self.cfg.output_open_out):
                try:
                    self._command(self._output(out, OUT_PERMANENT_OFF), f"OFF output {out}")
                except TurnstileError as exc:
                    log.warning("turnstile %s: %s", self.id, exc)
        self._closed = True
        try:
            self._cp.teardown()
        except RuntimeError:
            pass
        self._channel.link.close()
        self._tracker.set("down", CLOSED)
