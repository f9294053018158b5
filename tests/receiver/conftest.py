"""Receiver fixtures: a migrated store (both dialects via ``store_url``), a registered test gateway."""

from __future__ import annotations

from pathlib import Path

import pytest

from cloud_receiver.ingest import Ingestor
from cloud_receiver.store import open_store
from shared_schema import envelope

from .helpers import FakeGateway


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


@pytest.fixture
def ingestor(store) -> Ingestor:
    return Ingestor(store, "rx-test", cache_s=0.0)


@pytest.fixture
def city_key():
    return envelope.generate_key()


def write_config(tmp_path, *, store_url: str, mqtt_port: int = 1883, api_port: int = 0, key_name="city.key",
                 extra: str = "", receiver_id: str = "rx-test") -> "Path":
    cfg = tmp_path / "receiver.toml"
    cfg.write_text(f"""
[receiver]
receiver_id = "{receiver_id}"
signing_key_file = "{key_name}"
log_level = "INFO"
gap_grace_s = 1.0
sweep_interval_s = 0.5
{extra}
[receiver.mqtt]
host = "127.0.0.1"
port = {mqtt_port}
keepalive_s = 10
share_group = "g1"

[receiver.store]
url = "{store_url}"

[receiver.api]
port = {api_port}
tokens = ["test-token-0123456789"]
""")
    return cfg
