"""TOML configuration into typed, frozen dataclasses (shared_schema.typed_config)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pytest

from shared_schema.typed_config import KNOWN_TOP_LEVEL, ConfigError, decode_config, load, load_table
from shared_schema.wire import field


@dataclass(frozen=True)
class SyncConfig:
    batch_size: int = field(min=1, max=1000, default=200)
    interval_s: float = field(min=0.1, max=3600.0, default=2.0)
    topics: list[str] = field(default_factory=lambda: ["punches"], max_items=5)
    ack_timeout_s: float = field(min=0.0, default=30.0)  # no upper bound


@dataclass(frozen=True)
class EdgeConfig:
    gateway_id: str = field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    broker: str = field(max_len=64)
    sync: SyncConfig = field(default_factory=SyncConfig)
    debug: bool = field(default=False)
    site_name: str | None = field(default=None, max_len=32)

    def __post_init__(self):
        if self.debug and self.broker.startswith("mqtts://prod"):
            raise ValueError("debug must be off against production")


@dataclass(frozen=True)
class ReceiverConfig:
    receiver_id: str = field(max_len=32)


def write(tmp_path, text: str, name: str = "c.toml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def config_error(tmp_path, text: str, cls=EdgeConfig, section="edge") -> str:
    with pytest.raises(ConfigError) as exc:
        load(cls, write(tmp_path, text), section)
    return str(exc.value)


FULL = """
[edge]
gateway_id = "GW1"
broker = "mqtts://city.example:8883"
debug = true
site_name = "佛山一号工地"

[edge.sync]
batch_size = 500
interval_s = 0.5
topics = ["punches", "heartbeat"]

[receiver]
receiver_id = "rx1"
"""


def test_full_file(tmp_path):
    path = write(tmp_path, FULL)
    cfg = load(EdgeConfig, path, "edge")
    assert cfg == EdgeConfig(gateway_id="GW1", broker="mqtts://city.example:8883",
                             sync=SyncConfig(batch_size=500, interval_s=0.5,
                                             topics=("punches", "heartbeat")),
                             debug=True, site_name="佛山一号工地")
    assert load(ReceiverConfig, path, "receiver") == ReceiverConfig(receiver_id="rx1")
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.debug = False


def test_defaults_and_default_factory(tmp_path):
    cfg = load(EdgeConfig, write(tmp_path, '[edge]\ngateway_id = "GW1"\nbroker = "b"\n'), "edge")
    assert cfg.sync == SyncConfig(batch_size=200, interval_s=2.0, topics=["punches"],
                                  ack_timeout_s=30.0)
    assert cfg.debug is False and cfg.site_name is None
    other = load(EdgeConfig, write(tmp_path, '[edge]\ngateway_id = "GW2"\nbroker = "b"\n', "d.toml"),
                 "edge")
    assert other.sync.topics is not cfg.sync.topics  # default_factory: a fresh list each time


def test_partial_nested_table_uses_defaults(tmp_path):
    cfg = load(EdgeConfig, write(tmp_path, '[edge]\ngateway_id = "GW1"\nbroker = "b"\n'
                                           '[edge.sync]\ninterval_s = 5\n'), "edge")
    assert cfg.sync.batch_size == 200 and cfg.sync.interval_s == 5.0
    assert type(cfg.sync.interval_s) is float


def test_inline_and_dotted_tables(tmp_path):
    a = load(EdgeConfig, write(tmp_path, '[edge]\ngateway_id = "GW1"\nbroker = "b"\n'
                                         'sync = { batch_size = 7 }\n', "a.toml"), "edge")
    b = load(EdgeConfig, write(tmp_path, '[edge]\ngateway_id = "GW1"\nbroker = "b"\n'
                                         'sync.batch_size = 7\n', "b.toml"), "edge")
    assert a == b and a.sync.batch_size == 7


def test_unknown_nested_key_names_key_and_path(tmp_path):
    path = write(tmp_path, '[edge]\ngateway_id = "GW1"\nbroker = "b"\n[edge.sync]\nbach_size = 5\n')
    with pytest.raises(ConfigError) as exc:
        load(EdgeConfig, path, "edge")
    assert "edge.sync: unknown field 'bach_size'" in str(exc.value)
    assert str(path) in str(exc.value)


def test_unknown_key_at_section_level(tmp_path):
    msg = config_error(tmp_path, '[edge]\ngateway_id = "GW1"\nbroker = "b"\nbrokr = "x"\n')
    assert "edge: unknown field 'brokr'" in msg


@pytest.mark.parametrize("body, needle", [
    ('gateway_id = "GW1"\n', "missing field 'edge.broker'"),
    ('gateway_id = 1\nbroker = "b"\n', "edge.gateway_id must be a string"),
    ('gateway_id = "GW/1"\nbroker = "b"\n', "edge.gateway_id has the wrong format"),
    ('gateway_id = "GW1"\nbroker = "b"\ndebug = "yes"\n', "edge.debug must be true or false"),
    ('gateway_id = "GW1"\nbroker = "b"\ndebug = 1\n', "edge.debug must be true or false"),
    ('gateway_id = "GW1"\nbroker = "b"\n[edge.sync]\nbatch_size = "5"\n', "edge.sync.batch_size must be an integer"),
    ('gateway_id = "GW1"\nbroker = "b"\n[edge.sync]\nbatch_size = 5.0\n', "edge.sync.batch_size must be an integer"),
    ('gateway_id = "GW1"\nbroker = "b"\n[edge.sync]\nbatch_size = true\n', "edge.sync.batch_size must be an integer"),
    ('gateway_id = "GW1"\nbroker = "b"\n[edge.sync]\nbatch_size = 0\n', "edge.sync.batch_size must be ≥ 1"),
    ('gateway_id = "GW1"\nbroker = "b"\n[edge.sync]\nbatch_size = 1001\n', "edge.sync.batch_size must be ≤ 1000"),
    ('gateway_id = "GW1"\nbroker = "b"\n[edge.sync]\ninterval_s = "2"\n', "edge.sync.interval_s must be a number"),
    ('gateway_id = "GW1"\nbroker = "b"\n[edge.sync]\ninterval_s = 0.01\n', "edge.sync.interval_s must be ≥ 0.1"),
    ('gateway_id = "GW1"\nbroker = "b"\n[edge.sync]\ntopics = "punches"\n', "edge.sync.topics must be a list"),
    ('gateway_id = "GW1"\nbroker = "b"\n[edge.sync]\ntopics = [1]\n', "edge.sync.topics[0] must be a string"),
    ('gateway_id = "GW1"\nbroker = "b"\n[edge.sync]\ntopics = ["a","b","c","d","e","f"]\n', "edge.sync.topics has more than 5"),
    ('gateway_id = "GW1"\nbroker = "b"\nsync = 3\n', "edge.sync must be an object"),
    ('gateway_id = "GW1"\nbroker = "b"\nsite_name = 1979-05-27\n', "edge.site_name must be a string"),
    ('gateway_id = "GW1"\nbroker = "b"\nsite_name = "' + "x" * 33 + '"\n', "edge.site_name longer than 32"),
    ('gateway_id = "GW1"\nbroker = "mqtts://prod"\ndebug = true\n', "debug must be off against production"),
])
def test_wrong_values_name_the_key(tmp_path, body, needle):
    assert needle in config_error(tmp_path, "[edge]\n" + body)


@pytest.mark.parametrize("name", ["interval_s", "ack_timeout_s"])
@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "+nan"])
def test_non_finite_floats_rejected(tmp_path, name, value):
    """Pins a bug: TOML ``nan``/``inf`` passed the float range checks (every
    comparison with NaN is false; inf has no upper bound when max is unset)."""
    msg = config_error(tmp_path, f'[edge]\ngateway_id = "GW1"\nbroker = "b"\n[edge.sync]\n'
                                 f"{name} = {value}\n")
    assert f"edge.sync.{name}" in msg


def test_bad_toml(tmp_path):
    msg = config_error(tmp_path, '[edge]\ngateway_id = "GW1\n')
    assert "not valid TOML" in msg
    assert "not valid TOML" in config_error(tmp_path, "[edge]\na = 1\na = 2\n")
    assert "not valid TOML" in config_error(tmp_path, "[edge\n")


def test_not_utf8(tmp_path):
    path = tmp_path / "c.toml"
    path.write_bytes(b'[edge]\ngateway_id = "\xff"\n')
    with pytest.raises(ConfigError) as exc:
        load(EdgeConfig, path, "edge")
    assert "not valid TOML" in str(exc.value)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError) as exc:
        load(EdgeConfig, tmp_path / "nope.toml", "edge")
    assert "nope.toml" in str(exc.value) and "cannot read" in str(exc.value)
    with pytest.raises(ConfigError):
        load(EdgeConfig, tmp_path, "edge")  # a directory


def test_unknown_top_level_table(tmp_path):
    assert KNOWN_TOP_LEVEL == ("edge", "receiver")
    msg = config_error(tmp_path, '[egde]\ngateway_id = "GW1"\n')
    assert "unknown top-level table 'egde'" in msg
    msg = config_error(tmp_path, 'zzz = 1\n' + FULL)  # a stray top-level key, too
    assert "unknown top-level table 'zzz'" in msg


def test_missing_section(tmp_path):
    assert "missing table [edge]" in config_error(tmp_path, '[receiver]\nreceiver_id = "rx"\n')
    assert "missing table [edge]" in config_error(tmp_path, "")


def test_load_table_and_decode_config(tmp_path):
    table = load_table(write(tmp_path, FULL), "edge")
    assert table["sync"]["batch_size"] == 500
    cfg = decode_config(EdgeConfig, table, "edge")
    assert cfg.sync.batch_size == 500
    with pytest.raises(ConfigError) as exc:
        decode_config(EdgeConfig, {"gateway_id": "GW1", "broker": "b", "sync": {"bach_size": 1}},
                      "edge", "inline")
    assert str(exc.value) == "inline: edge.sync: unknown field 'bach_size'"


def test_config_error_is_value_error():
    assert issubclass(ConfigError, ValueError)
