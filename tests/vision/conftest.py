"""Real faces from ../shared/data/faces (never copied into the repo); the suite fails without them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
FACES = REPO.parent / "shared" / "data" / "faces"


@pytest.fixture(scope="session")
def faces_dir() -> Path:
    if not (FACES / "identities").is_dir():
        pytest.fail(f"test data missing: {FACES}/identities must exist beside the checkout", pytrace=False)
    return FACES


@pytest.fixture(scope="session")
def backend():
    from edge_agent.vision.sface import SFaceBackend
    return SFaceBackend()


@pytest.fixture(scope="session")
def embed(backend, faces_dir):
    """embed("identities/Colin_Powell/1.jpg") -> unit vector of the largest face (cached)."""
    from edge_agent.vision.images import read_image
    cache: dict[str, np.ndarray] = {}

    def _embed(rel: str) -> np.ndarray:
        if rel not in cache:
            img = read_image(faces_dir / rel)
            faces = backend.detect(img)
            assert faces, f"no face found in {rel}"
            cache[rel] = backend.embed(img, faces[0])
        return cache[rel]
    return _embed
