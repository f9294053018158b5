"""`cloud-receiver ca` and the MQTT TLS config keys, without a broker."""

from __future__ import annotations

import stat

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from cloud_receiver.ca import RECEIVER_CN, CertificateAuthority
from cloud_receiver.cli import main as receiver_cli
from cloud_receiver.config import load_config as load_receiver_config
from cloud_receiver.store import open_store
from devtools.mosquitto import SHIPPED, render_city_conf
from edge_agent.config import load_config as load_edge_config
from shared_schema.typed_config import ConfigError


def mode(p) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_ca_keys_are_private_and_never_overwritten(tmp_path, capsys):
    ca_dir = tmp_path / "ca"
    assert receiver_cli(["ca", "init", "--dir", str(ca_dir)]) == 0
    assert mode(ca_dir / "ca.key") == 0o600 and mode(ca_dir) == 0o700
    key_before = (ca_dir / "ca.key").read_bytes()
    assert receiver_cli(["ca", "init", "--dir", str(ca_dir)]) == 1
    assert (ca_dir / "ca.key").read_bytes() == key_before
    out = tmp_path / "gw"
    assert receiver_cli(["ca", "issue-gateway", "--ca-dir", str(ca_dir), "--gateway-id", "GW-9", "--out", str(out)]) == 0
    assert mode(out / "mqtt-client.key") == 0o600
    key_before = (out / "mqtt-client.key").read_bytes()
    assert receiver_cli(["ca", "issue-gateway", "--ca-dir", str(ca_dir), "--gateway-id", "GW-9", "--out", str(out)]) == 1
    assert (out / "mqtt-client.key").read_bytes() == key_before
    printed = capsys.readouterr()
    assert "PRIVATE KEY" not in printed.out + printed.err
    assert receiver_cli(["ca", "issue-gateway", "--ca-dir", str(ca_dir), "--gateway-id", "GW/+#", "--out",
                         str(tmp_path / "bad")]) == 1


def test_certificates_carry_the_acl_identity(tmp_path):
    ca = CertificateAuthority.init(tmp_path / "ca")
    gw = ca.issue_gateway("GW-0001", tmp_path / "gw")
    rx = ca.issue_receiver("rx-city-1", tmp_path / "rx")
    br = ca.issue_broker(["mqtt.city.example.cn", "10.0.0.5"], tmp_path / "broker")
    for issued, cn, eku in ((gw, "GW-0001", ExtendedKeyUsageOID.CLIENT_AUTH),
                            (rx, RECEIVER_CN, ExtendedKeyUsageOID.CLIENT_AUTH),
                            (br, "mqtt.city.example.cn", ExtendedKeyUsageOID.SERVER_AUTH)):
        cert = x509.load_pem_x509_certificate(issued.cert_path.read_bytes())
        assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == cn
        assert list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [eku]
        cert.verify_directly_issued_by(ca.cert)
    san = x509.load_pem_x509_certificate(br.cert_path.read_bytes()).extensions.get_extension_for_class(
        x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["mqtt.city.example.cn"]
    assert [str(a) for a in san.get_values_for_type(x509.IPAddress)] == ["10.0.0.5"]
    assert ":" in RECEIVER_CN   # never a valid gateway id, so no gateway certificate has the receiver role


def test_revoke_rewrites_the_crl(tmp_path):
    ca = CertificateAuthority.init(tmp_path / "ca")
    a = ca.issue_gateway("GW-1", tmp_path / "a")
    ca.issue_gateway("GW-2", tmp_path / "b")
    assert ca.revoke(kind="gateway", ident="GW-1") == [a.serial]
    assert ca.revoke(kind="gateway", ident="GW-1") == []
    crl = x509.load_pem_x509_crl((ca.dir / "crl.pem").read_bytes())
    assert crl.is_signature_valid(ca.key.public_key())
    assert [format(r.serial_number, "x") for r in crl] == [a.serial]
    assert [c["id"] for c in ca.certificates() if c["revoked_at"]] == ["GW-1"]


def test_issue_gateway_register_writes_the_kit_and_registers_the_key(tmp_path, capsys):
    cfg = tmp_path / "receiver.toml"
    cfg.write_text('[receiver]\nreceiver_id = "rx-1"\nsigning_key_file = "city.key"\n'
                   '[receiver.store]\nurl = "sqlite:///r.db"\n[receiver.mqtt]\nhost = "mqtt.city.example.cn"\n'
                   'port = 8883\n')
    assert receiver_cli(["--config", str(cfg), "keygen"]) == 0
    assert receiver_cli(["ca", "init", "--dir", str(tmp_path / "ca")]) == 0
    args = ["--config", str(cfg), "ca", "issue-gateway", "--register", "--ca-dir", str(tmp_path / "ca"),
            "--gateway-id", "GW-77", "--project-code", "P-7", "--vendor", "ACME", "--site", "北门"]
    assert receiver_cli(args + ["--out", str(tmp_path / "kit")]) == 0
    kit = tmp_path / "kit"
    assert {p.name for p in kit.iterdir()} == {"ca.crt", "mqtt-client.crt", "mqtt-client.key", "gateway.key",
                                               "receiver.pub", "edge.toml"}
    assert mode(kit / "gateway.key") == 0o600 and mode(kit / "mqtt-client.key") == 0o600
    edge = load_edge_config(kit / "edge.toml")
    assert (edge.gateway_id, edge.project_code, edge.mqtt.host, edge.mqtt.port, edge.mqtt.tls) == \
        ("GW-77", "P-7", "mqtt.city.example.cn", 8883, True)
    from shared_schema import envelope
    store = open_store(f"sqlite:///{tmp_path / 'r.db'}")
    try:
        assert store.get_gateway("GW-77")["public_key"] == envelope.public_key_text(
            envelope.read_private_key(kit / "gateway.key"))
    finally:
        store.close()
    # registered already: a second kit for the same gateway needs --replace
    assert receiver_cli(args + ["--out", str(tmp_path / "kit2")]) == 1
    assert not (tmp_path / "kit2" / "gateway.key").exists()
    assert "PRIVATE KEY" not in "".join(capsys.readouterr())


def test_tls_keys_resolve_against_the_config_file_and_need_a_ca(tmp_path):
    (tmp_path / "e.toml").write_text('[edge]\ngateway_id = "GW-1"\nproject_code = "P-1"\n'
                                     '[edge.mqtt]\ntls = true\nca_file = "k/ca.crt"\ncert_file = "k/c.crt"\n'
                                     'key_file = "k/c.key"\n')
    m = load_edge_config(tmp_path / "e.toml").mqtt
    assert (m.ca_file, m.cert_file, m.key_file) == tuple(str(tmp_path / "k" / n) for n in ("ca.crt", "c.crt", "c.key"))
    (tmp_path / "e2.toml").write_text('[edge]\ngateway_id = "GW-1"\nproject_code = "P-1"\n[edge.mqtt]\ntls = true\n')
    with pytest.raises(ConfigError, match="ca_file"):
        load_edge_config(tmp_path / "e2.toml")
    (tmp_path / "r.toml").write_text('[receiver]\nreceiver_id = "rx"\nsigning_key_file = "k"\n'
                                     '[receiver.mqtt]\ntls = true\nca_file = "ca.crt"\ncert_file = "c.crt"\n')
    with pytest.raises(ConfigError, match="cert_file and key_file"):
        load_receiver_config(tmp_path / "r.toml")
    (tmp_path / "r2.toml").write_text('[receiver]\nreceiver_id = "rx"\nsigning_key_file = "k"\n'
                                      '[receiver.mqtt]\ntls = true\nca_file = "ca.crt"\n')
    assert load_receiver_config(tmp_path / "r2.toml").mqtt.ca_file == str(tmp_path / "ca.crt")


def test_the_test_broker_runs_the_shipped_config_unchanged_but_for_paths_and_port(tmp_path):
    shipped = (SHIPPED / "mosquitto.conf").read_text()
    files = {k: tmp_path / k for k in ("cafile", "certfile", "keyfile", "crlfile", "acl_file")}
    rendered = render_city_conf(shipped, port=1234, files=files, data_dir=tmp_path, log_path=tmp_path / "log")
    swapped = {"listener", "pid_file", "persistence_location", "log_dest", "user", *files}

    def directives(text):
        return [x for x in text.splitlines() if x and not x.startswith("#") and x.split()[0] not in swapped]
    assert directives(rendered) == directives(shipped)
    for must in ("require_certificate true", "use_identity_as_username true", "allow_anonymous false",
                 "set_tcp_nodelay true", "persistence true", "tls_version tlsv1.2"):
        assert must in directives(shipped)
    assert "listener 1234 127.0.0.1" in rendered and [x for x in shipped.splitlines() if x.startswith("listener")] \
        == ["listener 8883"]
    assert int(next(x for x in shipped.splitlines() if x.startswith("max_queued_messages")).split()[1]) > 1000
