"""The [edge] configuration: the example file, and errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_helpers import REPO, config_text
from edge_agent.config import ConfigError, EdgeConfig, load_config
from shared_schema.messages import MAX_BATCH_ENTRIES


def test_example_config_decodes():
    cfg = load_config(REPO / "config.example.toml")
    assert isinstance(cfg, EdgeConfig)
    assert cfg.sync.batch_max_entries == 500
    assert cfg.gates[0].id == "G1"
    # relative paths resolve against the config file's folder
    assert cfg.ledger.path == str(REPO / "var" / "edge-ledger.db")
    assert cfg.signing_key_file == str(REPO / "keys" / "gateway.key")


def write(tmp_path, text) -> Path:
    p = tmp_path / "c.toml"
    p.write_text(text)
    return p


def test_relative_paths_resolve_against_config_dir(tmp_path):
    sub = tmp_path / "etc"
    sub.mkdir()
    cfg = load_config(write(sub, config_text()))
    assert cfg.ledger.path == str(sub / "var" / "ledger.db")
    assert cfg.receiver_public_key_file == str(sub / "keys" / "receiver.pub")


@pytest.mark.parametrize("text,needle", [
    (config_text(top='gatway_id = "x"'), "gatway_id"),
    (config_text(sync="bach_size = 3"), "bach_size"),
    (config_text(ledger="retention = 3"), "retention"),
    (config_text(sync='batch_max_entries = "500"'), "batch_max_entries"),
    (config_text(sync=f"batch_max_entries = {MAX_BATCH_ENTRIES + 1}"), "batch_max_entries"),
    (config_text(sync="batch_max_bytes = 1048576"), "batch_max_bytes"),
    (config_text(sync="ack_timeout_s = true"), "ack_timeout_s"),
    (config_text(sync="backoff_min_s = 5.0\nbackoff_max_s = 1.0"), "backoff_min_s"),
    (config_text().replace('"GW-T1"', '"GW/#"'), "gateway_id"),
    (config_text(top='log_level = "LOUD"'), "log_level"),
    (config_text(top='gates = []'), "gates"),
])
def test_bad_values_name_the_key(tmp_path, text, needle):
    with pytest.raises(ConfigError) as exc:
        load_config(write(tmp_path, text))
    assert needle in str(exc.value)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "nope.toml")


def test_bad_toml(tmp_path):
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write(tmp_path, "[edge\ngateway_id = 1"))


def test_missing_required_key(tmp_path):
    with pytest.raises(ConfigError, match="project_code"):
        load_config(write(tmp_path, config_text().replace('project_code = "P-TEST"\n', "")))
