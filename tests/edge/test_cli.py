"""The edge-agent command line, run as a real process."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys

from edge_helpers import REPO, Listener, wait_for
from edge_agent.ledger import PunchLedger
from shared_schema import topics
from shared_schema.envelope import open_signed, read_private_key
from shared_schema.messages import GatewayStatus, decode_message


def cli(cfg_path, *args, timeout=60, check=None):
    p = subprocess.run([sys.executable, "-m", "edge_agent.cli", "--config", str(cfg_path), *args],
                       capture_output=True, text=True, timeout=timeout, cwd=REPO)
    return p


def test_keygen_creates_0600_key_and_refuses_overwrite(tmp_path):
    cfgp = tmp_path / "edge.toml"
    from edge_helpers import config_text
    cfgp.write_text(config_text())
    r = cli(cfgp, "keygen")
    assert r.returncode == 0, r.stderr
    key_path = tmp_path / "keys" / "gateway.key"
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    pub = read_private_key(key_path).public_key()
    from shared_schema.envelope import public_key_text
    assert public_key_text(pub) in r.stdout
    before = key_path.read_bytes()
    r = cli(cfgp, "keygen")
    assert r.returncode == 1 and "refusing to overwrite" in r.stderr
    assert key_path.read_bytes() == before
    r = cli(cfgp, "keygen", "--out", str(tmp_path / "other.key"))
    assert r.returncode == 0 and (tmp_path / "other.key").exists()


def test_check_config(tmp_path, make_cfg):
    _, path = make_cfg()
    r = cli(path, "check-config")
    assert r.returncode == 0 and r.stdout.startswith("OK")
    path.write_text(path.read_text().replace("keepalive_s = 10", "keepalive_s = 10\nkeep_alive = 3"))
    r = cli(path, "check-config")
    assert r.returncode == 1 and "keep_alive" in r.stderr


def test_status_reads_ledger_without_network(tmp_path, make_cfg):
    cfg, path = make_cfg(1)  # port 1: nothing there, and status must not care
    led = PunchLedger(cfg.ledger.path, cfg.gateway_id, cfg.project_code)
    led.append(gate_id="G1", direction="in", worker_ref="W0001", kind="work")
    led.close()
    r = cli(path, "status", timeout=10)
    assert r.returncode == 0, r.stderr
    st = json.loads(r.stdout)
    assert st["head_seq"] == 1 and st["backlog"] == 1 and st["acked_through_seq"] == 0


def test_simulate_end_to_end(mosquitto, make_cfg, ack_peer):
    _, path = make_cfg(mosquitto.port)
    peer = ack_peer()
    r = cli(path, "simulate", "--punches", "300", "--rate", "0", "--drain-timeout", "30",
            "--print-committed")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    committed = [ln.split() for ln in lines if ln.startswith("COMMITTED ")]
    assert [int(c[1]) for c in committed] == list(range(1, 301))
    final = json.loads(lines[-1])
    assert final == {"made": 300, "head_seq": 300, "backlog": 0, "acked_through_seq": 300}
    assert sorted(peer.stored) == list(range(1, 301)) and peer.conflicts == 0
    assert peer.chain_errors == 0


def test_simulate_times_out_with_backlog(make_cfg):
    _, path = make_cfg(1)  # no broker
    r = cli(path, "simulate", "--punches", "5", "--rate", "0", "--drain-timeout", "0.5")
    assert r.returncode == 3
    assert json.loads(r.stdout.splitlines()[-1])["backlog"] == 5


def test_kill_9_keeps_every_printed_commit_and_fires_last_will(mosquitto, make_cfg, keys):
    cfg, path = make_cfg(mosquitto.port)
    lis = Listener(mosquitto.port, topics.status("GW-T1"))
    proc = subprocess.Popen([sys.executable, "-m", "edge_agent.cli", "--config", str(path), "simulate",
                             "--punches", "100000", "--rate", "300", "--print-committed"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=REPO)
    printed = []
    try:
        while len(printed) < 100:
            printed.append(proc.stdout.readline().split())
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        printed += [ln.split() for ln in proc.stdout.read().splitlines() if ln.startswith("COMMITTED")]
    finally:
        if proc.poll() is None:
            proc.kill()
    led = PunchLedger(cfg.ledger.path, cfg.gateway_id, cfg.project_code)
    stored = {e.seq: e.event_id for e in led.entries()}
    assert led.ledger_ok
    for _, seq, event_id in printed:
        assert stored[int(seq)] == event_id
    led.close()
    pub = keys.gateway.public_key()
    assert wait_for(lambda: any(not decode_message(open_signed(p, pub), GatewayStatus).online
                                for _, p, _ in lis.msgs), 10)
    lis.stop()


def test_run_stops_cleanly_on_sigterm(mosquitto, make_cfg, keys):
    _, path = make_cfg(mosquitto.port)
    lis = Listener(mosquitto.port, topics.status("GW-T1"))
    pub = keys.gateway.public_key()

    def statuses():
        return [decode_message(open_signed(p, pub), GatewayStatus) for _, p, _ in lis.msgs]
    proc = subprocess.Popen([sys.executable, "-m", "edge_agent.cli", "--config", str(path), "run"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=REPO)
    try:
        assert wait_for(lambda: any(s.online for s in statuses()), 10)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert wait_for(lambda: statuses() and statuses()[-1].reason == "shutdown", 5)
    assert not statuses()[-1].online
    lis.stop()
