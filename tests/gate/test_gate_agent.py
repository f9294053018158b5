"""The agent wires the configured turnstiles and one controller per gate; `simulate` goes through them."""

from __future__ import annotations

import socket

from edge_agent import cli
from edge_agent.config import load_config
from edge_agent.ledger import PunchLedger
from shared_schema.envelope import generate_key, public_key_text, write_private_key


def test_simulate_goes_commit_open_passage_and_prints_every_committed_entry(tmp_path, capsys):
    """Pins: simulated punches must reach the turnstile through the controller (not_passed events
    appear when nobody passes) and --print-committed must print the gate events too."""
    (tmp_path / "keys").mkdir()
    write_private_key(tmp_path / "keys" / "gateway.key", generate_key())
    (tmp_path / "keys" / "receiver.pub").write_text(public_key_text(generate_key()) + "\n")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]                              # nobody listens: no broker
    path = tmp_path / "edge.toml"
    path.write_text(f"""
[edge]
gateway_id = "GW-T1"
project_code = "P-TEST"
gates = [{{ id = "G1", direction = "in", turnstile = "T1" }}]
log_level = "WARNING"
[edge.ledger]
path = "var/ledger.db"
disk_alarm_free_mb = 0
disk_alarm_free_percent = 0.0
[edge.mqtt]
port = {port}
[edge.simulate]
reject_ratio = 0.0
non_work_ratio = 0.0
[edge.gate]
passage_window_s = 0.3
poll_interval_s = 0.01
[[edge.turnstiles]]
id = "T1"
type = "simulated"
passage_delay_ms = 10
turn_back_probability = 1.0
""")
    code = cli.main(["--config", str(path), "simulate", "--punches", "3", "--rate", "0",
                     "--drain-timeout", "0", "--print-committed"])
    assert code == cli.EXIT_BACKLOG                            # no broker: backlog left, as designed
    printed = [line.split()[1] for line in capsys.readouterr().out.splitlines()
               if line.startswith("COMMITTED ")]
    led = PunchLedger(load_config(path).ledger.path, "GW-T1", "P-TEST")
    try:
        entries = led.entries()
    finally:
        led.close()
    punches = [e for e in entries if e.type == "punch"]
    not_passed = [e for e in entries if e.event_kind == "not_passed"]
    assert len(punches) == 3
    assert sorted(e.ref_seq for e in not_passed) == [e.seq for e in punches]
    assert printed == [str(e.seq) for e in entries]
