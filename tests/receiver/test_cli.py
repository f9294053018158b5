"""CLI: keygen, check-config, migrate, register-gateway (incl. --replace), stats --json."""

import json
import os

from cloud_receiver.cli import main
from cloud_receiver.store.migrations import latest
from shared_schema import envelope

from .conftest import write_config
from .helpers import FakeGateway, topic


def test_keygen_refuses_overwrite(tmp_path, capsys):
    cfg = write_config(tmp_path, store_url=f"sqlite:///{tmp_path / 'r.db'}")
    assert main(["--config", str(cfg), "keygen"]) == 0
    pub = capsys.readouterr().out.strip()
    key_path = tmp_path / "city.key"
    assert os.stat(key_path).st_mode & 0o777 == 0o600
    assert envelope.public_key_text(envelope.read_private_key(key_path)) == pub
    before = key_path.read_bytes()
    assert main(["--config", str(cfg), "keygen"]) == 1
    assert key_path.read_bytes() == before
    assert "refusing" in capsys.readouterr().err


def test_register_stats_and_migrate(tmp_path, store_url, capsys):
    cfg = write_config(tmp_path, store_url=store_url)
    assert main(["--config", str(cfg), "migrate"]) == 0
    assert f"schema version {latest('sqlite')}" in capsys.readouterr().out
    assert main(["--config", str(cfg), "check-config"]) == 0
    gw = FakeGateway("GW-CLI", "P-9")
    args = ["--config", str(cfg), "register-gateway", "--gateway-id", gw.gateway_id, "--project-code", "P-9",
            "--vendor", "Acme", "--site", "north gate"]
    assert main([*args, "--public-key", gw.public_hex]) == 0
    assert "registered" in capsys.readouterr().out
    other = FakeGateway("GW-CLI", "P-9")
    assert main([*args, "--public-key", other.public_hex]) == 1
    assert "--replace" in capsys.readouterr().err
    keyfile = tmp_path / "gw.pub"
    keyfile.write_text(other.public_hex + "\n")
    assert main([*args, "--public-key-file", str(keyfile), "--replace"]) == 0
    assert main([*args, "--public-key", "zz"]) == 2
    capsys.readouterr()
    # ingest something with the replaced key and read the counts from "another process"
    from cloud_receiver.ingest import Ingestor
    from cloud_receiver.store import open_store
    store = open_store(store_url)
    ing = Ingestor(store, "rx", cache_s=0)
    other.add(5, rejected_every=5)
    payload = other.sealed_batch(other.entries)
    ing.handle(topic(other), payload)
    ing.handle(topic(other), payload)
    ing.handle(topic(other), gw.sealed_batch(other.entries))  # old key: rejected
    store.close()
    assert main(["--config", str(cfg), "stats", "--json"]) == 0
    st = json.loads(capsys.readouterr().out)
    assert st["punches"] == 4 and st["rejected_attempts"] == 1 and st["duplicates_dropped"] == 5
    assert st["rejected"] == {"bad_signature": 1} and st["gateways"] == 1


def test_config_errors_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text('[receiver]\nreceiver_id = "r"\nsigning_key_file = "k"\nbogus = 1\n')
    assert main(["--config", str(bad), "check-config"]) == 2
    assert "bogus" in capsys.readouterr().err
