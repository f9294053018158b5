"""The packages installed into a clean Debian 12 root (debootstrap minbase + the declared Depends,
no network during the install): the gateway's postinst, `check-config` and `doctor` against a real
TLS broker with the shipped city configuration, an upgrade that keeps unsynced punches, removal."""

from __future__ import annotations

import json
import re
import stat

from devtools.mosquitto import MosquittoBroker
from shared_schema.envelope import generate_key, public_key_text, read_private_key

from debfixtures import NEXT_VERSION, VERSION, base_tar, debian_root, debs, next_edge_deb  # noqa: F401  (fixtures)

EDGE_TOML = "/etc/realname-attendance/edge.toml"
KEYS = "/etc/realname-attendance/keys"


def edge(root, *args, check=True, env=None):
    return root.run("edge-agent", "--config", EDGE_TOML, *args, check=check, env=env)


def configure_site(root, broker_port: int, gateway_id: str = "GW-PKG-01", tls: bool = True) -> None:
    """What the technician does after installing: identity, broker address, the city's public key
    (``tls=False``: no onboarding kit yet, the gateway records offline)."""
    cfg = root.file(EDGE_TOML)
    text = cfg.read_text() if tls else cfg.read_text().replace("tls = true", "tls = false")
    text = text.replace('"GW-CHANGE-ME"', f'"{gateway_id}"').replace('"P-CHANGE-ME"', '"P-PKG-0001"')
    text = text.replace('host = "mqtt.city.example.invalid"', 'host = "127.0.0.1"')
    cfg.write_text(re.sub(r"(?m)^port = 8883$", f"port = {broker_port}", text))
    root.file(f"{KEYS}/receiver.pub").write_text(public_key_text(generate_key()) + "\n")


def test_gateway_package_installs_and_doctor_passes_against_the_city_broker(debian_root, debs, tmp_path):
    root = debian_root
    out = root.install(debs["edge"]).stdout
    # postinst: the user, the data folder, a new signing key (root-only) and its public half
    assert root.run("getent", "passwd", "rn-edge").stdout.split(":")[6].strip() == "/usr/sbin/nologin"
    data = root.file("/var/lib/realname-edge").stat()
    assert stat.S_IMODE(data.st_mode) == 0o750
    assert root.run("stat", "-c", "%U", "/var/lib/realname-edge").stdout.strip() == "rn-edge"
    key = root.file(f"{KEYS}/gateway.key")
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and key.stat().st_uid == 0
    pub = root.file(f"{KEYS}/gateway.pub").read_text().strip()
    assert pub == public_key_text(read_private_key(key)) and pub in out
    # the face-template key the unit loads as a credential (the unit cannot start without it)
    tkey = root.file(f"{KEYS}/template.key")
    assert stat.S_IMODE(tkey.stat().st_mode) == 0o600 and tkey.stat().st_uid == 0
    # the packaged config is valid as installed (the kit files are not there yet: warnings only)
    r = edge(root, "check-config")
    assert r.stdout.startswith("OK") and "gateway_id=GW-CHANGE-ME" in r.stdout
    # the city broker with the shipped TLS/ACL configuration, and this gateway's kit from the CA
    broker = MosquittoBroker(tmp_path / "mqtt", tls=True).start()
    try:
        kit = broker.issue_gateway("GW-PKG-01")
        for name in ("ca.crt", "mqtt-client.crt", "mqtt-client.key"):
            root.file(f"{KEYS}/{name}").write_bytes((kit / name).read_bytes())
        configure_site(root, broker.port)
        r = edge(root, "doctor", check=False)
    finally:
        broker.kill()
    assert r.returncode == 0, r.stdout + r.stderr
    assert "CONNACK accepted" in r.stdout and "(TLS)" in r.stdout
    assert "全部通过 / all checks passed" in r.stdout
    assert not re.search(r"(?m)^FAIL", r.stdout)

    # a config naming ${CREDENTIALS_DIRECTORY} without a fallback, run from a shell: a clear error
    cfg = root.file(EDGE_TOML)
    cfg.write_text(cfg.read_text().replace("${CREDENTIALS_DIRECTORY:-/etc/realname-attendance/keys}/gateway.key",
                                           "${CREDENTIALS_DIRECTORY}/gateway.key"))
    r = edge(root, "doctor", "--broker-timeout", "0.2", check=False)
    assert r.returncode == 1 and "CREDENTIALS_DIRECTORY is not set" in r.stderr and "LoadCredential" in r.stderr
    # inside the service systemd sets it (LoadCredential=): the key is read from there
    root.run("mkdir", "-p", "/run/credentials/edge-agent.service")
    root.run("cp", f"{KEYS}/gateway.key", "/run/credentials/edge-agent.service/gateway.key")
    r = edge(root, "check-config", env={"CREDENTIALS_DIRECTORY": "/run/credentials/edge-agent.service"})
    assert "keys/gateway.key" not in r.stdout and "warning: signing_key_file" not in r.stdout

    # the wheels' native libraries load on this bare Debian: nothing the venv needs is missing
    modules = ["cv2", "onnxruntime", "mediapipe", "numpy", "serial", "pymodbus", "edge_agent.vision",
               "edge_agent.agent"]
    r = root.run("/opt/realname-edge/bin/python", "-c", f"import {', '.join(modules)}; print('imported')")
    assert r.stdout.strip() == "imported"


def test_upgrade_keeps_unsynced_punches_key_and_config_and_purge_keeps_the_ledger(debian_root, debs, next_edge_deb):
    root = debian_root
    root.install(debs["edge"])
    configure_site(root, broker_port=1, tls=False)          # the city is unreachable: every punch stays unsynced
    r = edge(root, "simulate", "--punches", "7", "--rate", "0", "--drain-timeout", "0.5", check=False)
    assert r.returncode == 3, r.stdout + r.stderr   # drain timeout with a backlog left
    before = json.loads(edge(root, "status").stdout)
    assert before["head_seq"] == 7 and before["backlog"] == 7
    key_before = root.file(f"{KEYS}/gateway.key").read_bytes()
    template_key_before = root.file(f"{KEYS}/template.key").read_bytes()
    config_before = root.file(EDGE_TOML).read_text()

    root.install(next_edge_deb)

    assert root.run("dpkg-query", "-W", "-f", "${Version}", "realname-edge").stdout == NEXT_VERSION != VERSION
    after = json.loads(edge(root, "status").stdout)
    assert (after["head_seq"], after["backlog"], after["acked_through_seq"]) == (7, 7, 0)
    assert root.file(f"{KEYS}/gateway.key").read_bytes() == key_before
    assert root.file(f"{KEYS}/template.key").read_bytes() == template_key_before
    assert root.file(EDGE_TOML).read_text() == config_before
    r = edge(root, "doctor", "--broker-timeout", "0.5", check=False)
    assert re.search(r"(?m)^PASS\s+账本完整性 / ledger integrity\s+7 entries verified", r.stdout), r.stdout

    # purge: the package's files and its conffile go; the ledger and the keys stay
    root.run("dpkg", "--purge", "realname-edge")
    assert not root.file("/opt/realname-edge").exists() and not root.file("/usr/bin/edge-agent").exists()
    assert not root.file(EDGE_TOML).exists()
    assert root.file("/var/lib/realname-edge/edge-ledger.db").exists()
    assert root.file(f"{KEYS}/gateway.key").read_bytes() == key_before
    # reinstalling finds the same key and the same ledger
    root.install(debs["edge"])
    assert root.file(f"{KEYS}/gateway.key").read_bytes() == key_before
    configure_site(root, broker_port=1, tls=False)
    assert json.loads(edge(root, "status").stdout)["backlog"] == 7


def test_receiver_package_installs_migrates_and_checks(debian_root, debs):
    root = debian_root
    out = root.install(debs["receiver"]).stdout
    key = root.file(f"{KEYS}/receiver.key")
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert root.file(f"{KEYS}/receiver.pub").read_text().strip() in out
    assert root.run("getent", "passwd", "rn-receiver").returncode == 0
    rx = ("cloud-receiver", "--config", "/etc/realname-attendance/receiver.toml")
    root.run(*rx, "check-config")
    r = root.run(*rx, "migrate")
    assert "schema version" in r.stdout
    assert root.file("/var/lib/realname-receiver/receiver.db").exists()
    # doctor: key and store pass; no broker and no TLS kit on this bare root: named, exit 1
    r = root.run(*rx, "doctor", "--broker-timeout", "0.5", check=False)
    assert r.returncode == 1, r.stdout + r.stderr
    assert re.search(r"(?m)^PASS\s+应答签名密钥 / ack-signing key", r.stdout)
    assert re.search(r"(?m)^PASS\s+数据库 / store", r.stdout)
    assert re.search(r"(?m)^FAIL\s+消息服务器 / MQTT broker", r.stdout)
    # the receiver's venv really lacks the gateway's vision stack
    r = root.run("/opt/realname-receiver/bin/python", "-c", "import cv2", check=False)
    assert r.returncode != 0 and "No module named 'cv2'" in r.stderr
