"""The duplicate check and the gate gallery with real faces (../shared/data/faces) and the
real recognition backend: a second photo of an enrolled person is caught as a duplicate
naming that person's record; a different person is not."""

from __future__ import annotations

import numpy as np
import pytest

from edge_agent.config import EdgeConfig
from edge_agent.vision.backend import create_backend
from edge_agent.vision.images import read_image
from roster_helpers import record, resident_id

PEOPLE = ("Hu_Jintao", "Jackie_Chan", "Junichiro_Koizumi", "Kim_Dae-jung")


@pytest.fixture(scope="module")
def embed(shared_dir):
    backend = create_backend()

    def one(person: str, n: int) -> np.ndarray:
        path = shared_dir / "data" / "faces" / "identities" / person / f"{n}.jpg"
        if not path.exists():
            pytest.fail(f"test image missing: {path}", pytrace=False)
        frame = read_image(path)
        faces = backend.detect(frame)
        assert faces, f"no face found in {path}"
        best = max(faces, key=lambda f: f.size_px)
        return backend.embed(frame, best)
    return one


def test_a_second_photo_of_an_enrolled_person_is_a_duplicate(registry, embed):
    threshold = EdgeConfig.__dataclass_fields__["roster"].default_factory().duplicate_threshold
    refs = {}
    for i, person in enumerate(PEOPLE):
        w = registry.enroll(record(id_number=resident_id(order=500 + i)), operator="op")
        registry.record_consent(w.worker_ref, granted=True, operator="op")
        registry.set_templates(w.worker_ref, np.stack([embed(person, 1), embed(person, 2)]), operator="op")
        refs[person] = w.worker_ref
    for person in PEOPLE:
        hit = registry.find_duplicate(embed(person, 3)[None], threshold)
        assert hit is not None and hit.worker_ref == refs[person], person
    # the gate's gallery from the same registry identifies the same photos
    g = registry.gallery()
    assert sorted(g.workers) == sorted(refs.values())
    for person in PEOPLE:
        d = g.identify(embed(person, 4), threshold, 0.0)
        assert d.worker == refs[person]


def test_a_stranger_is_not_a_duplicate(registry, embed, shared_dir):
    threshold = EdgeConfig.__dataclass_fields__["roster"].default_factory().duplicate_threshold
    w = registry.enroll(record(), operator="op")
    registry.record_consent(w.worker_ref, granted=True, operator="op")
    registry.set_templates(w.worker_ref, np.stack([embed("Hu_Jintao", 1), embed("Hu_Jintao", 2)]), operator="op")
    assert registry.find_duplicate(embed("Jackie_Chan", 1)[None], threshold) is None
