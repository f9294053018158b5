"""Receiver configuration: the ``[receiver]`` table of the TOML config file.

Decoded strictly with :func:`shared_schema.typed_config.load` into frozen
dataclasses; unknown keys are errors that name the key. Relative paths
(``signing_key_file``, ``api.tokens_file``, ``mqtt.ca_file``/``cert_file``/``key_file``, a ``sqlite:///relative.db`` store
URL, ``upstream.appsecret_file``) resolve against the folder of the config file.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from shared_schema import credpath, mqtt_tls
from shared_schema.typed_config import ConfigError, load
from shared_schema.wire import field

from .retention import ReceiverRetentionConfig
from .supervision.anomalies import AnomalyRules
from .supervision.rules import AttendanceRules
from .supervision.wage_risk import WageRiskRules
from .supervision.warnings import WarningRules
from .upstream.config import UpstreamConfig
from .upstream.config import check as check_upstream

CODE = r"^[A-Za-z0-9_.-]{1,64}$"
MIN_TOKEN_LEN = 16


@dataclass(frozen=True)
class MqttConfig:
    host: str = field(default="127.0.0.1", max_len=255)
    port: int = field(default=1883, min=1, max=65535)
    keepalive_s: int = field(default=30, min=5, max=3600)
    share_group: str = field(default="receivers", pattern=CODE)
    max_inflight: int = field(default=100, min=1, max=65535)
    reconnect_min_s: float = field(default=1.0, min=0.1, max=60.0)
    reconnect_max_s: float = field(default=30.0, min=1.0, max=600.0)
    # TLS to the city broker (packaging/mosquitto): the city's CA, this receiver's client certificate
    tls: bool = field(default=False)
    ca_file: str | None = field(default=None, max_len=1024)
    cert_file: str | None = field(default=None, max_len=1024)
    key_file: str | None = field(default=None, max_len=1024)
    tls_server_name: str | None = field(default=None, max_len=255)


@dataclass(frozen=True)
class StoreConfig:
    url: str = field(default="sqlite:///receiver.db", max_len=1024)


@dataclass(frozen=True)
class ApiConfig:
    enabled: bool = field(default=True)
    host: str = field(default="127.0.0.1", max_len=255)
    port: int = field(default=8080, min=0, max=65535)
    tokens: list[str] = field(default=(), max_items=100)
    tokens_file: str | None = field(default=None, max_len=1024)
    page_size_max: int = field(default=1000, min=1, max=100000)
    # roles, tokens, rate limit, uploads (cloud_receiver/auth.py, cloud_receiver/api_wage.py)
    full_id_roles: list[Literal["city", "district", "project"]] = field(default=("city",), max_items=3)
    auth_fail_limit: int = field(default=10, min=1, max=10000)
    auth_fail_window_s: float = field(default=60.0, min=1.0, max=86400.0)
    auth_block_s: float = field(default=300.0, min=1.0, max=86400.0)
    auth_clients_max: int = field(default=10000, min=10, max=10_000_000)
    trusted_proxies: list[str] = field(default=(), max_items=100)
    upload_max_bytes: int = field(default=10 * 1024 * 1024, min=1024, max=1024 * 1024 * 1024)


@dataclass(frozen=True)
class ReceiverConfig:
    receiver_id: str = field(pattern=CODE)
    signing_key_file: str = field(max_len=1024)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = field(default="INFO")
    log_format: Literal["text", "json", "logfmt"] = field(default="text")     # shared_schema.logfmt
    gap_grace_s: float = field(default=300.0, min=0.0, max=30 * 86400.0)
    sweep_interval_s: float = field(default=30.0, min=0.1, max=86400.0)
    registry_cache_s: float = field(default=5.0, min=0.0, max=3600.0)
    mqtt: MqttConfig = field(default_factory=MqttConfig)
    store: StoreConfig = field(default_factory=StoreConfig)
    api: ApiConfig = field(default_factory=ApiConfig)
    attendance: AttendanceRules = field(default_factory=AttendanceRules)
    warnings: WarningRules = field(default_factory=WarningRules)
    anomalies: AnomalyRules = field(default_factory=AnomalyRules)
    wage_risk: WageRiskRules = field(default_factory=WageRiskRules)
    retention: ReceiverRetentionConfig = field(default_factory=ReceiverRetentionConfig)   # head photos
    upstream: UpstreamConfig = field(default_factory=UpstreamConfig)   # national platform upload

    def api_tokens(self) -> frozenset[str]:
        """Tokens from ``api.tokens`` plus one per line of ``api.tokens_file`` (# comments)."""
        tokens = set(self.api.tokens)
        if self.api.tokens_file:
            try:
                text = Path(self.api.tokens_file).read_text()
            except OSError as exc:
                raise ConfigError(f"receiver.api.tokens_file: cannot read ({exc.strerror})") from None
            tokens.update(t.strip() for t in text.splitlines() if t.strip() and not t.startswith("#"))
        short = [t for t in tokens if len(t) < MIN_TOKEN_LEN]
        if short:
            raise ConfigError(f"receiver.api: tokens must be at least {MIN_TOKEN_LEN} characters")
        return frozenset(tokens)


def _resolve(base: Path, p: str) -> str:
    try:   # "${CREDENTIALS_DIRECTORY}/receiver.key": systemd's LoadCredential= folder (shared_schema.credpath)
        p = credpath.expand(p)
    except credpath.CredentialsPathError as exc:
        raise ConfigError(f"receiver: {exc}") from None
    path = Path(p).expanduser()
    return str(path if path.is_absolute() else (base / path).resolve())


def resolve_store_url(url: str, base: Path) -> str:
    if url.startswith("sqlite:///"):
        rest = url[len("sqlite:///"):]
        if rest != ":memory:" and not rest.startswith("/"):
            return "sqlite:///" + _resolve(base, rest)
    return url


def load_config(path: str | Path) -> ReceiverConfig:
    path = Path(path)
    cfg = load(ReceiverConfig, path, "receiver")
    base = path.resolve().parent
    if not (cfg.store.url.startswith("sqlite:///") or cfg.store.url.startswith(("postgresql://", "postgres://"))):
        raise ConfigError(f"{path}: receiver.store.url must start with sqlite:/// or postgresql://")
    for proxy in cfg.api.trusted_proxies:
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            raise ConfigError(f"{path}: receiver.api.trusted_proxies: not an address or network") from None
    if cfg.mqtt.reconnect_max_s < cfg.mqtt.reconnect_min_s:
        raise ConfigError(f"{path}: receiver.mqtt.reconnect_max_s is below reconnect_min_s")
    problem = mqtt_tls.check_keys(cfg.mqtt)
    if problem:
        raise ConfigError(f"{path}: receiver.mqtt: {problem}")
    m = cfg.mqtt
    mqtt = dataclasses.replace(m, **{k: _resolve(base, getattr(m, k)) for k in ("ca_file", "cert_file", "key_file")
                                     if getattr(m, k)})
    api = cfg.api
    if api.tokens_file:
        api = dataclasses.replace(api, tokens_file=_resolve(base, api.tokens_file))
    up = cfg.upstream
    if up.appsecret_file:
        up = dataclasses.replace(up, appsecret_file=_resolve(base, up.appsecret_file))
    problem = check_upstream(up)
    if problem:
        raise ConfigError(f"{path}: receiver.upstream: {problem}")
    cfg = dataclasses.replace(
        cfg, signing_key_file=_resolve(base, cfg.signing_key_file), api=api, mqtt=mqtt, upstream=up,
        store=dataclasses.replace(cfg.store, url=resolve_store_url(cfg.store.url, base)))
    return cfg
