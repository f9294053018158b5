"""The shipped model files are OpenCV Zoo's bytes, with their licences, and are package data."""

from __future__ import annotations

import fnmatch
import hashlib
import tomllib

from edge_agent.vision.sface import SFACE_FILE, YUNET_FILE, models_dir

from .conftest import REPO

SHA256 = {
    YUNET_FILE: "8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4",
    SFACE_FILE: "0ba9fbfa01b5270c96627c4ef784da859931e02f04419c829e83484087c34e79",
    "YuNet-LICENSE-MIT.txt": "c83b8120c50ccbd4c4f96edf53141bdd566ebb8f8e9227e415326aa1b1aba958",
    "SFace-LICENSE-Apache-2.0.txt": "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30",
}


def test_model_files_match_their_provenance():
    folder = models_dir()
    provenance = (folder / "PROVENANCE.md").read_text(encoding="utf-8")
    for name, digest in SHA256.items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest, name
        assert digest in provenance and name in provenance
    assert "training data" in provenance.lower()


def test_models_and_licences_are_package_data():
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = pyproject["tool"]["setuptools"]["package-data"]["edge_agent.vision"]
    for name in [*SHA256, "PROVENANCE.md"]:
        assert any(fnmatch.fnmatch(f"models/{name}", p) for p in patterns), name
    deps = pyproject["project"]["dependencies"]
    assert "numpy==1.26.4" in deps and "opencv-python-headless==4.11.0.86" in deps
