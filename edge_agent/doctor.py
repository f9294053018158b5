"""``edge-agent --config F doctor``: is this gateway fit to run? One pass/fail row per check.

Checks: keys present and readable; the ledger's integrity (read-only: schema version,
SQLite quick_check, hash chain); the clock (a sane year, not before the ledger's last
entry); free disk against the ledger's alarm thresholds; the broker (TCP connect and an
MQTT CONNACK, short timeout); every configured turnstile (serial port present and
openable, the relay module answering a read of its inputs, the sensors readable and the
fault contact quiet; simulated: ok). The camera is the vision issue's: reported as
"not configured", never pretended.

Run it with the agent stopped: a serial port held by the running agent is busy, and
connecting a relay driver drives its outputs to the safe OFF state.
"""

from __future__ import annotations

import os
import socket
import struct
import threading
import time
import uuid
from pathlib import Path

from shared_schema.checks import Check, print_table
from shared_schema.checks import guard as _guard
from shared_schema.checks import row as _row
from shared_schema.envelope import read_private_key, read_public_key

from .config import EdgeConfig
from .disk import DiskMonitor
from .drivers import TurnstileError, open_turnstile
from .ledger import PunchLedger, _connect, read_status

MIN_YEAR, MAX_YEAR = 2024, 2099
OSDP_WAIT_S = 8.0      # an OSDP PD's first secure session takes a second or two


# ---- keys -------------------------------------------------------------------------
def check_keys(cfg: EdgeConfig) -> list[Check]:
    out = []
    for label, path, reader in (("网关签名密钥 / signing key", cfg.signing_key_file, read_private_key),
                                ("接收端公钥 / receiver public key", cfg.receiver_public_key_file,
                                 read_public_key)):
        try:
            reader(Path(path))
            out.append(_row(True, label, path))
        except FileNotFoundError:
            out.append(_row(False, label, f"{path} missing"))
        except (OSError, ValueError) as exc:
            out.append(_row(False, label, f"{path}: {exc}"))
    return out


# ---- ledger and clock ------------------------------------------------------------------
def _ledger_facts(cfg: EdgeConfig) -> tuple[list[Check], float | None]:
    label = "账本完整性 / ledger integrity"
    path = Path(cfg.ledger.path)
    if not path.exists():
        return [_row(True, label, f"{path}: not created yet (new gateway)")], None
    status = read_status(path)                    # raises on a schema it does not know
    conn = _connect(path, readonly=True)
    try:
        quick = conn.execute("PRAGMA quick_check").fetchone()[0]
        # PunchLedger.verify's exact rules, on a read-only connection (no migration, no writes)
        shell = PunchLedger.__new__(PunchLedger)
        shell._conn, shell._lock, shell.gateway_id = conn, threading.RLock(), cfg.gateway_id
        res = PunchLedger.verify(shell)
        last = conn.execute("SELECT MAX(committed_at) FROM entries").fetchone()[0]
    finally:
        conn.close()
    if quick != "ok":
        return [_row(False, label, f"SQLite quick_check: {quick}")], last
    if not res.ok:
        return [_row(False, label, f"chain broken at seq {res.bad_seq}: {res.problem}")], last
    return [_row(True, label, f"{res.checked} entries verified, head seq {status['head_seq']}, "
                              f"backlog {status['backlog']}")], last


def check_clock(last_entry_time: float | None, now: float | None = None) -> list[Check]:
    label = "系统时钟 / clock"
    now = time.time() if now is None else now
    shown = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(now))
    year = time.gmtime(now).tm_year
    if not MIN_YEAR <= year <= MAX_YEAR:
        return [_row(False, label, f"{shown}: year {year} is not plausible (NTP / RTC battery?)")]
    if last_entry_time is not None and now < last_entry_time:
        last = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(last_entry_time))
        return [_row(False, label, f"{shown} is before the ledger's last entry ({last}): clock went back")]
    return [_row(True, label, shown)]


def check_ntp(status: str | None = None) -> list[Check]:
    """NTP as the time daemon reports it (edge_agent.clock.ntp_status); SKIP when none answers. The
    running agent also checks its clock against the city's time in every ack (heartbeat "_clock")."""
    from .clock import ntp_status
    status = status or ntp_status()
    label = "时间同步 / NTP"
    if status == "unknown":
        return [Check("SKIP", label, "no time daemon answered (timesyncd / timedatectl / chronyc)")]
    return [_row(status == "synchronized", label, status)]


def check_disk(cfg: EdgeConfig) -> list[Check]:
    folder = Path(cfg.ledger.path).parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    st = DiskMonitor(folder, cfg.ledger.disk_alarm_free_mb, cfg.ledger.disk_alarm_free_percent).check()
    pct = 100.0 * st.free_bytes / st.total_bytes if st.total_bytes else 0.0
    return [_row(not st.alarm, "磁盘空间 / disk space",
                 f"{folder}: {st.free_bytes // 2**20} MB free ({pct:.1f}%), alarm below "
                 f"{cfg.ledger.disk_alarm_free_mb} MB / {cfg.ledger.disk_alarm_free_percent}%")]


# ---- broker ---------------------------------------------------------------------------
CONNACK_CODES = {1: "unacceptable protocol version", 2: "client id rejected", 3: "server unavailable",
                 4: "bad user name or password", 5: "not authorised"}


def mqtt_connack(host: str, port: int, timeout: float, tls_context=None) -> int:
    """Open TCP (TLS with ``tls_context``: the agent's CA, client certificate, name check), send an
    MQTT 3.1.1 CONNECT (clean session, a throw-away client id, never the agent's), return the
    CONNACK return code (0 = accepted). Raises OSError / ValueError."""
    client_id = f"doctor-{uuid.uuid4().hex[:12]}".encode()
    var = b"\x00\x04MQTT\x04\x02" + struct.pack(">H", 10)
    payload = struct.pack(">H", len(client_id)) + client_id
    body = var + payload
    with socket.create_connection((host, port), timeout=timeout) as raw:
        s = tls_context.wrap_socket(raw, server_hostname=host) if tls_context is not None else raw
        s.settimeout(timeout)
        s.sendall(bytes((0x10, len(body))) + body)
        reply = b""
        while len(reply) < 4:
            chunk = s.recv(4 - len(reply))
            if not chunk:
                raise ValueError("connection closed before CONNACK")
            reply += chunk
        if reply[0] != 0x20 or reply[1] != 2:
            raise ValueError(f"not an MQTT CONNACK: {reply.hex(' ')}")
        try:
            s.sendall(b"\xe0\x00")                  # DISCONNECT
        except OSError:
            pass
        return reply[3]


def check_broker(cfg: EdgeConfig, timeout: float) -> list[Check]:
    label = "消息服务器 / MQTT broker"
    where = f"{cfg.mqtt.host}:{cfg.mqtt.port}" + (" (TLS)" if cfg.mqtt.tls else "")
    try:
        ctx = None
        if cfg.mqtt.tls:
            from shared_schema.mqtt_tls import client_context
            ctx = client_context(cfg.mqtt.ca_file, cfg.mqtt.cert_file, cfg.mqtt.key_file, cfg.mqtt.tls_server_name)
        code = mqtt_connack(cfg.mqtt.host, cfg.mqtt.port, timeout, ctx)
    except (OSError, ValueError) as exc:
        return [_row(False, label, f"{where}: {exc or type(exc).__name__}")]
    if code != 0:
        return [_row(False, label, f"{where}: CONNACK refused ({CONNACK_CODES.get(code, code)})")]
    return [_row(True, label, f"{where}: CONNACK accepted")]


# ---- devices ---------------------------------------------------------------------------
def check_turnstile(tcfg) -> list[Check]:
    name = f"{tcfg.id} ({tcfg.type})"
    if tcfg.type == "simulated":
        return [_row(True, f"闸机 / turnstile {name}", "simulated: ok")]
    out = []
    port = tcfg.port
    label = f"串口 / serial port {name}"
    if not os.path.exists(port):
        return [_row(False, label, f"{port} missing (adapter unplugged? wrong /dev/serial/by-id name?)")]
    try:
        fd = os.open(port, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        os.close(fd)
    except OSError as exc:
        return [_row(False, label, f"{port} cannot be opened: {exc.strerror} (permission: dialout group?)")]
    out.append(_row(True, label, f"{port} present and openable"))
    t = open_turnstile(tcfg)
    try:
        if tcfg.type == "usb_relay":
            h = t.health()
            out.append(_row(h.state == "ok", f"继电器 / relay {name}",
                            f"{h.detail}; open-loop board: the relay state cannot be read back"))
            return out
        if tcfg.type == "osdp":     # libosdp connects in its own thread: give the secure channel time
            deadline = time.monotonic() + OSDP_WAIT_S
            while t.health().state != "ok" and time.monotonic() < deadline:
                time.sleep(0.1)
            h = t.health()
            out.append(_row(h.state == "ok", f"OSDP 安全通道 / secure channel {name}", h.detail))
            return out
        try:
            inputs = t.read_inputs()
        except TurnstileError as exc:
            out.append(_row(False, f"继电器应答 / relay responds {name}", str(exc)))
            return out
        out.append(_row(True, f"继电器应答 / relay responds {name}",
                        f"device {tcfg.device_id} answered a read of its inputs"))
        out.append(_row(True, f"通行传感器 / passage sensors {name}",
                        f"in={'active' if inputs.passage_in else 'idle'} "
                        f"out={'active' if inputs.passage_out else 'idle'}"))
        if inputs.fault is None:
            out.append(Check("SKIP", f"故障触点 / fault contact {name}", "not wired (fault_contact = none)"))
        else:
            out.append(_row(not inputs.fault, f"故障触点 / fault contact {name}",
                            "turnstile reports a FAULT" if inputs.fault else "no fault"))
        return out
    finally:
        t.close()


def check_devices(cfg: EdgeConfig) -> list[Check]:
    out = []
    used = {g.turnstile: g.id for g in cfg.gates if g.turnstile}
    for g in cfg.gates:
        if g.turnstile is None:
            out.append(Check("SKIP", f"闸机 / gate {g.id}", "no turnstile configured: records only"))
    for t in cfg.turnstiles:
        if t.id not in used:
            out.append(Check("SKIP", f"闸机 / turnstile {t.id}", "not used by any gate"))
        out += _guard(f"闸机 / turnstile {t.id}", lambda t=t: check_turnstile(t))
    for g in cfg.gates:
        if g.camera is None:
            out.append(Check("SKIP", f"摄像头 / camera (gate {g.id})", "no camera configured"))
    for c in cfg.cameras:
        out += _guard(f"摄像头 / camera {c.id}", lambda c=c: check_camera(c))
    return out


def check_idcard_reader(cfg: EdgeConfig) -> list[Check]:
    """The enrollment UI's ID card reader: port opens, the SAM self-check passes, its module
    number reads (no card needed; nothing personal is read)."""
    label = f"身份证阅读器 / ID card reader {cfg.idcard_reader.id}"
    if not cfg.idcard_reader.enabled:
        return [Check("SKIP", label, "not enabled ([edge.idcard_reader] enabled = false)")]
    from .drivers.idcard_reader import IdCardReader, IdCardReaderError

    with IdCardReader(cfg.idcard_reader) as reader:
        h = reader.health()
        if h.state != "ok":
            return [_row(False, label, f"{h.state}: {h.detail}")]
        try:
            sam = reader.sam_id()
        except IdCardReaderError as exc:
            return [_row(False, label, f"SAM id: {exc}")]
        return [_row(True, label, f"{h.detail}; SAM module {sam.hex()[:24]}")]


def check_camera(c) -> list[Check]:
    """Open the camera, grab a frame, measure the frame rate (edge_agent.drivers.camera)."""
    from .drivers.camera import doctor_check

    ok, detail = doctor_check(c)
    return [_row(ok, f"摄像头 / camera {c.id}", detail)]


def run_checks(cfg: EdgeConfig, *, broker_timeout: float = 3.0) -> list[Check]:
    checks = _guard("密钥 / keys", lambda: check_keys(cfg))
    last: list[float | None] = [None]

    def ledger() -> list[Check]:
        rows, last[0] = _ledger_facts(cfg)
        return rows
    checks += _guard("账本完整性 / ledger integrity", ledger)
    checks += _guard("系统时钟 / clock", lambda: check_clock(last[0]))
    checks += _guard("时间同步 / NTP", check_ntp)
    checks += _guard("磁盘空间 / disk space", lambda: check_disk(cfg))
    checks += _guard("消息服务器 / MQTT broker", lambda: check_broker(cfg, broker_timeout))
    checks += check_devices(cfg)
    checks += _guard("身份证阅读器 / ID card reader", lambda: check_idcard_reader(cfg))
    return checks


def doctor(cfg: EdgeConfig, *, broker_timeout: float = 3.0, out=None) -> int:
    """Print the table; 0 if nothing failed, else 1."""
    return print_table(run_checks(cfg, broker_timeout=broker_timeout), out)
