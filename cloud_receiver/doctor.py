"""``cloud-receiver --config F doctor``: is this receiver fit to run? One pass/fail row per check.

Checks: the ack-signing key (readable, Ed25519); the store (reachable, schema at this software's
version, gateways registered / revoked / reporting a suspect clock); the SQLite store's disk; the API tokens; the MQTT broker
(TLS and client certificate as configured: a real MQTT 5 CONNECT answered by a CONNACK, with a
throw-away client id, never the service's); the clock (NTP: the receiver's ack times are the
gateways' clock reference); the national platform when the upload is on (the secret file, and a
signed call the platform answers: reachable, and the signature accepted). Exit 0 when nothing
failed, else 1.
"""

from __future__ import annotations

import json
import shutil
import threading
import uuid
from pathlib import Path

from shared_schema import envelope, mqtt_tls, timesync
from shared_schema.checks import Check, print_table
from shared_schema.checks import guard as _guard
from shared_schema.checks import row as _row
from shared_schema.typed_config import ConfigError

from .config import ReceiverConfig
from .store import open_store
from .store.migrations import latest

DISK_MIN_FREE_MB = 1024


def check_key(cfg: ReceiverConfig) -> list[Check]:
    label = "应答签名密钥 / ack-signing key"
    try:
        key = envelope.read_private_key(Path(cfg.signing_key_file))
    except FileNotFoundError:
        return [_row(False, label, f"{cfg.signing_key_file} missing (cloud-receiver keygen)")]
    except (OSError, ValueError) as exc:
        return [_row(False, label, f"{cfg.signing_key_file}: {exc}")]
    return [_row(True, label, f"{cfg.signing_key_file} (public {envelope.public_key_text(key)[:16]}…)")]


def check_store(cfg: ReceiverConfig) -> list[Check]:
    label = "数据库 / store"
    where = cfg.store.url.split("@")[-1]           # never print a password
    store = open_store(cfg.store.url)
    try:
        if not store.ping():
            return [_row(False, label, f"{where}: not reachable")]
        have, want = store.schema_version(), latest(store.dialect)
        rows = [_row(have == want, label, f"{where}: schema {have}" + ("" if have == want else
                                                                      f", this software needs {want} (run migrate)"))]
        if have == want:
            gws = store.list_gateways()
            revoked = sum(1 for g in gws if g.get("revoked_at") is not None)
            clocks = sorted(g["gateway_id"] for g in gws if _clock_suspect(g.get("devices_json")))
            rows.append(Check("PASS", "网关登记 / gateways", f"{len(gws)} registered, {revoked} revoked; "
                              + (f"suspect clock at {', '.join(clocks[:5])}" + (" …" if len(clocks) > 5 else "")
                                 if clocks else "no gateway reports a suspect clock")))
        return rows
    finally:
        store.close()


def _clock_suspect(devices_json: str | None) -> bool:
    """The gateway's last heartbeat listed its clock (device "_clock", edge_agent.clock) as degraded."""
    try:
        return any(d.get("id") == "_clock" and d.get("state") != "ok" for d in json.loads(devices_json or "[]"))
    except (ValueError, AttributeError, TypeError):
        return False


def check_disk(cfg: ReceiverConfig) -> list[Check]:
    label = "磁盘空间 / disk space"
    if not cfg.store.url.startswith("sqlite:///"):
        return [Check("SKIP", label, "PostgreSQL store: check the database server's disk")]
    folder = Path(cfg.store.url[len("sqlite:///"):]).parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    du = shutil.disk_usage(folder)
    free_mb = du.free // 2**20
    return [_row(free_mb >= DISK_MIN_FREE_MB, label, f"{folder}: {free_mb} MB free (alarm below {DISK_MIN_FREE_MB} MB)")]


def check_api(cfg: ReceiverConfig) -> list[Check]:
    label = "接口令牌 / API tokens"
    if not cfg.api.enabled:
        return [Check("SKIP", label, "API disabled")]
    try:
        tokens = cfg.api_tokens()
    except ConfigError as exc:
        return [_row(False, label, str(exc))]
    loopback = cfg.api.host in ("127.0.0.1", "::1", "localhost")
    where = f"{cfg.api.host}:{cfg.api.port}" + ("" if loopback else " (not loopback: TLS proxy in front?)")
    return [Check("PASS" if tokens else "SKIP", label,
                  f"{where}: {len(tokens)} token(s) in the config" if tokens
                  else f"{where}: none in the config (tokens in the store: `cloud-receiver token`)")]


def mqtt_connack(cfg: ReceiverConfig, timeout: float) -> str | None:
    """None when the broker accepted an MQTT 5 CONNECT, else what went wrong."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

    got: dict = {}
    done = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"rx-doctor-{uuid.uuid4().hex[:12]}",
                         protocol=MQTTProtocolVersion.MQTTv5)
    mqtt_tls.apply(client, cfg.mqtt)

    def on_connect(c, userdata, flags, reason_code, properties):
        got["rc"] = reason_code
        done.set()
    client.on_connect = on_connect
    try:
        client.connect(cfg.mqtt.host, cfg.mqtt.port, keepalive=10)
    except (OSError, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}"
    client.loop_start()
    try:
        if not done.wait(timeout):
            return f"no CONNACK within {timeout:.0f}s"
        rc = got["rc"]
        return None if not rc.is_failure else f"CONNACK refused ({rc})"
    finally:
        client.disconnect()
        client.loop_stop()


def check_broker(cfg: ReceiverConfig, timeout: float) -> list[Check]:
    where = f"{cfg.mqtt.host}:{cfg.mqtt.port}" + (" (TLS)" if cfg.mqtt.tls else "")
    problem = mqtt_connack(cfg, timeout)
    return [_row(problem is None, "消息服务器 / MQTT broker", f"{where}: {problem or 'CONNACK accepted'}")]


def check_ntp(status: str | None = None) -> list[Check]:
    status = status or timesync.ntp_status()
    label = "时间同步 / NTP"
    if status == "unknown":
        return [Check("SKIP", label, "no time daemon answered; gateways set their clock check by this "
                                     "server's ack times: keep it synchronised")]
    return [_row(status == "synchronized", label, status)]


def check_upstream(cfg: ReceiverConfig, timeout: float) -> list[Check]:
    """A signed ``AsyncHandleResult.Query`` for a serial the platform cannot know: its refusal
    proves the endpoint answers and takes this appid/appsecret's signature (a wrong secret or a
    clock far off is answered "bad signature" instead)."""
    from .upstream.config import UpstreamConfigError, read_appsecret
    from .upstream.national import NationalClient, NationalCredentials, UpstreamError
    label = "国家平台 / national platform"
    up = cfg.upstream
    if not up.enabled:
        return [Check("SKIP", label, "upload off ([receiver.upstream] enabled = false)")]
    try:
        creds = NationalCredentials(up.appid, read_appsecret(up.appsecret_file))
    except (UpstreamConfigError, ValueError) as exc:
        return [_row(False, label, str(exc))]
    client = NationalClient(up.endpoint, creds, timeout_s=min(timeout, up.timeout_s))
    try:
        client.result("doctor-probe-0")
    except UpstreamError as exc:
        if exc.reason != "rejected":
            return [_row(False, label, f"{up.endpoint}: {exc.reason}: {exc.detail}")]
    return [_row(True, label, f"{up.endpoint}: answers, signature accepted (appid {up.appid})")]


def run_checks(cfg: ReceiverConfig, *, broker_timeout: float = 3.0) -> list[Check]:
    checks = _guard("应答签名密钥 / ack-signing key", lambda: check_key(cfg))
    checks += _guard("数据库 / store", lambda: check_store(cfg))
    checks += _guard("磁盘空间 / disk space", lambda: check_disk(cfg))
    checks += _guard("接口令牌 / API tokens", lambda: check_api(cfg))
    checks += _guard("消息服务器 / MQTT broker", lambda: check_broker(cfg, broker_timeout))
    checks += _guard("时间同步 / NTP", check_ntp)
    checks += _guard("国家平台 / national platform", lambda: check_upstream(cfg, broker_timeout))
    return checks


def doctor(cfg: ReceiverConfig, *, broker_timeout: float = 3.0, out=None) -> int:
    return print_table(run_checks(cfg, broker_timeout=broker_timeout), out)
