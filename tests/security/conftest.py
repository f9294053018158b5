"""One private Mosquitto per module running the SHIPPED city-broker configuration
(packaging/mosquitto: TLS only, client certificates, ACL, CRL), with a throw-away CA."""

from __future__ import annotations

import pytest

from devtools.mosquitto import MosquittoBroker


@pytest.fixture(scope="module")
def city_broker(tmp_path_factory):
    broker = MosquittoBroker(tmp_path_factory.mktemp("city-mqtt"), tls=True).start()
    broker.certs = {gid: broker.issue_gateway(gid) for gid in ("GW-A", "GW-B")}
    broker.certs["rx"] = broker.issue_receiver("rx-sec-1")
    yield broker
    broker.kill()
