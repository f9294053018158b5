"""The shipped city-broker configuration (packaging/mosquitto) against a real Mosquitto 2.0:
TLS only, a certificate per client, topic ACLs by certificate CN, revocation by CRL."""

from __future__ import annotations

import time

import pytest

from cloud_receiver.ca import CertificateAuthority
from cloud_receiver.cli import main as receiver_cli
from edge_agent.doctor import mqtt_connack

from .mqtt_clients import Client, wait_for

UPLINK = ("punches", "heartbeat", "status", "roster")


def t(gid: str, channel: str) -> str:
    return f"rn/v1/gw/{gid}/{channel}"


@pytest.fixture
def clients():
    made = []

    def make(*a, **kw) -> Client:
        c = Client(*a, **kw)
        made.append(c)
        return c
    yield make
    for c in made:
        c.close()


def test_a_gateway_cannot_publish_as_another_gateway(city_broker, clients):
    port, certs = city_broker.port, city_broker.certs
    rx = clients(port, certs["rx"], client_id="rx-watch-1")
    gw_a = clients(port, certs["GW-A"], client_id="gw-GW-A-1")
    gw_b = clients(port, certs["GW-B"], client_id="gw-GW-B-1")
    assert rx.connected() and gw_a.connected() and gw_b.connected()
    rx.subscribe(*(t("+", ch) for ch in UPLINK))
    gw_b.subscribe(t("GW-B", "ack"), t("GW-B", "roster"))
    for ch in UPLINK + ("ack",):                       # A forges B's uplink and B's acks
        gw_a.publish(t("GW-B", ch), b"forged by GW-A")
    gw_a.publish(t("GW-A", "ack"), b"A acks itself")   # nor may a gateway write its own ack topic
    gw_a.publish(t("GW-A", "punches"), b"sentinel")    # same connection, so it arrives after the forgeries
    rx.publish(t("GW-B", "ack"), b"real ack for B")
    wait_for(lambda: rx.got(t("GW-A", "punches")), what="A's own publish at the receiver")
    wait_for(lambda: gw_b.got(t("GW-B", "ack")), what="the receiver's ack at B")
    time.sleep(0.2)
    assert [p for _, p in rx.messages] == [b"sentinel"]
    assert gw_b.got(t("GW-B", "ack")) == [b"real ack for B"] and gw_b.got(t("GW-B", "roster")) == []
    gw_b.publish(t("GW-B", "punches"), b"B itself")    # B's own topic works
    wait_for(lambda: rx.got(t("GW-B", "punches")) == [b"B itself"], what="B's own publish")


def test_a_gateway_cannot_read_another_gateways_topics(city_broker, clients):
    port, certs = city_broker.port, city_broker.certs
    rx = clients(port, certs["rx"], client_id="rx-watch-2")
    gw_a = clients(port, certs["GW-A"], client_id="gw-GW-A-2")
    gw_b = clients(port, certs["GW-B"], client_id="gw-GW-B-2")
    assert rx.connected() and gw_a.connected() and gw_b.connected()
    # Mosquitto 2.0's acl_file grants these SUBACKs but checks read access on every delivery:
    # whatever a gateway subscribes to, it only ever receives its own ack and roster.
    subacks = gw_a.subscribe(t("GW-B", "ack"), t("GW-B", "roster"), t("GW-B", "punches"), t("+", "ack"),
                             "rn/v1/gw/#", "#", "$share/snoop/rn/v1/gw/+/punches")
    assert len(subacks) == 7
    gw_b.subscribe(t("GW-B", "ack"))
    gw_b.publish(t("GW-B", "punches"), b"B's punches")
    rx.publish(t("GW-B", "ack"), b"ack for B")
    rx.publish(t("GW-B", "roster"), b"roster for B")
    rx.publish(t("GW-A", "ack"), b"ack for A")         # sentinel, published last
    wait_for(lambda: gw_a.got(t("GW-A", "ack")), what="A's own ack")
    wait_for(lambda: gw_b.got(t("GW-B", "ack")), what="B's ack at B")
    time.sleep(0.2)
    assert {topic for topic, _ in gw_a.messages} == {t("GW-A", "ack")}
    assert {p for _, p in gw_a.messages} == {b"ack for A"}


def test_a_revoked_certificate_is_refused_at_connect(city_broker, clients, tmp_path):
    port = city_broker.port
    kit = city_broker.issue_gateway("GW-REVOKED")
    before = clients(port, kit, client_id="gw-GW-REVOKED")
    assert before.connected()
    before.close()
    assert receiver_cli(["ca", "revoke", "--ca-dir", str(city_broker.workdir / "pki" / "ca"),
                         "--gateway-id", "GW-REVOKED"]) == 0
    city_broker.reload()                                # SIGHUP: Mosquitto re-reads the CRL

    def refused() -> bool:
        c = clients(port, kit, client_id="gw-GW-REVOKED")
        return not c.connected(1.0)
    wait_for(refused, timeout=10, interval=0.2, what="revoked certificate refused")
    assert clients(port, city_broker.certs["GW-A"], client_id="gw-GW-A-3").connected()  # others unaffected
    assert "certificate revoked" in city_broker.log_path.read_text() or \
        "certificate verify failed" in city_broker.log_path.read_text()


def test_plaintext_is_refused(city_broker, clients):
    c = clients(city_broker.port, None, tls=False, client_id="plain")
    assert not c.connected(2.0) and c.connack is None
    with pytest.raises((OSError, ValueError)):         # a bare MQTT CONNECT gets no CONNACK
        mqtt_connack("127.0.0.1", city_broker.port, 3.0)


def test_a_client_without_a_certificate_is_refused(city_broker, clients):
    c = clients(city_broker.port, None, cert=False, ca_file=city_broker.ca_file, client_id="nocert")
    assert not c.connected(2.0) and c.connack is None


def test_a_certificate_from_another_ca_is_refused(city_broker, clients, tmp_path):
    rogue = CertificateAuthority.init(tmp_path / "rogue-ca", name="RN City MQTT CA")  # same name, other key
    rogue.issue_gateway("GW-A", tmp_path / "rogue-gw")
    c = clients(city_broker.port, tmp_path / "rogue-gw", ca_file=city_broker.ca_file, client_id="gw-GW-A-rogue")
    assert not c.connected(2.0) and c.connack is None


def test_clients_verify_the_broker(city_broker, clients, tmp_path):
    gw_a = city_broker.certs["GW-A"]
    other = CertificateAuthority.init(tmp_path / "other-ca")
    wrong_ca = clients(city_broker.port, gw_a, ca_file=other.dir / "ca.crt", client_id="v1")
    assert not wrong_ca.connected(2.0) and "CERTIFICATE_VERIFY_FAILED" in str(wrong_ca.error)
    wrong_name = clients(city_broker.port, gw_a, server_name="mqtt.elsewhere.example", client_id="v2")
    assert not wrong_name.connected(2.0) and "mismatch" in str(wrong_name.error).lower()
    by_ip = clients(city_broker.port, gw_a, host="127.0.0.1", server_name="localhost", client_id="v3")
    assert by_ip.connected()
