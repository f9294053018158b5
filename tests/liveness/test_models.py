"""The shipped MiniFASNet files are byte-identical to the provenance note, licence beside them."""

from __future__ import annotations

import hashlib
import re

from edge_agent.liveness.config import LivenessConfig
from edge_agent.liveness.judge import models_dir


def test_shipped_files_match_provenance():
    folder = models_dir(LivenessConfig())
    note = (folder / "PROVENANCE.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| `([^`]+)` \| \d+ \| ([0-9a-f]{64}) \|", note, re.M))
    assert set(rows) == {"MiniFASNetV2.onnx", "MiniFASNetV1SE.onnx", "MiniFASNet-LICENSE-Apache-2.0.txt"}
    for name, digest in rows.items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest, name
    assert "Apache License" in (folder / "MiniFASNet-LICENSE-Apache-2.0.txt").read_text(encoding="utf-8")


def test_package_data_ships_the_liveness_models():
    import tomllib
    from pathlib import Path
    py = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text(encoding="utf-8"))
    globs = py["tool"]["setuptools"]["package-data"]["edge_agent.liveness"]
    assert {"models/*.onnx", "models/*.txt", "models/*.md"} <= set(globs)
