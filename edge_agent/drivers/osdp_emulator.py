"""An OSDP peripheral device (reader / door controller) on a pseudo-terminal, for tests and demos.

libosdp's own :class:`osdp.PeripheralDevice` speaks the protocol (secure channel included) on
the master side of an ``os.openpty()`` pair; the driver opens the slave side through a symlink
like a USB-RS485 adapter. It records every command it receives (outputs with their timers,
LED, buzzer), reports input changes the way a real PD does (an input status report on the next
poll) and can go silent, vanish and come back (:class:`~.emulators.PtyDevice`).
"""

from __future__ import annotations

import os
import select
import threading
import time
from dataclasses import dataclass

import osdp

from .emulators import PtyDevice

RX_KEEP = 1 << 16


@dataclass(frozen=True)
class OutputCommand:
    t: float                 # time.monotonic() when the PD executed it
    output: int
    control_code: int
    timer_count: int


class _MasterChannel(osdp.Channel):
    """The PD's side of the pty; silence while the emulator is unplugged or told to be silent."""

    def __init__(self, dev: "OsdpPdEmulator"):
        super().__init__()
        self.dev = dev

    def read(self, max_bytes: int) -> bytes:
        dev = self.dev
        with dev._lock:
            fd = dev._master
            if fd is None:
                return b""
            if not select.select([fd], [], [], 0)[0]:
                return b""
            try:
                data = os.read(fd, max_bytes)
            except OSError:
                return b""
        if dev.silent:
            return b""
        dev.rx += data                      # every byte the CP sent, for tests of the wire format
        del dev.rx[:-RX_KEEP]
        return data

    def write(self, buf: bytes) -> int:
        if self.dev.silent:
            return len(buf)
        with self.dev._lock:
            if self.dev._master is None:
                return len(buf)
            try:
                return os.write(self.dev._master, buf)
            except OSError:
                return len(buf)

    def flush(self) -> None:
        pass


class OsdpPdEmulator(PtyDevice):
    def __init__(self, link=None, *, address: int = 0, scbk: bytes, outputs: int = 4, inputs: int = 4):
        self.address = address
        self.n_inputs = inputs
        self.inputs = [False] * inputs
        self.outputs: list[OutputCommand] = []
        self.leds: list[dict] = []
        self.buzzers: list[dict] = []
        self.silent = False
        self.rx = bytearray()
        self._changed = threading.Condition()
        super().__init__(link)
        caps = osdp.PDCapabilities([(osdp.Capability.OutputControl, 1, outputs),
                                    (osdp.Capability.ContactStatusMonitoring, 1, inputs),
                                    (osdp.Capability.LEDControl, 1, 1),
                                    (osdp.Capability.AudibleControl, 1, 1)])
        info = osdp.PDInfo(address, _MasterChannel(self), scbk=scbk, flags=[osdp.LibFlag.EnforceSecure])
        self.pd = osdp.PeripheralDevice(info, caps, log_level=osdp.LogLevel.Error,
                                        command_handler=self._on_command)

    # ---- lifecycle (libosdp's refresh thread reads the pty: no PtyDevice reader thread) -----
    def start(self):
        self.pd.start()
        return self

    def stop(self) -> None:
        try:
            self.pd.teardown()
        except RuntimeError:
            pass
        self.vanish()

    # ---- test helpers ----------------------------------------------------------------------
    def set_input(self, number: int, level: bool) -> None:
        """An input changes: the PD reports all its inputs to the CP (on its next poll)."""
        self.inputs[number] = level
        self.report_inputs()

    def report_inputs(self) -> None:
        self.pd.submit_event({"event": osdp.Event.Status, "type": osdp.StatusReportType.Input,
                              "report": bytes(int(v) for v in self.inputs)})

    def wait_for(self, predicate, timeout: float = 5.0) -> bool:
        with self._changed:
            return self._changed.wait_for(predicate, timeout)

    def output_on(self, output: int, at: float | None = None) -> bool:
        """The output's state by the PD's rules (permanent state, a temporary ON until its timer)."""
        at = time.monotonic() if at is None else at
        permanent, temporary_until = False, 0.0
        for c in self.outputs:
            if c.output != output or c.t > at:
                continue
            if c.control_code in (1, 2):             # permanent OFF / ON, aborting a timed state
                permanent, temporary_until = c.control_code == 2, 0.0
            elif c.control_code in (3, 4):           # permanent OFF / ON after the timed state
                permanent = c.control_code == 4
            elif c.control_code == 5:                # temporary ON for timer_count × 100 ms
                temporary_until = c.t + c.timer_count / 10.0
        return at < temporary_until or permanent

    # ---- the PD's command handler (libosdp's refresh thread) -----------------------------------
    def _on_command(self, cmd: dict):
        t = time.monotonic()
        with self._changed:
            if cmd.get("command") == osdp.Command.Output:
                self.outputs.append(OutputCommand(t, cmd["output_no"], cmd["control_code"],
                                                  cmd.get("timer_count", 0)))
            elif cmd.get("command") == osdp.Command.LED:
                self.leds.append(dict(cmd))
            elif cmd.get("command") == osdp.Command.Buzzer:
                self.buzzers.append(dict(cmd))
            self._changed.notify_all()
        return 0, None
