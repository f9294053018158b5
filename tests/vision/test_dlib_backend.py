"""The dlib backend (HOG, 5-point alignment, 128-d ResNet) on real photos from ../shared/data/faces."""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_agent.vision.backend import REGISTRY, create_backend
from edge_agent.vision.config import (DLIB_COSINE_THRESHOLD, DLIB_DESCRIPTOR_NORM, SFACE_COSINE_THRESHOLD,
                                      VisionConfig)
from edge_agent.vision.images import read_image
from shared_schema.wire import DecodeError, decode


@pytest.fixture(scope="session")
def dlib_backend():
    return create_backend(VisionConfig(type="dlib", dlib_upsample=1))


@pytest.fixture(scope="session")
def dlib_embed(dlib_backend, faces_dir):
    cache: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def _embed(rel: str) -> tuple[np.ndarray, np.ndarray]:
        """(unit vector, dlib's raw descriptor) of the largest face of ``rel``."""
        if rel not in cache:
            img = read_image(faces_dir / rel)
            faces = dlib_backend.detect(img)
            assert faces, f"no face found in {rel}"
            cache[rel] = (dlib_backend.embed(img, faces[0]), dlib_backend.raw_descriptor(img, faces[0]))
        return cache[rel]
    return _embed


def test_registered_and_chosen_by_config(dlib_backend):
    assert "dlib" in REGISTRY and dlib_backend.name == "dlib" and dlib_backend.dim == 128
    assert dlib_backend.default_threshold == DLIB_COSINE_THRESHOLD
    assert dlib_backend.upsample == 1


def test_config_takes_the_backends_published_threshold():
    """Regression: match_threshold defaulted to SFace's 0.363, which on dlib's scale (different
    people score ~0.83) would accept nearly every stranger when only ``type`` was switched."""
    assert VisionConfig().match_threshold == SFACE_COSINE_THRESHOLD
    assert VisionConfig(type="dlib").match_threshold == DLIB_COSINE_THRESHOLD
    assert VisionConfig(type="dlib", match_threshold=0.95).match_threshold == 0.95
    assert decode(VisionConfig, {"type": "dlib"}).match_threshold == DLIB_COSINE_THRESHOLD
    assert decode(VisionConfig, {"type": "dlib", "dlib_upsample": 0}).dlib_upsample == 0
    for bad in ({"dlib_upsample": 3}, {"dlib_upsample": -1}, {"dlib_upsample": "1"}, {"type": "dlib2"},
                {"dlib_upsample": 1.5}):
        with pytest.raises(DecodeError, match=next(iter(bad))):
            decode(VisionConfig, bad)


@settings(max_examples=60, deadline=None)
@given(up=st.one_of(st.integers(-5, 8), st.floats(allow_nan=True), st.text(max_size=3), st.none(), st.booleans()))
def test_dlib_upsample_decodes_only_small_non_negative_integers(up):
    ok = type(up) is int and 0 <= up <= 2
    try:
        cfg = decode(VisionConfig, {"type": "dlib", "dlib_upsample": up})
    except DecodeError as exc:
        assert not ok and "dlib_upsample" in str(exc)
    else:
        assert ok and cfg.dlib_upsample == up and cfg.match_threshold == DLIB_COSINE_THRESHOLD


def test_threshold_is_dlibs_distance_06_as_a_cosine():
    # unit vectors: d² = 2 − 2c; dlib's raw descriptors have norm ≈ N, so d_raw² ≈ 2N²(1 − c)
    assert DLIB_COSINE_THRESHOLD == round(1 - 0.6 ** 2 / (2 * DLIB_DESCRIPTOR_NORM ** 2), 3)
    assert 0.85 < DLIB_COSINE_THRESHOLD < 0.95


def test_descriptor_is_a_unit_float32_vector(dlib_embed):
    v, raw = dlib_embed("identities/Colin_Powell/1.jpg")
    assert v.dtype == np.float32 and v.shape == (128,)
    assert abs(float(np.linalg.norm(v)) - 1.0) < 1e-5
    assert raw.shape == (128,) and np.allclose(v, raw / np.linalg.norm(raw), atol=1e-6)


PEOPLE = ["Colin_Powell", "Junichiro_Koizumi", "Li_Peng", "Michelle_Kwan", "Serena_Williams",
          "deepface_person_A"]


def test_raw_norm_matches_the_constant_the_threshold_uses(dlib_embed):
    """DLIB_DESCRIPTOR_NORM (1.39) converts dlib's 0.6 to a cosine; it must be the model's real norm."""
    norms = [float(np.linalg.norm(dlib_embed(f"identities/{p}/{i}.jpg")[1])) for p in PEOPLE for i in (1, 2, 3)]
    assert abs(float(np.median(norms)) / DLIB_DESCRIPTOR_NORM - 1) < 0.05
    assert all(1.1 < n < 1.8 for n in norms)


def test_same_person_closer_than_different_people(dlib_backend, dlib_embed):
    vecs = {p: [dlib_embed(f"identities/{p}/{i}.jpg")[0] for i in (1, 2, 3)] for p in PEOPLE}
    same = [float(dlib_backend.similarity(a, b)) for p in PEOPLE for a, b in itertools.combinations(vecs[p], 2)]
    diff = [float(dlib_backend.similarity(a, b)) for p, q in itertools.combinations(PEOPLE, 2)
            for a in vecs[p] for b in vecs[q]]
    assert min(same) > max(diff)
    assert min(same) >= DLIB_COSINE_THRESHOLD
    # the gallery's one mat-vec product gives the same numbers
    stack = np.stack(vecs["Li_Peng"])
    assert np.allclose(dlib_backend.similarity(vecs["Li_Peng"][0], stack), stack @ vecs["Li_Peng"][0])


def test_cosine_rule_agrees_with_dlibs_raw_distance_rule(dlib_embed):
    """The cosine threshold reproduces dlib's own "distance < 0.6" decision on real pairs."""
    items = [dlib_embed(f"identities/{p}/{i}.jpg") for p in PEOPLE for i in (1, 2, 3)]
    agree = total = 0
    for (u1, r1), (u2, r2) in itertools.combinations(items, 2):
        total += 1
        agree += (float(np.linalg.norm(r1 - r2)) < 0.6) == (float(u1 @ u2) >= DLIB_COSINE_THRESHOLD)
    assert agree / total >= 0.95, (agree, total)


@pytest.mark.parametrize("rel", [
    "identities/Colin_Powell/1.jpg",          # 250x250 LFW crop
    "identities/Barack_Obama/1.jpg",          # 910x1137
    "identities/Li_Peng/2.jpg",
    "misc/edge_obama_1080p.jpg",
])
def test_one_face_with_landmarks_in_the_interface_order(dlib_backend, faces_dir, rel):
    faces = dlib_backend.detect(read_image(faces_dir / rel))
    assert len(faces) == 1, rel
    f = faces[0]
    x, y, w, h = f.box
    assert w > 40 and h > 40 and f.raw is None and f.parts.shape == (5, 2)
    lm = f.landmarks
    assert lm.shape == (5, 2) and lm.dtype == np.float32 and np.all(np.isfinite(lm))
    assert np.all((lm[:, 0] >= x - 0.2 * w) & (lm[:, 0] <= x + 1.2 * w))
    assert np.all((lm[:, 1] >= y - 0.2 * h) & (lm[:, 1] <= y + 1.3 * h))
    assert lm[0, 0] < lm[2, 0] < lm[1, 0]                    # right eye (image left), nose, left eye
    assert lm[3, 0] < lm[4, 0] and lm[:2, 1].max() < lm[2, 1] < lm[3:, 1].min()


def test_upsampling_finds_the_small_face(faces_dir):
    img = read_image(faces_dir / "misc/edge_obama_240p.jpg")          # face about 63 px
    assert create_backend(VisionConfig(type="dlib", dlib_upsample=1)).detect(img)
    # upsample 0 finds it too at this size; a face under HOG's 80 px window needs the upsampling
    small = img[::2, ::2].copy()                                     # face about 32 px
    assert create_backend(VisionConfig(type="dlib", dlib_upsample=0)).detect(small) == []
    assert len(create_backend(VisionConfig(type="dlib", dlib_upsample=2)).detect(small)) == 1


def test_group_photo_largest_face_first(dlib_backend, faces_dir):
    faces = dlib_backend.detect(read_image(faces_dir / "misc/group_couple.jpg"))
    assert len(faces) >= 2
    sizes = [f.box[2] * f.box[3] for f in faces]
    assert sizes == sorted(sizes, reverse=True)


@pytest.mark.parametrize("rel", ["misc/nonface_coffee.png", "misc/nonface_rocket.jpg", "misc/nonface_cat_chelsea.png"])
def test_no_face_gives_an_empty_list(dlib_backend, faces_dir, rel):
    assert dlib_backend.detect(read_image(faces_dir / rel)) == []


def test_garbage_frames(dlib_backend):
    rng = np.random.default_rng(7)
    for frame in (rng.integers(0, 256, (480, 640, 3), dtype=np.uint8), np.zeros((480, 640, 3), np.uint8),
                  np.full((1, 1, 3), 255, np.uint8), np.zeros((3, 5000, 3), np.uint8)):
        assert dlib_backend.detect(frame) == []
    for bad in (None, np.zeros((480, 640), np.uint8), np.zeros((480, 640, 4), np.uint8),
                np.zeros((480, 640, 3), np.float32), np.zeros((0, 640, 3), np.uint8), "frame.jpg"):
        with pytest.raises(ValueError):
            dlib_backend.detect(bad)


def test_strided_views_are_accepted(dlib_backend, faces_dir):
    img = read_image(faces_dir / "identities/Barack_Obama/1.jpg")
    view = img[::2, ::2]                                  # not C-contiguous
    faces = dlib_backend.detect(view)
    assert len(faces) == 1 and dlib_backend.embed(view, faces[0]).shape == (128,)


def test_oversize_frame_is_searched_on_a_small_copy_and_boxes_map_back(dlib_backend, faces_dir):
    img = read_image(faces_dir / "identities/Colin_Powell/1.jpg")
    big = np.zeros((3000, 4000, 3), np.uint8)
    big[1000:1250, 2000:2250] = img                       # a real photo in a huge frame (a far-away face)
    f0 = dlib_backend.detect(img)[0]
    faces = dlib_backend.detect(big)
    assert len(faces) == 1
    x, y, w, h = faces[0].box
    assert abs(x - 2000 - f0.box[0]) < 12 and abs(y - 1000 - f0.box[1]) < 12 and abs(w - f0.box[2]) < 20
    assert float(dlib_backend.embed(big, faces[0]) @ dlib_backend.embed(img, f0)) > 0.97


def test_truncated_image_never_crashes_the_detector(dlib_backend, faces_dir, tmp_path):
    from edge_agent.vision.images import ImageError
    data = (faces_dir / "identities/Colin_Powell/1.jpg").read_bytes()
    for n in (len(data) // 2, 200, 0):
        p = tmp_path / f"cut{n}.jpg"
        p.write_bytes(data[:n])
        try:
            img = read_image(p)
        except ImageError:
            continue                                  # undecodable: a clear error, checked by test_images
        assert isinstance(dlib_backend.detect(img), list)


def test_face_from_another_detector_is_refitted(dlib_backend, faces_dir, backend):
    """Regression: a YuNet Face's raw row (same length, 15) was read as dlib's 5 points, which gave
    a descriptor at impostor level (cosine 0.83 to the same face). A Face from another detector
    gets dlib's points re-fitted inside its box; a dlib Face handed to SFace is aligned by the
    interface landmarks, not by dlib's points."""
    img = read_image(faces_dir / "identities/Junichiro_Koizumi/2.jpg")
    dlib_face = dlib_backend.detect(img)[0]
    own = dlib_backend.embed(img, dlib_face)
    yunet_face = backend.detect(img)[0]
    assert float(dlib_backend.embed(img, yunet_face) @ own) > 0.97
    sface_own = backend.embed(img, yunet_face)
    assert float(backend.embed(img, dlib_face) @ sface_own) > 0.85          # measured 0.91


def test_models_are_found_without_importing_face_recognition_models(tmp_path):
    """Regression: face_recognition_models' __init__ imports pkg_resources (removed in setuptools 82);
    the backend must locate its .dat files by find_spec and never import the package."""
    code = ("import sys; from edge_agent.vision.backend import create_backend; "
            "from edge_agent.vision.config import VisionConfig; "
            "b = create_backend(VisionConfig(type='dlib')); "
            "print('face_recognition_models' in sys.modules, 'pkg_resources' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
    with pytest.raises(FileNotFoundError, match="shape_predictor_5_face_landmarks.dat"):
        create_backend(VisionConfig(type="dlib", models_dir=str(tmp_path)))


def test_eval_identify_with_the_dlib_backend(faces_dir, tmp_path, capsys):
    from edge_agent.cli import main
    ident = tmp_path / "identities"
    for person in ("Colin_Powell", "Serena_Williams", "deepface_person_A"):
        shutil.copytree(faces_dir / "identities" / person, ident / person)
    (tmp_path / "misc").mkdir()
    shutil.copy(faces_dir / "misc/nonface_coffee.png", tmp_path / "misc/unknown_coffee.png")
    assert main(["eval", "identify", str(tmp_path), "--json", "--backend", "dlib"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["backend"] == "dlib" and r["threshold"] == DLIB_COSINE_THRESHOLD
    assert r["templates"] == 3 and r["unknown_probes"] == 1 and r["unknown_accepted"] == 0
    assert {"file": "misc/unknown_coffee.png", "kind": "no_face"} in r["failures"]
    # three well-separated people: dlib identifies nearly every probe (fewer than 10 workers: threshold only)
    assert r["identified"] >= r["probes"] - 1 and r["calibration"]["calibrated"] is False
