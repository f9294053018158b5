"""The systemd units, the packages' config templates and their maintainer scripts agree on paths:
what the unit runs is what the package installs, the state directory is where the ledger / store
is configured, the credential the unit loads is the key postinst creates."""

from __future__ import annotations

from pathlib import Path

import pytest

from cloud_receiver.config import load_config as load_receiver
from edge_agent.config import load_config as load_edge
from ops.test_systemd import UNITS, service_section

REPO = Path(__file__).resolve().parents[2]
CASES = {"edge": ("edge-agent.service", "edge-agent", "edge.toml"),
         "receiver": ("cloud-receiver.service", "cloud-receiver", "receiver.toml")}


@pytest.mark.parametrize("kind", sorted(CASES))
def test_unit_paths_match_the_package(kind, monkeypatch):
    unit, command, conf = CASES[kind]
    s = service_section(UNITS[unit])
    assert s["ExecStart"][0].startswith(f"/opt/realname-{kind}/bin/{command} --config /etc/realname-attendance/{conf} ")
    assert s["StateDirectory"] == [f"realname-{kind}"] and s["ReadWritePaths"] == [f"/var/lib/realname-{kind}"]
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    template = REPO / "packaging" / kind / conf
    cfg = load_edge(template) if kind == "edge" else load_receiver(template)
    data = cfg.ledger.path if kind == "edge" else cfg.store.url[len("sqlite:///"):]
    assert data.startswith(f"/var/lib/realname-{kind}/")
    # every credential the unit loads is a file the shell fallback reads and postinst creates (a missing
    # LoadCredential= source keeps the unit from starting)
    postinst = (REPO / "packaging" / kind / "postinst").read_text()
    creds = dict(c.partition(":")[::2] for c in s["LoadCredential"])
    assert creds[Path(cfg.signing_key_file).name] == cfg.signing_key_file
    assert f'KEY="$KEYS/{Path(cfg.signing_key_file).name}"' in postinst
    for ident, src in creds.items():
        assert src == f"/etc/realname-attendance/keys/{ident}" and (ident in postinst), ident
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", f"/run/credentials/{unit}")
    cfg = load_edge(template) if kind == "edge" else load_receiver(template)
    assert cfg.signing_key_file == f"/run/credentials/{unit}/{Path(cfg.signing_key_file).name}"


def test_everything_the_packaged_agent_writes_is_in_its_writable_folder(monkeypatch):
    """Regression: the packaged edge.toml left the roster database, snapshots and web UI accounts at
    their defaults beside the config in /etc, which ProtectSystem=strict makes read-only."""
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    cfg = load_edge(REPO / "packaging" / "edge" / "edge.toml")
    rw = service_section(UNITS["edge-agent.service"])["ReadWritePaths"][0] + "/"
    writes = {"ledger.path": cfg.ledger.path, "roster.db_path": cfg.roster.db_path,
              "pipeline.snapshot_dir": cfg.pipeline.snapshot_dir, "webui.accounts_db": cfg.webui.accounts_db}
    if cfg.gate_control.socket:
        writes["gate_control.socket"] = cfg.gate_control.socket
    assert {k: v for k, v in writes.items() if not v.startswith(rw)} == {}
    assert cfg.roster.template_key_file == "/etc/realname-attendance/keys/template.key"
