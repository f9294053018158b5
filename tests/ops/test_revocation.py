"""A revoked gateway (store flag, migration 7) is refused by ingest with the stable reason
``revoked_gateway``; ``cloud-receiver ca revoke --gateway-id`` sets it with the CRL in one step;
a replaced key lifts it. Both store dialects."""

from __future__ import annotations

import pytest
from cryptography import x509

from cloud_receiver.cli import main as receiver_cli
from cloud_receiver.ingest import Ingestor
from cloud_receiver.store import open_store
from devtools.fake_gateway import FakeGateway
from shared_schema.topics import topic as _topic
from shared_schema import envelope


def topic(gw: FakeGateway, channel: str = "punches") -> str:
    return _topic(gw.gateway_id, channel)


@pytest.fixture
def store(store_url):
    s = open_store(store_url, migrate=True)
    yield s
    s.close()


@pytest.fixture
def gw(store) -> FakeGateway:
    g = FakeGateway()
    g.register(store)
    return g


def test_migration_adds_the_flag(store):
    assert store.schema_version() >= 7
    assert store.list_gateways() == [] or "revoked_at" in store.list_gateways()[0]


def test_revoked_gateway_is_rejected_with_a_stable_reason_and_nothing_stored(store, gw):
    ingestor = Ingestor(store, "rx-test", cache_s=0.0)
    gw.add(4)
    assert ingestor.handle(topic(gw), gw.sealed_batch(gw.entries[:2])).verdict.ok
    assert store.revoke_gateway(gw.gateway_id, 1000.0) is True
    assert store.revoke_gateway(gw.gateway_id, 2000.0) is True           # idempotent: the first time stays
    assert store.get_gateway(gw.gateway_id)["revoked_at"] == 1000.0
    out = ingestor.handle(topic(gw), gw.sealed_batch(gw.entries[2:]))
    assert out.verdict.reason == "revoked_gateway"
    # the gateway is told (signed rejected ack): its rows stay pending on the box, never lost
    assert out.ack.status == "rejected" and out.ack.reason == "revoked_gateway" and out.ack.stored_ranges == []
    assert [r["seq"] for r in store.ledger(gw.gateway_id)] == [1, 2]
    assert store.stats()["rejected"] == {"revoked_gateway": 1}
    # a forgery on the revoked gateway's topic is still just a bad signature
    forged = gw.seal(gw.batch(gw.entries[2:]), key=envelope.generate_key())
    assert ingestor.handle(topic(gw), forged).verdict.reason == "bad_signature"


def test_unknown_gateway_cannot_be_revoked(store):
    assert store.revoke_gateway("GW-NOPE", 1.0) is False


def test_replacing_the_key_lifts_the_revocation(store, gw):
    store.revoke_gateway(gw.gateway_id, 1.0)
    same = store.register_gateway(gw.gateway_id, gw.public_hex, gw.project_code, "ACME", now=2.0)
    assert same == "updated" and store.get_gateway(gw.gateway_id)["revoked_at"] == 1.0   # same key: still revoked
    new = envelope.public_key_text(envelope.generate_key())
    assert store.register_gateway(gw.gateway_id, new, gw.project_code, "ACME", replace=True, now=3.0) == "replaced"
    assert store.get_gateway(gw.gateway_id)["revoked_at"] is None


def _receiver_toml(tmp_path, store_url):
    cfg = tmp_path / "receiver.toml"
    cfg.write_text(f'[receiver]\nreceiver_id = "rx-1"\nsigning_key_file = "city.key"\n'
                   f'[receiver.store]\nurl = "{store_url}"\n')
    envelope.write_private_key(tmp_path / "city.key", envelope.generate_key())
    return cfg


def test_ca_revoke_sets_the_store_flag_and_the_crl_in_one_step(tmp_path, store_url, capsys):
    cfg = _receiver_toml(tmp_path, store_url)
    ca_dir = tmp_path / "ca"
    assert receiver_cli(["ca", "init", "--dir", str(ca_dir)]) == 0
    assert receiver_cli(["--config", str(cfg), "ca", "issue-gateway", "--ca-dir", str(ca_dir), "--gateway-id",
                         "GW-R1", "--out", str(tmp_path / "kit"), "--register", "--project-code", "P-1",
                         "--vendor", "ACME"]) == 0
    cert = x509.load_pem_x509_certificate((tmp_path / "kit" / "mqtt-client.crt").read_bytes())
    capsys.readouterr()
    assert receiver_cli(["--config", str(cfg), "ca", "revoke", "--ca-dir", str(ca_dir), "--gateway-id", "GW-R1"]) == 0
    out = capsys.readouterr().out
    assert "marked revoked in the store" in out
    crl = x509.load_pem_x509_crl((ca_dir / "crl.pem").read_bytes())
    assert crl.get_revoked_certificate_by_serial_number(cert.serial_number) is not None
    s = open_store(store_url)
    try:
        assert s.get_gateway("GW-R1")["revoked_at"] is not None
    finally:
        s.close()
    # running it again (e.g. after a failed step) is fine: nothing live left, the flag stays
    assert receiver_cli(["--config", str(cfg), "ca", "revoke", "--ca-dir", str(ca_dir), "--gateway-id", "GW-R1"]) == 0
    assert "already revoked" in capsys.readouterr().out


def test_ca_revoke_without_config_warns_that_the_store_was_not_told(tmp_path, capsys):
    ca_dir = tmp_path / "ca"
    assert receiver_cli(["ca", "init", "--dir", str(ca_dir)]) == 0
    assert receiver_cli(["ca", "issue-gateway", "--ca-dir", str(ca_dir), "--gateway-id", "GW-R2",
                         "--out", str(tmp_path / "kit")]) == 0
    capsys.readouterr()
    assert receiver_cli(["ca", "revoke", "--ca-dir", str(ca_dir), "--gateway-id", "GW-R2"]) == 0
    assert "without --config the store was not told" in capsys.readouterr().out
