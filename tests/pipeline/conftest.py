"""Fixtures of the gate vision pipeline tests (helpers: pipeline_rig.py)."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline_rig import Rig, faces_path, read_image


@pytest.fixture(scope="session")
def backend():
    from edge_agent.vision.sface import SFaceBackend
    return SFaceBackend()


@pytest.fixture(scope="session")
def judge():
    from edge_agent.liveness.judge import create_judge
    return create_judge()


@pytest.fixture(scope="session")
def roster(backend) -> dict[str, np.ndarray]:
    """Every shared identity, enrolled from its first image (sorted names): the site's other workers."""
    out = {}
    for person in sorted(p for p in faces_path("identities").iterdir() if p.is_dir()):
        img = read_image(sorted(person.glob("*.jpg"))[0])
        faces = backend.detect(img)
        assert faces, f"no face in the first image of {person.name}"
        out[person.name] = backend.embed(img, faces[0])[None, :]
    return out


@pytest.fixture
def rig(tmp_path):
    made = []

    def make(backend, judge, gallery, **kw) -> Rig:
        r = Rig(tmp_path / f"rig{len(made)}", backend, judge, gallery, **kw)
        made.append(r)
        return r
    yield make
    for r in made:
        r.close()
