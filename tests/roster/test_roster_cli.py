"""``edge-agent roster keygen / import / list / status`` against a real config and files."""

from __future__ import annotations

import json
import stat

from edge_agent.cli import main
from test_roster_import import csv_bytes, good_and_bad_rows


def write_config(tmp_path):
    cfg = tmp_path / "edge.toml"
    cfg.write_text('[edge]\ngateway_id = "GW-C1"\nproject_code = "P-CLI"\n'
                   '[edge.roster]\ndb_path = "var/roster.db"\ntemplate_key_file = "keys/template.key"\n')
    return cfg


def test_keygen_import_list_status(tmp_path, capsys):
    cfg = write_config(tmp_path)
    assert main(["--config", str(cfg), "roster", "keygen"]) == 0
    key = tmp_path / "keys" / "template.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    before = key.read_bytes()
    assert main(["--config", str(cfg), "roster", "keygen"]) == 1          # never overwrites
    assert key.read_bytes() == before
    assert "refusing to overwrite" in capsys.readouterr().err

    sheet = tmp_path / "r.csv"
    sheet.write_bytes(csv_bytes(good_and_bad_rows()))
    assert main(["--config", str(cfg), "roster", "import", str(sheet), "--operator", "op", "--json"]) == 4
    rep = json.loads(capsys.readouterr().out)
    assert rep["imported"] == 2 and rep["bad_rows"] == [3, 4, 7]

    assert main(["--config", str(cfg), "roster", "list", "--status", "active"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["total"] == 2 and all("*" in w["id_number"] for w in out["items"])

    assert main(["--config", str(cfg), "roster", "status"]) == 0
    assert json.loads(capsys.readouterr().out)["pending"] == 2

    garbage = tmp_path / "g.csv"
    garbage.write_bytes(b"\x00\x01" * 50)
    assert main(["--config", str(cfg), "roster", "import", str(garbage), "--operator", "op"]) == 1
    assert "binary" in capsys.readouterr().err
