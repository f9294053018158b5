"""The gateway's configuration: the ``[edge]`` table of the TOML file.

Decoded strictly by :func:`shared_schema.typed_config.load`: unknown keys, wrong
types and out-of-range values are errors naming the key. Relative paths are
resolved against the directory of the configuration file.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from shared_schema import credpath, mqtt_tls
from shared_schema.messages import CODE, GATEWAY_ID, MAX_BATCH_ENTRIES
from shared_schema.typed_config import ConfigError, decode_config, load_table
from shared_schema.wire import MAX_PAYLOAD_BYTES, DecodeError, field

from .clock import ClockConfig
from .retention import RetentionConfig
from .drivers.camera.config import CameraBase, FileCameraConfig, decode_cameras
from .drivers.config import OsdpConfig, TurnstileBase, decode_turnstiles
from .vision.config import VisionConfig
from .roster.config import RosterConfig
from .liveness.config import LivenessConfig
from .pipeline.config import PipelineConfig
from .webui.config import IdCardReaderSettings, WebUIConfig

__all__ = ["ConfigError", "EdgeConfig", "GateConfig", "GateTimingConfig", "LedgerConfig", "MqttConfig", "SyncConfig",
           "SimulateConfig", "load_config"]
# Turnstile config classes: edge_agent.drivers.config (ModbusRtuConfig, UsbRelayConfig, SimulatedConfig).

PATH_LEN = 4096


@dataclass(frozen=True)
class GateConfig:
    id: str = field(pattern=CODE)
    direction: Literal["in", "out", "both"] = "both"
    turnstile: str | None = field(default=None, pattern=CODE)   # id of an edge.turnstiles entry
    camera: str | None = field(default=None, pattern=CODE)      # id of an edge.cameras entry


@dataclass(frozen=True)
class GateControlConfig:
    """``[edge.gate_control]``: the local Unix socket for ``edge-agent gate release`` (a supervisor's
    override; edge_agent.gate_control_socket), mode 0660; "" = off. Relative paths: to the config file."""
    socket: str = field(default="", max_len=107)


@dataclass(frozen=True)
class MetricsConfig:
    """``[edge.metrics]``: loopback-only Prometheus endpoint (edge_agent.metrics); "" = off."""
    listen: str = field(default="", max_len=64)

    def __post_init__(self):
        if self.listen:
            from .metrics import parse_listen
            parse_listen(self.listen)   # ValueError names what is wrong (e.g. not loopback)


@dataclass(frozen=True)
class GateTimingConfig:
    """``[edge.gate]``: the gate controller's timeouts (edge_agent.gate_controller), all gates."""
    # ≥ pipeline.decision_deadline_s + challenge_timeout_s + 1 s with a camera gate (checked below)
    verdict_timeout_s: float = field(default=8.0, min=0.1, max=600.0)
    open_timeout_s: float = field(default=3.0, min=0.1, max=120.0)
    passage_window_s: float = field(default=10.0, min=0.2, max=600.0)
    tailgate_window_s: float = field(default=1.5, min=0.0, max=60.0)
    door_held_s: float = field(default=20.0, min=0.5, max=3600.0)
    fault_clear_s: float = field(default=2.0, min=0.0, max=600.0)
    poll_interval_s: float = field(default=0.05, min=0.005, max=5.0)
    fire_clear_s: float = field(default=2.0, min=0.0, max=600.0)   # fire input clear this long: hold ends


@dataclass(frozen=True)
class LedgerConfig:
    path: str = field(default="edge-ledger.db", max_len=PATH_LEN)
    retention_days: int = field(default=30, min=1, max=3650)
    prune_interval_s: float = field(default=3600.0, min=1.0, max=86400.0)
    disk_alarm_free_mb: int = field(default=512, min=0, max=10**9)
    disk_alarm_free_percent: float = field(default=5.0, min=0.0, max=100.0)


@dataclass(frozen=True)
class MqttConfig:
    host: str = field(default="127.0.0.1", max_len=255)
    port: int = field(default=1883, min=1, max=65535)
    keepalive_s: int = field(default=30, min=5, max=3600)
    # TLS to the city broker (packaging/mosquitto): the city's CA, this gateway's client certificate
    tls: bool = field(default=False)
    ca_file: str | None = field(default=None, max_len=PATH_LEN)
    cert_file: str | None = field(default=None, max_len=PATH_LEN)
    key_file: str | None = field(default=None, max_len=PATH_LEN)
    tls_server_name: str | None = field(default=None, max_len=255)


@dataclass(frozen=True)
class SyncConfig:
    batch_max_entries: int = field(default=500, min=1, max=MAX_BATCH_ENTRIES)
    batch_max_bytes: int = field(default=512 * 1024, min=4096, max=MAX_PAYLOAD_BYTES - 4096)
    live_batch_max_entries: int = field(default=20, min=1, max=MAX_BATCH_ENTRIES)
    max_inflight_batches: int = field(default=4, min=1, max=64)
    ack_timeout_s: float = field(default=30.0, min=0.2, max=3600.0)
    reject_retry_s: float = field(default=60.0, min=0.1, max=86400.0)
    backoff_min_s: float = field(default=1.0, min=0.05, max=3600.0)
    backoff_max_s: float = field(default=60.0, min=0.05, max=3600.0)


@dataclass(frozen=True)
class SimulateConfig:
    workers: int = field(default=200, min=1, max=9999)
    non_work_ratio: float = field(default=0.05, min=0.0, max=1.0)
    reject_ratio: float = field(default=0.03, min=0.0, max=1.0)
    seed: int = field(default=0, min=0)


@dataclass(frozen=True)
class EdgeConfig:
    gateway_id: str = field(pattern=GATEWAY_ID)
    project_code: str = field(pattern=CODE)
    gates: list[GateConfig] = field(default_factory=lambda: (GateConfig("G1"),), min_items=1,
                                    max_items=64)
    signing_key_file: str = field(default="keys/gateway.key", max_len=PATH_LEN)
    receiver_public_key_file: str = field(default="keys/receiver.pub", max_len=PATH_LEN)
    heartbeat_interval_s: float = field(default=60.0, min=0.1, max=3600.0)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json", "logfmt"] = "text"      # shared_schema.logfmt
    ledger: LedgerConfig = field(default_factory=LedgerConfig)
    mqtt: MqttConfig = field(default_factory=MqttConfig)
    sync: SyncConfig = field(default_factory=SyncConfig)
    simulate: SimulateConfig = field(default_factory=SimulateConfig)
    gate: GateTimingConfig = field(default_factory=GateTimingConfig)
    vision: VisionConfig = field(default_factory=VisionConfig)
    liveness: LivenessConfig = field(default_factory=LivenessConfig)   # always on: no off switch (edge_agent.liveness)
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)   # gate vision (edge_agent.pipeline)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    gate_control: GateControlConfig = field(default_factory=GateControlConfig)   # edge_agent.gate_control_socket
    clock: ClockConfig = field(default_factory=ClockConfig)      # wall-clock checks (edge_agent.clock)
    retention: RetentionConfig = field(default_factory=RetentionConfig)   # snapshots (edge_agent.retention)
    roster: RosterConfig = field(default_factory=RosterConfig)   # worker registry + roster sync (edge_agent.roster)
    webui: WebUIConfig = field(default_factory=WebUIConfig)                       # enrollment UI (edge_agent.webui)
    idcard_reader: IdCardReaderSettings = field(default_factory=IdCardReaderSettings)   # for the enrollment UI
    # A tagged union on `type` (edge_agent.drivers.config): load_config decodes each entry
    # into its kind's dataclass; the generic decoder only sees their id and type.
    turnstiles: list[TurnstileBase] = field(default_factory=tuple, max_items=64)
    cameras: list[CameraBase] = field(default_factory=tuple, max_items=64)   # same: drivers.camera.config

    def __post_init__(self):
        ids = [g.id for g in self.gates]
        if len(set(ids)) != len(ids):
            raise ValueError("gates: duplicate gate id")
        known = [t.id for t in self.turnstiles]
        if len(set(known)) != len(known):
            raise ValueError("turnstiles: duplicate turnstile id")
        used = [g.turnstile for g in self.gates if g.turnstile is not None]
        for ref in used:
            if ref not in known:
                raise ValueError(f"gates: turnstile {ref!r} is not in turnstiles")
        if len(set(used)) != len(used):
            raise ValueError("gates: one turnstile is used by two gates")
        cams = [c.id for c in self.cameras]
        if len(set(cams)) != len(cams):
            raise ValueError("cameras: duplicate camera id")
        if set(cams) & set(known):
            raise ValueError("cameras: an id is used by a turnstile too (the heartbeat lists both)")
        for g in self.gates:
            if g.camera is not None and g.camera not in cams:
                raise ValueError(f"gates: camera {g.camera!r} is not in cameras")
        if any(g.camera is not None for g in self.gates):   # the vision pipeline decides there
            from .pipeline.config import verdict_timeout_problem
            problem = verdict_timeout_problem(self.gate.verdict_timeout_s, self.pipeline)
            if problem:
                raise ValueError(problem)
        for t in self.turnstiles:
            pulse_ms = getattr(t, "pulse_ms", 0)
            if pulse_ms / 1000.0 >= self.gate.open_timeout_s:
                raise ValueError(f"gate.open_timeout_s must exceed turnstile {t.id}'s pulse_ms")
        if self.sync.backoff_min_s > self.sync.backoff_max_s:
            raise ValueError("sync.backoff_min_s must be ≤ sync.backoff_max_s")
        problem = mqtt_tls.check_keys(self.mqtt)
        if problem:
            raise ValueError(f"mqtt: {problem}")


def _resolve(base: Path, value: str | None) -> str | None:
    if value is None:
        return None
    try:   # "${CREDENTIALS_DIRECTORY}/gateway.key": systemd's LoadCredential= folder (shared_schema.credpath)
        value = credpath.expand(value)
    except credpath.CredentialsPathError as exc:
        raise ConfigError(f"edge: {exc}") from None
    p = Path(value).expanduser()
    return str(p if p.is_absolute() else (base / p).resolve())


def load_config(path: str | Path) -> EdgeConfig:
    """Read and validate ``[edge]``; raises :class:`ConfigError` naming the bad key."""
    path = Path(path)
    table = load_table(path, "edge")
    # tagged unions on `type`: decode each entry by its kind first; the generic decoder
    # then sees only {id, type}, and the decoded entries are put back
    tagged = {}
    for key, decode_kinds in (("turnstiles", decode_turnstiles), ("cameras", decode_cameras)):
        if isinstance(table.get(key), list):
            try:
                tagged[key] = decode_kinds(table[key], f"edge.{key}")
            except DecodeError as exc:
                raise ConfigError(f"{path}: {exc.detail}") from None
            table = {**table, key: [{"id": x.id, "type": x.type} for x in tagged[key]]}
    cfg = decode_config(EdgeConfig, table, "edge", str(path))
    if tagged:
        try:
            cfg = dataclasses.replace(cfg, **tagged)
        except ValueError as exc:   # checks that need the decoded entries (pulse_ms)
            raise ConfigError(f"{path}: edge: {exc}") from None
    base = path.resolve().parent
    return dataclasses.replace(
        cfg,
        signing_key_file=_resolve(base, cfg.signing_key_file),
        receiver_public_key_file=_resolve(base, cfg.receiver_public_key_file),
        ledger=dataclasses.replace(cfg.ledger, path=_resolve(base, cfg.ledger.path)),
        mqtt=dataclasses.replace(cfg.mqtt, ca_file=_resolve(base, cfg.mqtt.ca_file),
                                 cert_file=_resolve(base, cfg.mqtt.cert_file),
                                 key_file=_resolve(base, cfg.mqtt.key_file)),
        vision=dataclasses.replace(cfg.vision, models_dir=_resolve(base, cfg.vision.models_dir or None) or ""),
        roster=dataclasses.replace(cfg.roster, db_path=_resolve(base, cfg.roster.db_path),
                                   template_key_file=_resolve(base, cfg.roster.template_key_file)),
        liveness=dataclasses.replace(cfg.liveness, models_dir=_resolve(base, cfg.liveness.models_dir or None) or ""),
        pipeline=dataclasses.replace(cfg.pipeline, snapshot_dir=_resolve(base, cfg.pipeline.snapshot_dir)),
        gate_control=dataclasses.replace(cfg.gate_control,
                                         socket=_resolve(base, cfg.gate_control.socket or None) or ""),
        webui=dataclasses.replace(cfg.webui, accounts_db=_resolve(base, cfg.webui.accounts_db),
                                  tls_cert_file=_resolve(base, cfg.webui.tls_cert_file or None) or "",
                                  tls_key_file=_resolve(base, cfg.webui.tls_key_file or None) or ""),
        turnstiles=tuple(dataclasses.replace(t, scbk_file=_resolve(base, t.scbk_file)) if isinstance(t, OsdpConfig)
                         else t for t in cfg.turnstiles),
        cameras=tuple(dataclasses.replace(c, path=_resolve(base, c.path)) if isinstance(c, FileCameraConfig)
                      else c for c in cfg.cameras),
    )
