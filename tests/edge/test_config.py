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


def test_cameras_decode_by_type_and_gates_must_name_a_known_camera(tmp_path):
    gates = 'gates = [{ id = "G1", direction = "both", camera = "C1" }]'
    cams = '\n[[edge.cameras]]\nid = "C1"\ntype = "file"\npath = "videos/gate.mp4"\n'
    text = config_text(top=gates).replace("\n[edge.ledger]", cams + "\n[edge.ledger]", 1)
    cfg = load_config(write(tmp_path, text))
    assert cfg.gates[0].camera == "C1" and cfg.cameras[0].type == "file"
    assert cfg.cameras[0].path == str(tmp_path / "videos" / "gate.mp4")  # relative to the config file
    with pytest.raises(ConfigError, match="edge.cameras\\[0\\]: unknown field 'pth'"):
        load_config(write(tmp_path, text.replace("path =", "pth =")))
    with pytest.raises(ConfigError, match="camera 'C9' is not in cameras"):
        load_config(write(tmp_path, text.replace('camera = "C1"', 'camera = "C9"')))
