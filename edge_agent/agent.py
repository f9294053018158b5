"""The running gateway service: ledger + sync + heartbeat + gate recorder + pruning,
and the gates: one turnstile driver per configured ``[[edge.turnstiles]]`` entry and one
:class:`~edge_agent.gate_controller.GateController` per gate (its own polling thread)."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from shared_schema.envelope import read_private_key, read_public_key

from .clock import ClockGuard
from .retention import RetentionJobs
from .config import EdgeConfig
from .disk import DiskMonitor
from .drivers import Turnstile, open_turnstile
from .feedback import Feedback, LogFeedback, MultiFeedback
from .gate import GateRecorder, Opener
from .gate_controller import GateController, GateControllers
from .heartbeat import HeartbeatLoop, device_health
from .ledger import PunchLedger
from .reader_feedback import ReaderFeedback, signalling
from .sync import LedgerSync

log = logging.getLogger(__name__)


class AgentError(RuntimeError):
    """The agent cannot start; the message is meant for the operator."""


def load_keys(cfg: EdgeConfig):
    try:
        key = read_private_key(Path(cfg.signing_key_file))
    except FileNotFoundError:
        raise AgentError(f"网关签名密钥不存在 / signing key not found: {cfg.signing_key_file} "
                         f"(run `edge-agent keygen`)") from None
    except (OSError, ValueError) as exc:
        raise AgentError(f"网关签名密钥无效 / bad signing key: {exc}") from None
    try:
        receiver = read_public_key(Path(cfg.receiver_public_key_file))
    except FileNotFoundError:
        raise AgentError(f"接收端公钥不存在 / receiver public key not found: "
                         f"{cfg.receiver_public_key_file}") from None
    except (OSError, ValueError) as exc:
        raise AgentError(f"接收端公钥无效 / bad receiver public key: {exc}") from None
    return key, receiver


class EdgeAgent:
    """``opener`` replaces the turnstiles as the recorder's opener (tests); by default the gate
    controllers open the configured turnstiles."""

    def __init__(self, cfg: EdgeConfig, *, opener: Opener | None = None, feedback: Feedback | None = None,
                 metrics_listen: str | None = None):
        self.cfg = cfg
        # ``[edge.metrics] listen`` when the config has it (off by default); the argument overrides it
        self.metrics_listen = metrics_listen if metrics_listen is not None else cfg.metrics.listen
        self.metrics = None
        key, receiver = load_keys(cfg)
        # the wall clock is checked before every stamp against the city's time (from acks) and the last
        # entry (edge_agent.clock); the heartbeat reports it as device "_clock"
        self.clock = ClockGuard(cfg.clock)
        self.ledger = PunchLedger(cfg.ledger.path, cfg.gateway_id, cfg.project_code,
                                  retention_days=cfg.ledger.retention_days, clock=self.clock)
        self.disk = DiskMonitor(Path(cfg.ledger.path).parent, cfg.ledger.disk_alarm_free_mb,
                                cfg.ledger.disk_alarm_free_percent)
        self.sync = LedgerSync(self.ledger, cfg, key, receiver)
        self.sync.ack_listeners.append(self.clock.observe_ack)
        self.recorder = GateRecorder(self.ledger, opener)
        self.recorder.on_live(self.sync.notify_live)
        self.turnstiles: dict[str, Turnstile] = {t.id: open_turnstile(t) for t in cfg.turnstiles}
        readers = signalling(self.turnstiles, cfg.gates)      # e.g. OSDP readers: LED + buzzer feedback
        if readers:
            feedback = MultiFeedback(feedback or LogFeedback(), ReaderFeedback(readers))
        self.gates = GateControllers(
            (g.id, GateController(g, self.recorder, self.turnstiles.get(g.turnstile) if g.turnstile else None,
                                  cfg.gate, feedback))
            for g in cfg.gates)
        if opener is None and self.turnstiles:
            self.recorder.opener = self.gates.open
        # the gates' eyes: one vision pipeline per gate with a camera (edge_agent.pipeline); the
        # gallery comes from the enrollment registry through update_gallery() (empty until then)
        from .pipeline.build import build_pipelines
        self.pipelines = build_pipelines(cfg, self.gates)
        # the worker registry (edge_agent.roster): its changes sync up over this link, and the gates'
        # gallery is rebuilt from it on every exit / consent / template change
        from .roster.service import RosterService
        self.roster = RosterService(cfg, key, on_gallery=self.update_gallery)
        self.roster.attach(self.sync)
        self.roster.publish_gallery()
        # the enrollment web UI on the site LAN (edge_agent.webui), off unless [edge.webui] listen is set;
        # it shares the gate pipelines' cameras (one device, opened once)
        self.webui = None
        if cfg.webui.listen:
            from .webui.service import WebUIService
            self.webui = WebUIService(cfg, self.roster.registry,
                                      {p.camera.id: p.camera for p in self.pipelines.values() if p.camera is not None},
                                      gates=self.gates)      # the ID card pass (刷证通行) decides through them
        self.heartbeat = HeartbeatLoop(cfg.gateway_id, self.ledger, self.disk, key,
                                       self.sync.publish, cfg.heartbeat_interval_s,
                                       devices=lambda: [*device_health([*self.turnstiles.values(),
                                                                        *self.pipelines.values()]),
                                                        self.clock.health(self.ledger.head_time)])
        # retention (APScheduler): acked punches past [edge.ledger] retention_days, face snapshots past
        # [edge.retention] snapshot_days (edge_agent.retention)
        self.retention = RetentionJobs(self.ledger, cfg.ledger.prune_interval_s, cfg.pipeline.snapshot_dir,
                                       cfg.retention)
        self.gate_control = None     # the supervisor's override socket (edge_agent.gate_control_socket)
        self._stop = threading.Event()
        self._maint = threading.Thread(target=self._maintenance, name="maintenance", daemon=True)

    def start(self) -> "EdgeAgent":
        if self.cfg.gate_control.socket:
            from .gate_control_socket import GateControlServer
            try:
                self.gate_control = GateControlServer(self.cfg.gate_control.socket, self.gates).start()
            except (OSError, ValueError, RuntimeError) as exc:
                raise AgentError(f"闸机控制套接字 / gate control socket: {exc}") from None
        self.disk.check()
        self.sync.start()
        self.heartbeat.start()
        self._maint.start()
        self.retention.start()
        self.gates.start()
        for p in self.pipelines.values():
            p.start()
        if self.webui is not None:
            self.webui.start()
        if self.metrics_listen:
            from .metrics import MetricsServer
            self.metrics = MetricsServer(self, self.metrics_listen).start()
        log.info("edge agent started (gateway %s, ledger_ok=%s)", self.cfg.gateway_id,
                 self.ledger.ledger_ok)
        return self

    def _maintenance(self) -> None:
        while True:
            try:   # the ledger's own pruning is a retention job (self.retention)
                self.roster.prune()
            except Exception:
                log.exception("pruning failed")
            if self._stop.wait(self.cfg.ledger.prune_interval_s):
                return

    def alive(self) -> bool:
        """The service watchdog's check before each ping: the sync loop is iterating (its longest
        sleep is one backoff) and every gate's polling thread runs."""
        stale_after = 2 * self.cfg.sync.backoff_max_s + 30.0
        sync_ok = self.sync._thread.is_alive() and time.monotonic() - self.sync.loop_at < stale_after
        gates_ok = all(c._thread is None or c._thread.is_alive() for c in self.gates.values())
        return sync_ok and gates_ok and all(p.alive() for p in self.pipelines.values())

    def update_gallery(self, gallery) -> None:
        """Serve this :class:`~edge_agent.vision.gallery.Gallery` at every camera gate (thread-safe)."""
        for p in self.pipelines.values():
            p.update_gallery(gallery)

    def wait_drained(self, timeout: float) -> bool:
        """True once nothing is unacked; False if ``timeout`` passes first."""
        deadline = time.monotonic() + timeout
        while True:
            if self.ledger.stats().backlog == 0:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)

    def stop(self) -> None:
        self._stop.set()
        if self.gate_control is not None:
            self.gate_control.stop()
        if self.metrics is not None:
            self.metrics.stop()
        if self.webui is not None:
            self.webui.stop()       # before the pipelines close the cameras it shares
        for p in self.pipelines.values():
            p.stop()              # before the gates: no decision may arrive at a stopped gate
        self.gates.stop()
        for t in self.turnstiles.values():
            try:
                t.close()       # outputs OFF, port closed
            except Exception:  # noqa: BLE001 - keep stopping the rest
                log.exception("closing turnstile %s", t.id)
        self.heartbeat.stop()
        self.sync.stop()
        if self._maint.is_alive():
            self._maint.join(5)
        self.retention.stop()
        self.ledger.close()
        self.roster.close()
        log.info("edge agent stopped")

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
