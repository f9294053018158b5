"""[edge.webui] / [edge.idcard_reader] configuration, the `webui add-user` command, and the
service as the agent runs it: a real socket on a LAN address, only there."""

from __future__ import annotations

import io
import json
import sys
import urllib.error
import urllib.request

import pytest

from edge_agent.cli import main
from edge_agent.config import ConfigError, load_config
from edge_agent.webui.accounts import Accounts
from edge_agent.webui.config import WebUIConfig, parse_webui_listen
from edge_agent.webui.keys import REGISTRY

BASE = 'gateway_id = "GW-001"\nproject_code = "P-0001"\n'


def _config(tmp_path, extra: str = ""):
    path = tmp_path / "edge.toml"
    path.write_text("[edge]\n" + BASE + extra, encoding="utf-8")
    return path


@pytest.mark.parametrize("listen", ["192.168.10.2:8080", "10.0.0.5:80", "127.0.0.1:8080", "[fd00::5]:8443",
                                    "169.254.1.1:8080", "localhost:9000"])
def test_lan_addresses_are_accepted(listen):
    assert parse_webui_listen(listen)[1] > 0


@pytest.mark.parametrize("listen, why", [("0.0.0.0:8080", "every interface"), ("[::]:8080", "every interface"),
                                         ("8.8.8.8:80", "not a LAN"), ("example.com:80", "IP address"),
                                         ("192.168.1.1", "HOST:PORT"), ("192.168.1.1:99999", "HOST:PORT")])
def test_wildcard_public_and_junk_addresses_are_refused(listen, why):
    with pytest.raises(ValueError, match=why):
        WebUIConfig(listen=listen)


def test_wildcard_only_on_purpose():
    assert WebUIConfig(listen="0.0.0.0:8080", allow_any_address=True).listen


def test_config_keys_load_and_resolve(tmp_path):
    cfg = load_config(_config(tmp_path, '[edge.webui]\nlisten = "192.168.10.2:8080"\naccounts_db = "ui/a.db"\n'
                                        '[edge.idcard_reader]\nenabled = true\nport = "/dev/ttyUSB3"\nbaudrate = 9600\n'))
    assert cfg.webui.accounts_db == str(tmp_path / "ui" / "a.db")
    assert cfg.idcard_reader.enabled and cfg.idcard_reader.port == "/dev/ttyUSB3" and cfg.idcard_reader.baudrate == 9600
    for bad, key in (('[edge.webui]\nlisten = "0.0.0.0:80"\n', "every interface"),
                     ('[edge.webui]\nlistn = "x"\n', "listn"), ('[edge.idcard_reader]\nbaudrate = 1200\n', "baudrate"),
                     ('[edge.webui]\nlockout_threshold = 0\n', "lockout_threshold")):
        with pytest.raises(ConfigError, match=key):
            load_config(_config(tmp_path, bad))


def test_add_user_command(tmp_path, monkeypatch, capsys):
    cfg = _config(tmp_path, '[edge.webui]\naccounts_db = "webui.db"\n')
    monkeypatch.setattr(sys, "stdin", io.StringIO("a long password 1\n"))
    assert main(["--config", str(cfg), "webui", "add-user", "li.si", "--role", "enroller", "--password-stdin"]) == 0
    monkeypatch.setattr(sys, "stdin", io.StringIO("a long password 1\n"))
    assert main(["--config", str(cfg), "webui", "add-user", "li.si", "--role", "viewer", "--password-stdin"]) == 1
    assert "user exists" in capsys.readouterr().err
    monkeypatch.setattr(sys, "stdin", io.StringIO("short\n"))
    assert main(["--config", str(cfg), "webui", "add-user", "wang", "--role", "viewer", "--password-stdin"]) == 1
    acc = Accounts(tmp_path / "webui.db")
    assert acc.users() == [("li.si", "enroller")]
    assert acc.login("li.si", "a long password 1", "127.0.0.1").ok
    assert "a long password 1" not in (tmp_path / "webui.db").read_bytes().decode("latin-1")   # hashed
    acc.close()


def test_service_listens_on_its_address_only(tmp_path, registry):
    from edge_agent.webui.service import WebUIService
    cfg = load_config(_config(tmp_path, '[edge.webui]\nlisten = "127.0.0.1:0"\n'))
    svc = WebUIService(cfg, registry).start()
    try:
        port = svc.server.port
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
            assert json.load(r) == {"ok": True}
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=5) as r:
            assert "员工登录" in r.read().decode()
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/captures/x", timeout=5)
        assert e.value.code == 401
    finally:
        svc.stop()


def test_the_agent_runs_the_web_ui_on_its_registry(tmp_path):
    """EdgeAgent with [edge.webui] listen: the UI is up while the agent runs, serves the
    agent's own worker registry, and is down after stop()."""
    from edge_agent.agent import EdgeAgent
    from tests.edge.edge_helpers import Keys, config_text

    Keys(tmp_path / "keys")
    (tmp_path / "edge.toml").write_text(config_text(1) + '\n[edge.webui]\nlisten = "127.0.0.1:0"\n'
                                        'accounts_db = "var/webui.db"\n', encoding="utf-8")
    cfg = load_config(tmp_path / "edge.toml")
    acc = Accounts(cfg.webui.accounts_db)
    acc.add_user("officer", "enroller", "a long password 1")
    acc.close()
    agent = EdgeAgent(cfg).start()
    try:
        url = f"http://127.0.0.1:{agent.webui.server.port}"
        with urllib.request.urlopen(url + "/healthz", timeout=5) as r:
            assert json.load(r) == {"ok": True}
        assert agent.webui.app[REGISTRY] is agent.roster.registry
    finally:
        agent.stop()
    with pytest.raises(OSError):
        urllib.request.urlopen(url + "/healthz", timeout=2)


def _self_signed(tmp_path):
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gateway.site")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30)).sign(key, hashes.SHA256()))
    (tmp_path / "ui.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "ui.key").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                        serialization.NoEncryption()))


def test_tls_serves_https_with_secure_cookies(tmp_path, registry):
    import ssl

    from edge_agent.webui.service import WebUIService
    _self_signed(tmp_path)
    cfg = load_config(_config(tmp_path, '[edge.webui]\nlisten = "127.0.0.1:0"\ntls_cert_file = "ui.crt"\n'
                                        'tls_key_file = "ui.key"\n'))
    svc = WebUIService(cfg, registry).start()
    try:
        ctx = ssl.create_default_context()
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE     # self-signed for the test
        with urllib.request.urlopen(f"https://127.0.0.1:{svc.server.port}/login", timeout=5, context=ctx) as r:
            cookie = r.headers["Set-Cookie"]
        assert "rn_login_csrf=" in cookie and "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
        with pytest.raises((urllib.error.URLError, ConnectionError, OSError)):
            urllib.request.urlopen(f"http://127.0.0.1:{svc.server.port}/login", timeout=5)   # no plain http
    finally:
        svc.stop()
