"""A whole local deployment: private Mosquitto, the city receiver as a real
process, and gateways run as real ``edge-agent`` processes.

The demo, the reliability tests and the drain benchmark all drive the product
through this one harness, through the same command-line entry points an
installer uses (``keygen``, ``migrate``, ``register-gateway``, ``run``,
``simulate``), and audit the outcome by comparing every gateway's ledger file
with the receiver's store.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from .mosquitto import MosquittoBroker

PY = sys.executable
REPO = Path(__file__).resolve().parent.parent


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):   # an inline table (e.g. an entry of gates or turnstiles)
        return "{ " + ", ".join(f"{k} = {_toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def write_toml(path: Path, section: str, table: dict) -> None:
    """Write ``{section: table}`` (scalars, lists, nested dicts as sub-tables)."""
    lines: list[str] = []

    def emit(name: str, t: dict) -> None:
        lines.append(f"[{name}]")
        subs = {k: v for k, v in t.items() if isinstance(v, dict)}
        for k, v in t.items():
            if not isinstance(v, dict):
                lines.append(f"{k} = {_toml_value(v)}")
        for k, v in subs.items():
            lines.append("")
            emit(f"{name}.{k}", v)

    emit(section, table)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in (over or {}).items():
        out[k] = _merge(out.get(k, {}), v) if isinstance(v, dict) else v
    return out


class LocalStack:
    def __init__(self, workdir: str | Path, *, gateway_ids=("GW-DEMO-01",), project_code="P-DEMO-0001",
                 store_url: str | None = None, edge: dict | None = None, receiver: dict | None = None):
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.broker = MosquittoBroker(self.dir / "mqtt")
        self.gateway_ids = list(gateway_ids)
        self.project_code = project_code
        self.store_url = store_url or f"sqlite:///{self.dir / 'city' / 'receiver.db'}"
        self.edge_overrides = edge or {}
        self.receiver_overrides = receiver or {}
        self.receiver_proc: subprocess.Popen | None = None
        self.env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))

    # ---- set-up, as an installer would do it ----------------------------------------

    @property
    def receiver_config(self) -> Path:
        return self.dir / "city" / "receiver.toml"

    def edge_config(self, gateway_id: str) -> Path:
        return self.dir / gateway_id / "edge.toml"

    def ledger_path(self, gateway_id: str) -> Path:
        return self.dir / gateway_id / "ledger.db"

    def setup(self) -> "LocalStack":
        self.broker.start()
        city = self.dir / "city"
        city.mkdir(exist_ok=True)
        write_toml(self.receiver_config, "receiver", _merge({
            "receiver_id": "rx-local-1", "signing_key_file": "receiver-ack.key", "log_level": "WARNING",
            "gap_grace_s": 300.0, "sweep_interval_s": 5.0,
            "mqtt": {"host": "127.0.0.1", "port": self.broker.port, "keepalive_s": 10,
                     "reconnect_min_s": 0.2, "reconnect_max_s": 2.0},
            "store": {"url": self.store_url},
            "api": {"enabled": False},
        }, self.receiver_overrides))
        self.receiver_cli("keygen")
        self.receiver_cli("migrate")
        from shared_schema.envelope import public_key_text, read_private_key
        receiver_pub = public_key_text(read_private_key(city / "receiver-ack.key"))
        for gid in self.gateway_ids:
            gdir = self.dir / gid
            gdir.mkdir(exist_ok=True)
            (gdir / "receiver.pub").write_text(receiver_pub + "\n")
            write_toml(self.edge_config(gid), "edge", _merge({
                "gateway_id": gid, "project_code": self.project_code,
                "signing_key_file": "gateway.key", "receiver_public_key_file": "receiver.pub",
                "heartbeat_interval_s": 2.0, "log_level": "WARNING",
                "ledger": {"path": "ledger.db", "retention_days": 3650},
                "mqtt": {"host": "127.0.0.1", "port": self.broker.port, "keepalive_s": 10},
                "sync": {"backoff_min_s": 0.1, "backoff_max_s": 1.0, "ack_timeout_s": 10.0,
                         "reject_retry_s": 1.0},
            }, self.edge_overrides))
            self.edge_cli(gid, "keygen")
            gateway_pub = public_key_text(read_private_key(gdir / "gateway.key"))
            self.receiver_cli("register-gateway", "--gateway-id", gid, "--public-key", gateway_pub,
                              "--project-code", self.project_code, "--vendor", "DemoVendor",
                              "--site", "demo-site")
        return self

    def receiver_cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run([PY, "-m", "cloud_receiver.cli", "--config", str(self.receiver_config), *args],
                              capture_output=True, text=True, check=check, env=self.env, timeout=120)

    def edge_cli(self, gateway_id: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run([PY, "-m", "edge_agent.cli", "--config", str(self.edge_config(gateway_id)), *args],
                              capture_output=True, text=True, check=check, env=self.env, timeout=600)

    # ---- processes ------------------------------------------------------------------

    def start_receiver(self, extra_env: dict | None = None) -> subprocess.Popen:
        log = open(self.dir / "city" / "receiver.log", "ab")
        self.receiver_proc = subprocess.Popen(
            [PY, "-m", "cloud_receiver.cli", "--config", str(self.receiver_config), "run"],
            stdout=log, stderr=subprocess.STDOUT, env=dict(self.env, **(extra_env or {})))
        log.close()
        return self.receiver_proc

    def wait_receiver_ready(self, timeout: float = 30.0) -> None:
        """Block until a receiver is subscribed: publish a probe on an unregistered gateway's
        topic until the receiver has counted its rejection (a real round trip through the broker)."""
        import paho.mqtt.client as mqtt

        from cloud_receiver.store import open_store
        probe = "PROBE-" + os.urandom(4).hex()
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=probe, protocol=mqtt.MQTTv5)
        client.connect("127.0.0.1", self.broker.port)
        client.loop_start()
        store = open_store(self.store_url)
        try:
            deadline = time.monotonic() + timeout
            before = store.counters().get("rejected:unregistered_gateway", 0)
            while time.monotonic() < deadline:
                client.publish(f"rn/v1/gw/{probe}/punches", b"probe", qos=1).wait_for_publish(5)
                time.sleep(0.1)
                if store.counters().get("rejected:unregistered_gateway", 0) > before:
                    return
            raise TimeoutError("receiver did not come up")
        finally:
            store.close()
            client.loop_stop()
            client.disconnect()

    def stop_receiver(self, sig=signal.SIGTERM, timeout: float = 20.0) -> int | None:
        p, self.receiver_proc = self.receiver_proc, None
        if p is None:
            return None
        if p.poll() is None:
            p.send_signal(sig)
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        return p.returncode

    def edge_process(self, gateway_id: str, *args: str, **kw) -> subprocess.Popen:
        return subprocess.Popen([PY, "-m", "edge_agent.cli", "--config", str(self.edge_config(gateway_id)),
                                 *args], env=self.env, **kw)

    def close(self) -> None:
        self.stop_receiver()
        self.broker.kill()

    def __enter__(self):
        return self.setup()

    def __exit__(self, *exc):
        self.close()

    # ---- audit ------------------------------------------------------------------------

    def gateway_entries(self, gateway_id: str) -> list[tuple[int, str, str, str]]:
        """(seq, event_id, entry_hash, type) of every entry in the gateway's ledger file."""
        conn = sqlite3.connect(f"file:{self.ledger_path(gateway_id)}?mode=ro", uri=True)
        try:
            return conn.execute("SELECT seq, event_id, entry_hash, json_extract(entry_json, '$.type') "
                                "FROM entries ORDER BY seq").fetchall()
        finally:
            conn.close()

    def receiver_entries(self, gateway_id: str) -> list[dict]:
        from cloud_receiver.store import open_store
        store = open_store(self.store_url)
        try:
            return store.ledger(gateway_id)
        finally:
            store.close()

    def audit(self, gateway_id: str) -> dict:
        """Compare one gateway's ledger with what the city stored."""
        gw = self.gateway_entries(gateway_id)
        rx = self.receiver_entries(gateway_id)
        rx_by_seq = {}
        for r in rx:
            rx_by_seq.setdefault(r["seq"], []).append(r)
        lost = [seq for seq, *_ in gw if seq not in rx_by_seq]
        mismatched = [seq for seq, eid, h, _ in gw
                      if seq in rx_by_seq and (rx_by_seq[seq][0]["event_id"] != eid
                                               or rx_by_seq[seq][0]["entry_hash"] != h)]
        event_ids = [r["event_id"] for r in rx]
        by_ingest = [r["seq"] for r in sorted(rx, key=lambda r: r["ingest_no"])]
        return {
            "committed": len(gw),
            "at_receiver": len(rx),
            "punches_at_gateway": sum(1 for *_, t in gw if t == "punch"),
            "punches_at_receiver": sum(1 for r in rx if r["type"] == "punch"),
            "lost": len(lost),
            "lost_seqs": lost[:20],
            "duplicates": len(rx) - len(set(event_ids)) + sum(len(v) - 1 for v in rx_by_seq.values()),
            "mismatched": len(mismatched),
            "extra_at_receiver": len(set(rx_by_seq) - {seq for seq, *_ in gw}),
            "unverified_links": sum(1 for r in rx if r["chain_status"] != "verified"),
            "ingest_in_seq_order": by_ingest == sorted(by_ingest),
        }
