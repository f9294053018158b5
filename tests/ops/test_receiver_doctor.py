"""``cloud-receiver doctor``: a pass/fail table against a real store and a real broker (plaintext and
the shipped TLS configuration with the receiver's client certificate)."""

from __future__ import annotations

import re

from cloud_receiver import doctor as rx_doctor
from cloud_receiver.cli import main as receiver_cli
from cloud_receiver.config import load_config
from cloud_receiver.store import open_store
from devtools import free_port
from devtools.mosquitto import MosquittoBroker
from shared_schema import envelope

TOKEN = "t" * 24


def _config(tmp_path, port: int, *, tls_dir=None, migrate=True, key=True):
    url = f"sqlite:///{tmp_path / 'rx.db'}"
    if migrate:
        open_store(url, migrate=True).close()
    if key:
        envelope.write_private_key(tmp_path / "city.key", envelope.generate_key())
    tls = ""
    if tls_dir is not None:
        tls = (f'tls = true\nca_file = "{tls_dir}/ca.crt"\ncert_file = "{tls_dir}/mqtt-client.crt"\n'
               f'key_file = "{tls_dir}/mqtt-client.key"\ntls_server_name = "localhost"\n')
    p = tmp_path / "rx.toml"
    p.write_text(f'[receiver]\nreceiver_id = "rx-1"\nsigning_key_file = "city.key"\n'
                 f'[receiver.store]\nurl = "{url}"\n[receiver.mqtt]\nhost = "127.0.0.1"\nport = {port}\n{tls}'
                 f'[receiver.api]\ntokens = ["{TOKEN}"]\n')
    return p


def _status(checks, label_part):
    return [c.status for c in checks if label_part in c.label]


def test_healthy_receiver_passes(tmp_path, mosquitto, monkeypatch):
    cfg = load_config(_config(tmp_path, mosquitto.port))
    checks = rx_doctor.run_checks(cfg, broker_timeout=5)
    assert _status(checks, "ack-signing key") == ["PASS"]
    assert _status(checks, "store") == ["PASS"] and _status(checks, "gateways") == ["PASS"]
    assert _status(checks, "disk") == ["PASS"] and _status(checks, "API tokens") == ["PASS"]
    assert _status(checks, "MQTT broker") == ["PASS"]
    monkeypatch.setattr(rx_doctor.timesync, "ntp_status", lambda: "synchronized")   # the host's daemon is not ours
    assert receiver_cli(["--config", str(tmp_path / "rx.toml"), "doctor"]) == 0


def test_tls_broker_with_the_receivers_certificate(tmp_path):
    broker = MosquittoBroker(tmp_path / "mqtt", tls=True).start()
    try:
        kit = broker.issue_receiver("rx-1")
        cfg = load_config(_config(tmp_path, broker.port, tls_dir=kit))
        rows = [c for c in rx_doctor.run_checks(cfg, broker_timeout=5) if "MQTT" in c.label]
        assert rows[0].status == "PASS" and "(TLS)" in rows[0].detail, rows
    finally:
        broker.kill()


def test_failures_are_named(tmp_path, capsys):
    cfg_path = _config(tmp_path, free_port(), migrate=False, key=False)
    code = receiver_cli(["--config", str(cfg_path), "doctor", "--broker-timeout", "1"])
    out = capsys.readouterr().out
    assert code == 1
    assert re.search(r"(?m)^FAIL\s+应答签名密钥 / ack-signing key\s+.*missing \(cloud-receiver keygen\)", out)
    assert re.search(r"(?m)^FAIL\s+数据库 / store\s+.*run migrate", out)
    assert re.search(r"(?m)^FAIL\s+消息服务器 / MQTT broker\s+127\.0\.0\.1:\d+: ", out)
    assert re.search(r"\d 项失败 / \d failed$", out.strip())
    assert "password" not in out


def test_short_config_token_is_reported(tmp_path, mosquitto):
    p = _config(tmp_path, mosquitto.port)
    p.write_text(p.read_text().replace(TOKEN, "short"))
    rows = rx_doctor.check_api(load_config(p))
    assert rows[0].status == "FAIL" and "at least" in rows[0].detail
