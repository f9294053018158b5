"""Turnstile config: the tagged union, errors that name the key, gate references, registry."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from edge_agent.config import ConfigError, load_config
from edge_agent.drivers import REGISTRY, open_turnstile
from edge_agent.drivers.config import KINDS, ModbusRtuConfig, SimulatedConfig, decode_turnstile
from shared_schema.wire import DecodeError

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.toml"
HEAD = '[edge]\ngateway_id = "GW1"\nproject_code = "P1"\n'


def write(tmp_path, text):
    p = tmp_path / "edge.toml"
    p.write_text(HEAD + text, encoding="utf-8")
    return p


def test_entries_decode_into_their_kind(tmp_path):
    cfg = load_config(write(tmp_path, 'gates = [{ id = "G1", turnstile = "T2" }]\n'
                                      '[[edge.turnstiles]]\nid = "T1"\ntype = "simulated"\n'
                                      '[[edge.turnstiles]]\nid = "T2"\ntype = "modbus_rtu"\n'
                                      'port = "/dev/ttyS9"\ndevice_id = 7\n'))
    a, b = cfg.turnstiles
    assert isinstance(a, SimulatedConfig) and isinstance(b, ModbusRtuConfig)
    assert (b.port, b.device_id, b.baudrate) == ("/dev/ttyS9", 7, 9600)
    assert cfg.gates[0].turnstile == "T2"


@pytest.mark.parametrize("entry, named", [
    ('id = "T1"\ntype = "modbus_rtu"\nbaud = 9600\n', "edge.turnstiles[0]: unknown field 'baud'"),
    ('id = "T1"\ntype = "simulated"\nport = "/dev/ttyUSB0"\n', "unknown field 'port'"),
    ('id = "T1"\nport = "/dev/ttyUSB0"\n', "edge.turnstiles[0].type"),
    ('id = "T1"\ntype = "relay9"\n', "edge.turnstiles[0].type: unknown turnstile type 'relay9'"),
    ('id = "T1"\ntype = "modbus_rtu"\ndevice_id = 248\n', "edge.turnstiles[0].device_id"),
    ('id = "T1"\ntype = "modbus_rtu"\nparity = "X"\n', "edge.turnstiles[0].parity"),
    ('id = "T1"\ntype = "modbus_rtu"\ncoil_open_out = 0\n', "coil_open_in and coil_open_out"),
    ('id = "T1"\ntype = "usb_relay"\nchannels = 1\n', "channels"),
    ('id = "T 1"\ntype = "simulated"\n', "edge.turnstiles[0].id"),
])
def test_config_errors_name_the_key(tmp_path, entry, named):
    with pytest.raises(ConfigError, match=re.escape(named)):
        load_config(write(tmp_path, "[[edge.turnstiles]]\n" + entry))


@pytest.mark.parametrize("text, named", [
    ('gates = [{ id = "G1", turnstile = "T9" }]\n', "turnstile 'T9' is not in turnstiles"),
    ('gates = [{ id = "G1", turnstile = "T1" }, { id = "G2", turnstile = "T1" }]\n'
     '[[edge.turnstiles]]\nid = "T1"\ntype = "simulated"\n', "used by two gates"),
    ('[[edge.turnstiles]]\nid = "T1"\ntype = "simulated"\n'
     '[[edge.turnstiles]]\nid = "T1"\ntype = "usb_relay"\n', "duplicate turnstile id"),
    ('gates = [{ id = "G1", turnstyle = "T1" }]\n', "unknown field 'turnstyle'"),
])
def test_gate_references_are_validated(tmp_path, text, named):
    with pytest.raises(ConfigError, match=re.escape(named)):
        load_config(write(tmp_path, text))


def test_no_turnstiles_is_still_valid(tmp_path):
    cfg = load_config(write(tmp_path, ""))
    assert cfg.turnstiles == () and cfg.gates[0].turnstile is None


def test_registry_is_explicit_and_rejects_unknown_types():
    assert set(REGISTRY) == set(KINDS) == {"modbus_rtu", "usb_relay", "simulated", "osdp"}
    fake = dataclasses.replace(SimulatedConfig(id="T1"), type="wiegand")
    with pytest.raises(ValueError, match="unknown turnstile type 'wiegand'"):
        open_turnstile(fake)
    with pytest.raises(DecodeError, match="unknown turnstile type 'wiegand'"):
        open_turnstile({"id": "T1", "type": "wiegand"})
    with pytest.raises(DecodeError, match="unknown field 'pulse'"):
        decode_turnstile({"id": "T1", "type": "usb_relay", "pulse": 5})


def _example_blocks() -> dict[str, dict]:
    """The commented hardware examples in config.example.toml, uncommented and parsed."""
    import tomllib
    text = EXAMPLE.read_text(encoding="utf-8")
    blocks = {}
    for kind, body in re.findall(r"# BEGIN turnstile example (\w+)\n(.*?)# END turnstile example", text, re.S):
        lines = [ln[2:] for ln in body.splitlines() if ln.startswith("# ") and not ln.startswith("# # ")]
        toml = "\n".join(ln.replace("[[edge.turnstiles]]", "[[turnstiles]]") for ln in lines)
        blocks[kind] = tomllib.loads(toml)["turnstiles"][0]
    return blocks


def test_example_documents_every_key_of_every_kind():
    import tomllib
    blocks = _example_blocks()
    blocks["simulated"] = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))["edge"]["turnstiles"][0]
    assert set(blocks) == set(KINDS)
    for kind, table in blocks.items():
        cfg = decode_turnstile(table, kind)
        assert cfg.type == kind
        assert sorted(table) == sorted(f.name for f in dataclasses.fields(KINDS[kind])), kind
    text = EXAMPLE.read_text(encoding="utf-8")
    for body in re.findall(r"# BEGIN turnstile example \w+\n(.*?)# END", text, re.S):
        lines = body.splitlines()
        for i, ln in enumerate(lines):       # every example key has a "# # " comment above its group
            if "=" in ln and not ln.startswith("# # "):
                j = i - 1
                while j >= 0 and "=" in lines[j] and not lines[j].startswith("# # "):
                    j -= 1
                assert lines[j].startswith("# # "), ln
