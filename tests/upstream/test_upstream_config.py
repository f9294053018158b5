"""``[receiver.upstream]``: strict keys, the secret file's permissions, the endpoint URL; and the CLI."""

from __future__ import annotations

import json
import os

import pytest

from cloud_receiver.cli import main
from cloud_receiver.config import load_config
from shared_schema.typed_config import ConfigError

SECRET = "0123456789abcdef0123456789ABCDEF"


def _config(tmp_path, upstream: str, store_url: str | None = None):
    cfg = tmp_path / "receiver.toml"
    cfg.write_text(f"""
[receiver]
receiver_id = "rx-test"
signing_key_file = "city.key"

[receiver.store]
url = "{store_url or 'sqlite:///receiver.db'}"

[receiver.upstream]
{upstream}
""")
    return cfg


def _secret(tmp_path, mode=0o600, text=SECRET):
    p = tmp_path / "national.secret"
    p.write_text(text + "\n")
    os.chmod(p, mode)
    return p


def test_defaults_off(tmp_path):
    cfg = load_config(_config(tmp_path, ""))
    assert cfg.upstream.enabled is False and cfg.upstream.projects == ()


def test_enabled_config_loads_with_a_relative_secret_file(tmp_path):
    _secret(tmp_path)
    cfg = load_config(_config(tmp_path, 'enabled = true\nendpoint = "https://platform.example/api"\n'
                                        'appid = "44060620230801001"\nappsecret_file = "national.secret"\n'
                                        'projects = ["P-100"]\nbatch_size = 50'))
    assert cfg.upstream.appsecret_file == str(tmp_path / "national.secret")
    assert cfg.upstream.batch_size == 50 and tuple(cfg.upstream.projects) == ("P-100",)


@pytest.mark.parametrize("body, words", [
    ('enabled = true\nendpiont = "https://x"', "endpiont"),
    ('batch_size = 0', "batch_size"),
    ('endpoint = "ftp://platform.example/api"', "endpoint must be an http:// or https:// URL"),
    ('endpoint = "not a url"', "endpoint must be an http:// or https:// URL"),
    ('enabled = true\nappid = "A"\nappsecret_file = "national.secret"', "endpoint is not set"),
    ('enabled = true\nendpoint = "https://p.example/api"\nappsecret_file = "national.secret"', "appid is not set"),
    ('projects = ["P 1"]', "projects"),
])
def test_config_errors_name_the_problem(tmp_path, body, words):
    _secret(tmp_path)
    with pytest.raises(ConfigError) as e:
        load_config(_config(tmp_path, body))
    assert words in str(e.value) and "upstream" in str(e.value)


@pytest.mark.parametrize("mode, words", [
    (0o644, "accessible to group or others (mode 0644); chmod 600 it"),
    (0o640, "accessible to group or others"),
    (0o604, "accessible to group or others"),
])
def test_the_secret_file_must_be_private(tmp_path, mode, words):
    _secret(tmp_path, mode)
    with pytest.raises(ConfigError) as e:
        load_config(_config(tmp_path, 'enabled = true\nendpoint = "https://p.example/api"\nappid = "A"\n'
                                      'appsecret_file = "national.secret"'))
    assert words in str(e.value) and SECRET not in str(e.value)


def test_a_malformed_secret_is_refused_when_the_upload_starts(tmp_path, capsys):
    from cloud_receiver.cli import _upstream_hooks

    _secret(tmp_path, text="short")
    cfg = _config(tmp_path, 'enabled = true\nendpoint = "https://p.example/api"\nappid = "A"\n'
                            'appsecret_file = "national.secret"')
    assert main(["--config", str(cfg), "upstream", "run-once"]) == 2
    assert "exactly 32 characters" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        _upstream_hooks(load_config(cfg), None)
    assert e.value.code == 2 and "exactly 32 characters" in capsys.readouterr().err


def test_a_missing_secret_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(_config(tmp_path, 'enabled = true\nendpoint = "https://p.example/api"\nappid = "A"\n'
                                      'appsecret_file = "nope.secret"'))


def test_cli_status_and_run_once(tmp_path, platform, capsys):
    from .upstream_site import Site
    from cloud_receiver.store import open_store

    db = f"sqlite:///{tmp_path / 'receiver.db'}"
    store = open_store(db, migrate=True)
    site = Site(store)
    site.enroll("W1")
    site.workday("W1", "2026-03-02")
    site.flush()
    store.close()
    _secret(tmp_path)
    cfg = _config(tmp_path, f'enabled = true\nendpoint = "{platform.url}"\nappid = "44060620230801001"\n'
                            'appsecret_file = "national.secret"\nsettle_s = 0.0', store_url=db)
    assert main(["--config", str(cfg), "upstream", "run-once"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["submitted"] == {"company": 1} and out["lease"]
    assert main(["--config", str(cfg), "upstream", "status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["enabled"] is True and status["objects"]["company"] == {"submitted": 1}
    assert main(["--config", str(cfg), "upstream", "status"]) == 0
    text = capsys.readouterr().out
    assert "company: submitted 1" in text and "project P-100" in text


def test_the_receiver_adds_the_hook_only_when_enabled(tmp_path):
    from cloud_receiver.cli import _upstream_hooks
    from cloud_receiver.store import open_store
    from cloud_receiver.upstream.job import UpstreamHook

    store = open_store(f"sqlite:///{tmp_path / 'r.db'}", migrate=True)
    try:
        assert _upstream_hooks(load_config(_config(tmp_path, "")), store) == []
        _secret(tmp_path)
        cfg = load_config(_config(tmp_path, 'enabled = true\nendpoint = "https://p.example/api"\nappid = "A"\n'
                                            'appsecret_file = "national.secret"\ninterval_s = 120.0'))
        (hook,) = _upstream_hooks(cfg, store)
        assert isinstance(hook, UpstreamHook) and hook.interval_s == 120.0
        assert hook.job.holder.endswith(":rx-test") and SECRET not in repr(hook.job.client)
    finally:
        store.close()


def test_run_once_refuses_an_incomplete_config(tmp_path, capsys):
    cfg = _config(tmp_path, "")
    assert main(["--config", str(cfg), "upstream", "run-once"]) == 2
    assert "endpoint is not set" in capsys.readouterr().err
