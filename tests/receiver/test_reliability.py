"""Manual-ack semantics with the receiver as a real subprocess and the fault hook."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from cloud_receiver.cli import main as cli_main
from cloud_receiver.store import open_store
from shared_schema import envelope

from .conftest import write_config
from .helpers import FakeGateway, wait_for
from .mqtt_gateway import MqttGateway

REPO = Path(__file__).resolve().parents[2]
# ``python -m`` from the checkout rather than the console script: the venv's editable
# install predates cloud_receiver/__init__.py and maps it as a namespace package.
CMD = [sys.executable, "-m", "cloud_receiver.cli"]


def _start(cfg, log, fault: int | None = None):
    env = {k: v for k, v in os.environ.items() if k != "RN_FAULT_EXIT_AFTER_COMMIT"}
    if fault is not None:
        env["RN_FAULT_EXIT_AFTER_COMMIT"] = str(fault)
    proc = subprocess.Popen([*CMD, "--config", str(cfg), "run"], env=env, cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=open(log, "ab"))
    try:
        wait_for(lambda: log.read_text().count("subscribed") > _start.seen.get(log, 0), timeout=20,
                 what="receiver subscribed")
    except AssertionError:
        proc.kill()
        raise AssertionError(log.read_text()) from None
    _start.seen[log] = log.read_text().count("subscribed")
    return proc


_start.seen = {}


@pytest.mark.slow
def test_killed_between_commit_and_ack_is_redelivered_without_loss_or_duplicate(tmp_path, mosquitto, store_url,
                                                                                capsys):
    cfg = write_config(tmp_path, store_url=store_url, mqtt_port=mosquitto.port, receiver_id="rx-fault")
    assert cli_main(["--config", str(cfg), "keygen"]) == 0
    city_pub = envelope.public_key_from_text(capsys.readouterr().out.strip())
    store = open_store(store_url, migrate=True)
    gw = FakeGateway("GW-FAULT")
    gw.register(store)
    gw.add(20)
    b1, b2 = gw.batch(gw.entries[:10]), gw.batch(gw.entries[10:])
    log = tmp_path / "receiver.log"
    pub = MqttGateway(gw, mosquitto.port, city_pub)
    proc = None
    try:
        proc = _start(cfg, log, fault=1)
        pub.publish("punches", gw.seal(b1))
        assert proc.wait(20) == 17, log.read_text()
        assert len(store.ledger(gw.gateway_id)) == 10  # committed ...
        assert pub.acks == []                           # ... but neither MQTT- nor app-acked
        proc = _start(cfg, log)                         # same client id, persistent session
        ack = pub.ack_for(b1.batch_id, timeout=20)      # the broker redelivered the unacked batch
        assert [list(r) for r in ack.stored_ranges] == [[1, 10]] and ack.acked_through_seq == 10
        pub.publish("punches", gw.seal(b2))
        assert pub.ack_for(b2.batch_id).acked_through_seq == 20
        rows = store.ledger(gw.gateway_id)
        assert [r["seq"] for r in rows] == list(range(1, 21))  # no loss, no duplicate row
        assert store.stats()["duplicates_dropped"] == 10       # the redelivery was recognised
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0, log.read_text()             # clean shutdown
        assert "stopped" in log.read_text()
    finally:
        pub.close()
        if proc is not None and proc.poll() is None:
            proc.kill()
        store.close()
