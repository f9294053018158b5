from pathlib import Path

import pytest

from cloud_receiver.config import ReceiverConfig, load_config
from shared_schema.typed_config import ConfigError

REPO = Path(__file__).resolve().parents[2]


def test_example_config_receiver_section_loads():
    cfg = load_config(REPO / "config.example.toml")
    assert isinstance(cfg, ReceiverConfig)
    assert cfg.receiver_id == "rx-city-1"
    assert cfg.mqtt.share_group == "receivers" and cfg.mqtt.port == 1883
    assert cfg.signing_key_file == str(REPO / "receiver-ack.key")  # relative → config folder
    assert cfg.store.url == f"sqlite:///{REPO / 'receiver.db'}"
    assert cfg.api.tokens_file == str(REPO / "api-tokens.txt")


def test_unknown_key_is_an_error_naming_it(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text('[receiver]\nreceiver_id = "r1"\nsigning_key_file = "k"\n[receiver.mqtt]\nshare_grup = "x"\n')
    with pytest.raises(ConfigError, match="share_grup"):
        load_config(p)


def test_missing_required_key(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text('[receiver]\nreceiver_id = "r1"\n')
    with pytest.raises(ConfigError, match="signing_key_file"):
        load_config(p)


def test_tokens_from_file_and_minimum_length(tmp_path):
    (tmp_path / "tok.txt").write_text("# ops\nabcdefghijklmnop-1\n\n")
    p = tmp_path / "c.toml"
    p.write_text('[receiver]\nreceiver_id = "r1"\nsigning_key_file = "/abs/k"\n'
                 '[receiver.api]\ntokens = ["0123456789abcdef"]\ntokens_file = "tok.txt"\n')
    cfg = load_config(p)
    assert cfg.signing_key_file == "/abs/k"
    assert cfg.api_tokens() == {"0123456789abcdef", "abcdefghijklmnop-1"}
    p.write_text('[receiver]\nreceiver_id = "r1"\nsigning_key_file = "k"\n[receiver.api]\ntokens = ["short"]\n')
    with pytest.raises(ConfigError, match="at least 16"):
        load_config(p).api_tokens()


def test_bad_store_url(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text('[receiver]\nreceiver_id = "r1"\nsigning_key_file = "k"\n[receiver.store]\nurl = "mysql://x"\n')
    with pytest.raises(ConfigError, match="store.url"):
        load_config(p)
