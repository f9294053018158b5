"""Fixtures for the gateway tests: keys, a config file writer, a ledger, the test ack peer."""

from __future__ import annotations

import pytest

from edge_ack_peer import AckPeer
from edge_agent.config import load_config
from edge_agent.ledger import PunchLedger
from edge_helpers import Keys, config_text


@pytest.fixture
def keys(tmp_path) -> Keys:
    return Keys(tmp_path / "keys")


@pytest.fixture
def make_cfg(tmp_path, keys):
    """``make_cfg(port, sync="...", top="...")`` → (EdgeConfig, path of the TOML file)."""
    def make(port: int = 1883, **parts):
        path = tmp_path / "edge.toml"
        path.write_text(config_text(port, **parts))
        return load_config(path), path
    return make


@pytest.fixture
def ledger(tmp_path):
    led = PunchLedger(tmp_path / "ledger.db", "GW-T1", "P-TEST")
    yield led
    try:
        led.close()
    except Exception:
        pass


@pytest.fixture
def ack_peer(mosquitto, keys):
    peers = []

    def make(**kw):
        p = AckPeer(mosquitto.port, keys.gateway.public_key(), kw.pop("receiver_key", keys.receiver),
                    **kw).start()
        peers.append(p)
        return p
    yield make
    for p in peers:
        p.stop()
