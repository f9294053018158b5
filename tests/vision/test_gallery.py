"""1:N decisions with real SFace embeddings, and the 100,000-template search structure."""

from __future__ import annotations

import time

import numpy as np
import pytest

from edge_agent.vision.config import SFACE_COSINE_THRESHOLD, VisionConfig
from edge_agent.vision.gallery import ACCEPTED, AMBIGUOUS, EMPTY, UNKNOWN, Gallery

T, M = VisionConfig().match_threshold, VisionConfig().match_margin
ROSTER = ["Colin_Powell", "Junichiro_Koizumi", "Li_Peng", "Michelle_Kwan", "Tony_Blair", "Wen_Jiabao"]


@pytest.fixture
def gallery(embed):
    g = Gallery()
    for i, p in enumerate(ROSTER):   # several templates per worker; worker refs, not names
        g.add(f"W{i:04d}", np.stack([embed(f"identities/{p}/1.jpg"), embed(f"identities/{p}/2.jpg")]))
    return g


def test_defaults_are_the_published_operating_point():
    assert T == SFACE_COSINE_THRESHOLD == 0.363 and M == 0.05


def test_enrolled_people_are_accepted_as_themselves(gallery, embed):
    for i, p in enumerate(ROSTER):
        d = gallery.identify(embed(f"identities/{p}/4.jpg"), T, M)
        assert d.accepted and d.reason == ACCEPTED and d.worker == f"W{i:04d}", p
        assert d.runner_up != d.worker            # runner-up is another worker, never a 2nd template
        assert d.score >= T and d.margin >= M


def test_never_enrolled_people_are_unknown(gallery, embed):
    for rel in ["misc/unknown_lfw_Zhang_Wenkang.jpg", "misc/unknown_lfw_Gong_Li.jpg",
                "misc/unknown_lfw_Koichi_Tanaka.jpg", "misc/unknown_lfw_Lee_Nam-shin.jpg"]:
        d = gallery.identify(embed(rel), T, M)
        assert not d.accepted and d.reason == UNKNOWN and d.score < T, rel


def test_two_workers_with_the_same_face_are_ambiguous(gallery, embed):
    """A look-alike (here: the same person enrolled twice) keeps the gate closed."""
    gallery.add("W9999", embed("identities/Li_Peng/3.jpg"))
    d = gallery.identify(embed("identities/Li_Peng/4.jpg"), T, M)
    assert d.score >= T and not d.accepted and d.reason == AMBIGUOUS
    assert {d.worker, d.runner_up} == {"W0002", "W9999"} and d.margin < M
    assert gallery.remove("W9999") == 1          # the worker exits: unambiguous again
    assert gallery.identify(embed("identities/Li_Peng/4.jpg"), T, M).worker == "W0002"


def test_threshold_and_margin_are_applied_as_configured(gallery, embed):
    probe = embed("identities/Tony_Blair/4.jpg")
    d = gallery.identify(probe, T, M)
    assert d.accepted
    assert gallery.identify(probe, d.score + 1e-4, M).reason == UNKNOWN
    assert gallery.identify(probe, T, d.margin + 1e-4).reason == AMBIGUOUS


def test_empty_and_single_worker_galleries():
    g = Gallery()
    v = np.zeros(128, np.float32)
    v[0] = 1
    assert g.identify(v, T, M).reason == EMPTY
    g.add("W1", v)
    d = g.identify(v, T, M)
    assert d.accepted and d.runner_up is None and d.runner_up_score == -1.0
    with pytest.raises(ValueError):
        g.add("W2", np.zeros(128, np.float32))
    with pytest.raises(ValueError):
        g.add("W2", np.ones(64, np.float32))


def test_search_over_100k_templates_is_exact_and_fast(embed):
    """Random unit templates for 25,000 workers × 4 plus real faces planted among them."""
    rng = np.random.default_rng(7)
    n, per = 100_000, 4
    t = rng.standard_normal((n, 128)).astype(np.float32)
    owners = np.repeat(np.arange(n // per), per).astype(str)
    real = [embed(f"identities/Michelle_Kwan/{i}.jpg") for i in (1, 2)] + [embed("identities/Li_Peng/1.jpg")]
    t[[500, 70_001, 99_999]] = real
    owners[[500, 70_001]] = "MK"
    owners[99_999] = "LP"
    g = Gallery.from_arrays(t, owners)
    assert len(g) == n
    probe = embed("identities/Michelle_Kwan/3.jpg")
    d = g.identify(probe, T, M)
    assert d.accepted and d.worker == "MK"
    # brute force, worker by worker
    unit = t / np.linalg.norm(t, axis=1, keepdims=True)
    s = unit @ probe
    per_worker = {}
    for o, v in zip(owners, s):
        per_worker[o] = max(per_worker.get(o, -2.0), float(v))
    ranked = sorted(per_worker.items(), key=lambda kv: -kv[1])
    assert (d.worker, d.runner_up) == (ranked[0][0], ranked[1][0])
    assert d.score == pytest.approx(ranked[0][1], abs=1e-5)
    assert d.runner_up_score == pytest.approx(ranked[1][1], abs=1e-5)
    g.identify(probe, T, M)
    t0 = time.perf_counter()
    for _ in range(5):
        g.identify(probe, T, M)
    assert (time.perf_counter() - t0) / 5 < 0.1      # generous: bench/recognition.py measures it
