"""Device emulators on a pseudo-terminal: the real protocol bytes on a real tty.

They ship in the package because they power the tests and the demos. Each one
owns the master side of an ``os.openpty()`` pair and (optionally) a symlink that
points at the slave side; a driver opens that path like a USB-serial adapter.
``vanish()`` closes the pty and removes the link (the adapter was unplugged),
``reappear()`` makes a new pty and points the link at it (plugged back in).
"""

from __future__ import annotations

import logging
import os
import select
import threading
import time
import tty

log = logging.getLogger(__name__)


class PtyDevice:
    """A thread that reads the master side and hands each burst of bytes to ``on_frame``.

    Frames are delimited by silence (``gap_s``), like Modbus RTU's 3.5 character times.
    """

    gap_s = 0.004

    def __init__(self, link: str | os.PathLike | None = None):
        self.link = os.fspath(link) if link is not None else None
        self._lock = threading.RLock()
        self._master: int | None = None
        self._slave: int | None = None
        self.slave_name = ""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._make_pty()

    # ---- the pty -----------------------------------------------------------
    def _make_pty(self) -> None:
        master, slave = os.openpty()
        tty.setraw(slave)      # no echo, no line discipline until the driver configures it
        with self._lock:
            self._master, self._slave = master, slave
            self.slave_name = os.ttyname(slave)
        if self.link is not None:
            tmp = f"{self.link}.tmp{os.getpid()}"
            os.symlink(self.slave_name, tmp)
            os.replace(tmp, self.link)

    @property
    def port(self) -> str:
        """The path a driver should open."""
        return self.link if self.link is not None else self.slave_name

    @property
    def present(self) -> bool:
        return self._master is not None

    def vanish(self) -> None:
        """Unplug: remove the link and close the pty (the driver's fd gets EIO)."""
        with self._lock:
            if self.link is not None and os.path.lexists(self.link):
                os.unlink(self.link)
            for fd in (self._master, self._slave):
                if fd is not None:
                    os.close(fd)
            self._master = self._slave = None

    def reappear(self) -> None:
        """Plug back in: a new pty, the link pointing at it."""
        with self._lock:
            if self._master is None:
                self._make_pty()

    def write(self, data: bytes) -> None:
        """Bytes from the device to the driver (replies, or garbage from a test)."""
        with self._lock:
            if self._master is not None:
                os.write(self._master, data)

    # ---- the reader thread --------------------------------------------------
    def start(self):
        self._thread = threading.Thread(target=self._run, name=type(self).__name__, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2)
        self.vanish()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _read_burst(self) -> bytes:
        with self._lock:   # the fd cannot be closed (and its number reused) under us
            fd = self._master
            if fd is None:
                return b""
            ready, _, _ = select.select([fd], [], [], 0.02)
            if not ready:
                return b""
            buf = bytearray()
            while True:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                buf += chunk
                ready, _, _ = select.select([fd], [], [], self.gap_s)
                if not ready:
                    break
            return bytes(buf)

    def _run(self) -> None:
        while not self._stop.is_set():
            if self._master is None:
                time.sleep(0.01)
                continue
            data = self._read_burst()
            if data:
                try:
                    self.on_frame(data, time.monotonic())
                except Exception:  # noqa: BLE001 - an emulator bug must not kill the thread silently
                    log.exception("%s: frame handling failed", type(self).__name__)
            else:
                time.sleep(0.001)

    def on_frame(self, data: bytes, t: float) -> None:
        raise NotImplementedError
