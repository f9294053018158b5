"""YuNet detection and SFace descriptors on real photos."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from edge_agent.vision.backend import REGISTRY, create_backend
from edge_agent.vision.config import VisionConfig
from edge_agent.vision.images import read_image


@pytest.mark.parametrize("rel", [
    "identities/Colin_Powell/1.jpg",          # 250x250 LFW crop
    "identities/Barack_Obama/1.jpg",          # 910x1137, face ~270 px
    "identities/deepface_person_C/1.jpg",
    "misc/edge_obama_1080p.jpg",
])
def test_one_upright_face_with_landmarks(backend, faces_dir, rel):
    img = read_image(faces_dir / rel)
    faces = backend.detect(img)
    assert faces, rel
    f = faces[0]
    x, y, w, h = f.box
    assert f.score >= 0.9 and w > 40 and h > 40
    lm = f.landmarks
    assert lm.shape == (5, 2)
    assert np.all((lm[:, 0] >= x - 0.1 * w) & (lm[:, 0] <= x + 1.1 * w))
    assert np.all((lm[:, 1] >= y - 0.1 * h) & (lm[:, 1] <= y + 1.1 * h))
    assert lm[0, 0] < lm[1, 0] and lm[3, 0] < lm[4, 0]     # subject's right eye/mouth on the image's left
    assert lm[:2, 1].max() < lm[3:, 1].min()


def test_big_face_needs_the_downscaled_pass(faces_dir, backend):
    """YuNet misses faces much larger than ~300 px at full size; the ≤640 px pass finds them."""
    from edge_agent.vision.sface import SFaceBackend
    img = read_image(faces_dir / "identities/deepface_person_A/1.jpg")   # 1184x1600 after the cap
    assert SFaceBackend(VisionConfig(detect_max_side=4096)).detect(img) == []   # full size only
    faces = backend.detect(img)
    assert len(faces) == 1 and faces[0].size_px > 300
    # the full-size-first order (retry on the small copy) finds it too
    assert len(SFaceBackend(downscale_first=False).detect(img)) == 1


def test_group_photo_largest_face_first(backend, faces_dir):
    faces = backend.detect(read_image(faces_dir / "misc/group_couple.jpg"))
    assert len(faces) >= 2
    sizes = [f.box[2] * f.box[3] for f in faces]
    assert sizes == sorted(sizes, reverse=True)


@pytest.mark.parametrize("rel", ["misc/nonface_coffee.png", "misc/nonface_rocket.jpg"])
def test_no_face_on_non_face_photos(backend, faces_dir, rel):
    assert backend.detect(read_image(faces_dir / rel)) == []


def test_embeddings_are_unit_float32(embed):
    v = embed("identities/Colin_Powell/1.jpg")
    assert v.dtype == np.float32 and v.shape == (128,)
    assert abs(float(np.linalg.norm(v)) - 1.0) < 1e-5


PEOPLE = ["Colin_Powell", "Junichiro_Koizumi", "Li_Peng", "Michelle_Kwan", "Serena_Williams",
          "deepface_person_A"]


def test_same_person_scores_higher_than_different_people(backend, embed):
    """Every same-person pair beats every different-person pair, and the model's 0.363 separates them."""
    vecs = {p: [embed(f"identities/{p}/{i}.jpg") for i in (1, 2, 3)] for p in PEOPLE}
    same = [float(backend.similarity(a, b)) for p in PEOPLE for a, b in itertools.combinations(vecs[p], 2)]
    diff = [float(backend.similarity(a, b)) for p, q in itertools.combinations(PEOPLE, 2)
            for a in vecs[p] for b in vecs[q]]
    assert min(same) > max(diff)
    assert min(same) >= 0.363 > max(diff)


def test_registry_defaults_to_sface_and_names_unknown_types():
    assert create_backend().name == "sface" and "sface" in REGISTRY
    with pytest.raises(ValueError, match="sface"):
        create_backend(VisionConfig(type="arcface"))   # not a backend: the error lists the known ones
