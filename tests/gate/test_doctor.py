"""``edge-agent doctor``: the pass/fail table against a pty relay emulator and a private Mosquitto."""

from __future__ import annotations

import socket
import time

import pytest

from edge_agent import cli
from edge_agent.config import load_config
from edge_agent.doctor import check_clock, run_checks
from edge_agent.drivers.emulators.modbus_relay import ModbusRelayEmulator
from edge_agent.ledger import PunchLedger
from gate_helpers import punch
from shared_schema.envelope import generate_key, public_key_text, write_private_key


def write_config(tmp_path, broker_port, modbus_port, *, keys=True):
    (tmp_path / "keys").mkdir(exist_ok=True)
    if keys:
        write_private_key(tmp_path / "keys" / "gateway.key", generate_key())
        (tmp_path / "keys" / "receiver.pub").write_text(public_key_text(generate_key()) + "\n")
    path = tmp_path / "edge.toml"
    path.write_text(f"""
[edge]
gateway_id = "GW-T1"
project_code = "P-TEST"
gates = [{{ id = "G1", direction = "in", turnstile = "T1" }}, {{ id = "G2", direction = "out", turnstile = "T2" }}]
[edge.ledger]
path = "var/ledger.db"
disk_alarm_free_mb = 0
disk_alarm_free_percent = 0.0
[edge.mqtt]
port = {broker_port}
[[edge.turnstiles]]
id = "T1"
type = "modbus_rtu"
port = "{modbus_port}"
timeout_ms = 100
retries = 1
pulse_ms = 100
[[edge.turnstiles]]
id = "T2"
type = "simulated"
""")
    return load_config(path), path


def rows(checks):
    return {c.label: c for c in checks}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def emu(tmp_path):
    e = ModbusRelayEmulator(tmp_path / "ttyRS485", device_id=1)
    e.set_input(2, True)          # NC fault contact closed: healthy
    with e:
        yield e


def test_all_pass_with_emulator_and_broker(tmp_path, emu, mosquitto, capsys):
    cfg, path = write_config(tmp_path, mosquitto.port, emu.port)
    led = PunchLedger(cfg.ledger.path, "GW-T1", "P-TEST")
    led.append(**{k: v for k, v in vars(punch()).items()})
    led.close()
    code = cli.main(["--config", str(path), "doctor", "--broker-timeout", "5"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "FAIL" not in out and "all checks passed" in out
    r = rows(run_checks(cfg, broker_timeout=5))
    assert r["继电器应答 / relay responds T1 (modbus_rtu)"].status == "PASS"
    assert r["通行传感器 / passage sensors T1 (modbus_rtu)"].status == "PASS"
    assert r["故障触点 / fault contact T1 (modbus_rtu)"].status == "PASS"
    assert r["消息服务器 / MQTT broker"].detail.endswith("CONNACK accepted")
    assert "1 entries verified" in r["账本完整性 / ledger integrity"].detail
    assert r["摄像头 / camera (gate G1)"].status == "SKIP"    # no camera configured: not pretended
    assert any(req.crc_ok and req.raw[1] == 0x02 for req in emu.requests)   # it really read the inputs


def test_missing_port_broker_down_missing_keys_fail(tmp_path, capsys):
    cfg, path = write_config(tmp_path, free_port(), tmp_path / "ttyGONE", keys=False)
    code = cli.main(["--config", str(path), "doctor", "--broker-timeout", "1"])
    out = capsys.readouterr().out
    assert code == 1
    r = rows(run_checks(cfg, broker_timeout=1))
    assert r["串口 / serial port T1 (modbus_rtu)"].status == "FAIL"
    assert "missing" in r["串口 / serial port T1 (modbus_rtu)"].detail
    assert r["消息服务器 / MQTT broker"].status == "FAIL"
    assert r["网关签名密钥 / signing key"].status == "FAIL"
    assert r["闸机 / turnstile T2 (simulated)"].status == "PASS"
    assert "failed" in out


def test_silent_relay_and_fault_contact_fail(tmp_path, emu, mosquitto):
    cfg, _ = write_config(tmp_path, mosquitto.port, emu.port)
    emu.set_input(2, False)                                      # turnstile alarm
    r = rows(run_checks(cfg, broker_timeout=5))
    assert r["故障触点 / fault contact T1 (modbus_rtu)"].status == "FAIL"
    emu.set_input(2, True)
    emu.ignore = True                                            # a dead module on a live port
    r = rows(run_checks(cfg, broker_timeout=5))
    assert r["串口 / serial port T1 (modbus_rtu)"].status == "PASS"
    assert r["继电器应答 / relay responds T1 (modbus_rtu)"].status == "FAIL"


def test_broker_stopped_fails(tmp_path, emu, mosquitto):
    cfg, _ = write_config(tmp_path, mosquitto.port, emu.port)
    mosquitto.stop()
    assert rows(run_checks(cfg, broker_timeout=1))["消息服务器 / MQTT broker"].status == "FAIL"


def test_clock_before_last_entry_or_implausible_year_fails():
    now = time.time()
    assert check_clock(now - 60, now)[0].status == "PASS"
    assert check_clock(now + 3600, now)[0].status == "FAIL"      # clock went back
    assert check_clock(None, 0.0)[0].status == "FAIL"            # 1970: RTC battery


def test_camera_row_grabs_real_frames(shared_dir):
    """A configured camera is opened and measured by the doctor (here a real video file)."""
    from edge_agent.doctor import check_camera
    from edge_agent.drivers.camera.config import decode_camera

    video = shared_dir / "data" / "faces" / "videos" / "live_webcam_blink_turn_zubair.mov"
    (row,) = check_camera(decode_camera({"id": "C1", "type": "file", "path": str(video)}, "cam"))
    assert row.status == "PASS" and row.label == "摄像头 / camera C1" and "fps" in row.detail
    (row,) = check_camera(decode_camera({"id": "C2", "type": "file", "path": "/nonexistent.mp4"}, "cam"))
    assert row.status == "FAIL"

