"""Signed heartbeats: the state of the link, the backlog, the disk and the ledger."""

from __future__ import annotations

import datetime as _dt
import logging
import threading
import time
from collections.abc import Callable, Iterable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared_schema import SCHEMA_VERSION, topics
from shared_schema.envelope import seal
from shared_schema.messages import DeviceHealth, Heartbeat, encode_message
from shared_schema.wire import format_utc, utc_now

from . import __version__
from .disk import DiskMonitor
from .ledger import BOOT_ID, PunchLedger

log = logging.getLogger(__name__)


def device_health(turnstiles: Iterable) -> list[DeviceHealth]:
    """The drivers' own health (``Turnstile.health()`` is cheap: no I/O)."""
    out = []
    for t in turnstiles:
        h = t.health()
        out.append(DeviceHealth(id=t.id, kind=t.kind, state=h.state, detail=h.detail[:128],
                                since=format_utc(_dt.datetime.fromtimestamp(h.since, _dt.timezone.utc))))
    return out


def build_heartbeat(gateway_id: str, ledger: PunchLedger, disk: DiskMonitor,
                    devices: Callable[[], list[DeviceHealth]] = list) -> Heartbeat:
    st = ledger.stats()
    ds = disk.check()
    return Heartbeat(
        v=SCHEMA_VERSION, type="heartbeat", gateway_id=gateway_id, sent_at=utc_now(),
        monotonic_ns=time.monotonic_ns(), boot_id=BOOT_ID, head_seq=st.head_seq,
        acked_through_seq=st.acked_through_seq, backlog=st.backlog,
        oldest_unacked_age_s=st.oldest_unacked_age_s, software_version=__version__,
        disk_free_bytes=ds.free_bytes, disk_alarm=ds.alarm, ledger_ok=ledger.ledger_ok,
        devices=tuple(devices()))


class HeartbeatLoop:
    """Every ``interval_s``: check the disk and hand a signed heartbeat to ``publish``.

    ``publish(topic, payload, retain)`` returns False when offline (the beat is
    dropped: a stale heartbeat says nothing useful).
    """

    def __init__(self, gateway_id: str, ledger: PunchLedger, disk: DiskMonitor,
                 key: Ed25519PrivateKey, publish, interval_s: float,
                 devices: Callable[[], list[DeviceHealth]] = list):
        self.gateway_id = gateway_id
        self.devices = devices
        self.ledger = ledger
        self.disk = disk
        self.key = key
        self.publish = publish
        self.interval_s = interval_s
        self.sent = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)

    def beat(self) -> bool:
        hb = build_heartbeat(self.gateway_id, self.ledger, self.disk, self.devices)
        ok = self.publish(topics.heartbeat(self.gateway_id), seal(encode_message(hb), self.key), False)
        if ok:
            self.sent += 1
        return ok

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.beat()
            except Exception:  # a heartbeat must never take the agent down
                log.exception("heartbeat failed")

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)
