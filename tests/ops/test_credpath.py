"""``${CREDENTIALS_DIRECTORY}`` in configured key paths (shared_schema.credpath) and in both loaders."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cloud_receiver.config import load_config as load_receiver
from edge_agent.config import ConfigError
from edge_agent.config import load_config as load_edge
from shared_schema.credpath import CredentialsPathError, expand

CRED = "/run/credentials/edge-agent.service"


def test_set_variable_is_used_and_fallback_ignored():
    env = {"CREDENTIALS_DIRECTORY": CRED}
    assert expand("${CREDENTIALS_DIRECTORY}/gateway.key", env) == f"{CRED}/gateway.key"
    assert expand("${CREDENTIALS_DIRECTORY:-/etc/rn/keys}/gateway.key", env) == f"{CRED}/gateway.key"
    assert expand("${CREDENTIALS_DIRECTORY}/k", {"CREDENTIALS_DIRECTORY": CRED + "/"}) == f"{CRED}/k"


def test_unset_variable_uses_the_fallback_or_explains():
    assert expand("${CREDENTIALS_DIRECTORY:-/etc/rn/keys}/gateway.key", {}) == "/etc/rn/keys/gateway.key"
    assert expand("${CREDENTIALS_DIRECTORY:-/etc/rn/keys}/k", {"CREDENTIALS_DIRECTORY": ""}) == "/etc/rn/keys/k"
    with pytest.raises(CredentialsPathError, match="CREDENTIALS_DIRECTORY is not set.*LoadCredential"):
        expand("${CREDENTIALS_DIRECTORY}/gateway.key", {})


@pytest.mark.parametrize("bad", ["${HOME}/key", "$CREDENTIALS_DIRECTORY/key", "/etc/$x", "${CREDENTIALS_DIRECTORY",
                                 "${CREDENTIALS_DIRECTORY:-${HOME}}/k", "${}/k", "${CREDENTIALS_DIRECTORY:=/x}/k"])
def test_other_variables_and_malformed_references_are_refused(bad):
    with pytest.raises(CredentialsPathError):
        expand(bad, {"CREDENTIALS_DIRECTORY": CRED, "HOME": "/root"})


@given(st.text(alphabet=st.characters(blacklist_characters="$", blacklist_categories=("Cs",)), max_size=80))
def test_paths_without_a_dollar_are_untouched(path):
    assert expand(path, {"CREDENTIALS_DIRECTORY": CRED}) == path


@given(st.text(alphabet="abcdefghij._-", min_size=1, max_size=40), st.text(alphabet="abc/_-.", max_size=30))
def test_expansion_is_plain_prefix_substitution(name, rest):
    cred = "/run/credentials/" + name
    assert expand("${CREDENTIALS_DIRECTORY}" + rest, {"CREDENTIALS_DIRECTORY": cred}) == cred + rest


def _edge_toml(tmp_path, key: str):
    p = tmp_path / "edge.toml"
    p.write_text(f'[edge]\ngateway_id = "GW-1"\nproject_code = "P-1"\nsigning_key_file = "{key}"\n')
    return p


def test_edge_loader_expands_and_names_the_problem(tmp_path, monkeypatch):
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", CRED)
    assert load_edge(_edge_toml(tmp_path, "${CREDENTIALS_DIRECTORY}/gateway.key")).signing_key_file == \
        f"{CRED}/gateway.key"
    monkeypatch.delenv("CREDENTIALS_DIRECTORY")
    with pytest.raises(ConfigError, match="CREDENTIALS_DIRECTORY is not set"):
        load_edge(_edge_toml(tmp_path, "${CREDENTIALS_DIRECTORY}/gateway.key"))
    # relative fallback resolves against the config file's folder, like any relative path
    cfg = load_edge(_edge_toml(tmp_path, "${CREDENTIALS_DIRECTORY:-keys}/gateway.key"))
    assert cfg.signing_key_file == str(tmp_path / "keys" / "gateway.key")


def test_receiver_loader_expands(tmp_path, monkeypatch):
    p = tmp_path / "rx.toml"
    p.write_text('[receiver]\nreceiver_id = "rx-1"\nsigning_key_file = "${CREDENTIALS_DIRECTORY}/receiver.key"\n')
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", "/run/credentials/cloud-receiver.service")
    assert load_receiver(p).signing_key_file == "/run/credentials/cloud-receiver.service/receiver.key"
    monkeypatch.delenv("CREDENTIALS_DIRECTORY")
    with pytest.raises(ConfigError, match="CREDENTIALS_DIRECTORY is not set"):
        load_receiver(p)
