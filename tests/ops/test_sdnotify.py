"""sd_notify against a real AF_UNIX datagram socket: the helper, then both services run as
``Type=notify`` would run them (``$NOTIFY_SOCKET``, ``$WATCHDOG_USEC``) and SIGTERMed."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from shared_schema import envelope, sdnotify

REPO = Path(__file__).resolve().parents[2]


class NotifySocket:
    def __init__(self, path: Path | None = None):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if path is None:                       # abstract namespace, as "@name" in $NOTIFY_SOCKET
            name = f"rn-test-{os.getpid()}-{time.monotonic_ns()}"
            self.sock.bind("\0" + name)
            self.env = "@" + name
        else:
            self.sock.bind(str(path))
            self.env = str(path)
        self.sock.settimeout(0.2)
        self.received: list[str] = []

    def wait_for(self, state: str, timeout: float = 20.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if state in self.received:
                return True
            try:
                self.received.extend(self.sock.recv(4096).decode().split("\n"))
            except socket.timeout:
                pass
        return state in self.received

    def close(self):
        self.sock.close()


@pytest.mark.parametrize("abstract", [False, True])
def test_notify_reaches_a_real_socket(tmp_path, monkeypatch, abstract):
    ns = NotifySocket(None if abstract else tmp_path / "notify")
    try:
        monkeypatch.setenv("NOTIFY_SOCKET", ns.env)
        assert sdnotify.notify("READY=1") and sdnotify.notify("WATCHDOG=1")
        assert ns.wait_for("READY=1", 2) and ns.wait_for("WATCHDOG=1", 2)
    finally:
        ns.close()


def test_no_socket_no_watchdog_is_a_no_op(monkeypatch):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    assert sdnotify.notify("READY=1") is False and sdnotify.watchdog_interval() is None
    monkeypatch.setenv("NOTIFY_SOCKET", "relative/path")
    assert sdnotify.notify("READY=1") is False
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    assert sdnotify.watchdog_interval() == 15.0
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid() + 1))   # meant for another process
    assert sdnotify.watchdog_interval() is None


def _run_service(tmp_path, module, config, ns):
    env = {**os.environ, "NOTIFY_SOCKET": ns.env, "WATCHDOG_USEC": "400000", "PYTHONPATH": str(REPO)}
    env.pop("WATCHDOG_PID", None)
    return subprocess.Popen([sys.executable, "-m", module, "--config", str(config), "run"], cwd=tmp_path, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _check_lifecycle(proc, ns):
    try:
        assert ns.wait_for("READY=1"), proc.stderr.read1(65536) if proc.poll() is not None else "no READY=1"
        ns.received.clear()
        assert ns.wait_for("WATCHDOG=1", 5)
        ns.received.clear()
        assert ns.wait_for("WATCHDOG=1", 5)                       # keeps pinging from its main loop
        proc.send_signal(signal.SIGTERM)
        assert ns.wait_for("STOPPING=1", 10)
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        ns.close()


def test_edge_agent_run_notifies_ready_watchdog_stopping(tmp_path):
    (tmp_path / "keys").mkdir()
    envelope.write_private_key(tmp_path / "keys" / "gateway.key", envelope.generate_key())
    (tmp_path / "keys" / "receiver.pub").write_text(envelope.public_key_text(envelope.generate_key()) + "\n")
    cfg = tmp_path / "edge.toml"
    cfg.write_text('[edge]\ngateway_id = "GW-OPS"\nproject_code = "P-OPS"\n'
                   'signing_key_file = "keys/gateway.key"\nreceiver_public_key_file = "keys/receiver.pub"\n'
                   '[edge.ledger]\npath = "var/ledger.db"\ndisk_alarm_free_mb = 0\ndisk_alarm_free_percent = 0.0\n'
                   '[edge.mqtt]\nhost = "127.0.0.1"\nport = 1\n')          # no broker: the agent runs anyway
    (tmp_path / "var").mkdir()
    ns = NotifySocket(tmp_path / "notify")
    _check_lifecycle(_run_service(tmp_path, "edge_agent.cli", cfg, ns), ns)


def test_cloud_receiver_run_notifies_ready_watchdog_stopping(tmp_path):
    envelope.write_private_key(tmp_path / "city.key", envelope.generate_key())
    cfg = tmp_path / "receiver.toml"
    cfg.write_text('[receiver]\nreceiver_id = "rx-ops"\nsigning_key_file = "city.key"\n'
                   f'[receiver.store]\nurl = "sqlite:///{tmp_path / "r.db"}"\n'
                   '[receiver.mqtt]\nhost = "127.0.0.1"\nport = 1\n'
                   '[receiver.api]\nport = 0\ntokens = ["ops-token-0123456789"]\n')
    ns = NotifySocket(None)
    _check_lifecycle(_run_service(tmp_path, "cloud_receiver.cli", cfg, ns), ns)
