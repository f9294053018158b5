"""Open-set rejection: roster-calibrated cuts, Z/T-norm math on real SFace embeddings,
``eval identify --open-set leave-one-out``, and the Hu_Jintao / Wen_Jiabao look-alike pair."""

from __future__ import annotations

import dataclasses
import json
from statistics import NormalDist

import numpy as np
import pytest

from edge_agent.cli import main
from edge_agent.vision.config import VisionConfig
from edge_agent.vision.gallery import MIN_COHORT_WORKERS, UNKNOWN, Gallery, cut_k

CFG = VisionConfig()
T, M = CFG.match_threshold, CFG.match_margin


@pytest.fixture(scope="module")
def people(faces_dir):
    return sorted(p.name for p in (faces_dir / "identities").iterdir() if p.is_dir())


def roster(embed, people, k=1, leave_out=()):
    g = Gallery()
    for p in people:
        if p not in leave_out:
            g.add(p, np.stack([embed(f"identities/{p}/{i}.jpg") for i in range(1, k + 1)]))
    return g


def test_defaults_are_the_principle_not_a_fit():
    assert (CFG.open_set_rule, CFG.target_fpir) == ("roster", 0.01)
    p, k = cut_k(0.01, 31)
    assert p == pytest.approx(1 - 0.99 ** (1 / 31)) and 1 - (1 - p) ** 31 == pytest.approx(0.01)
    assert k == pytest.approx(NormalDist().inv_cdf(1 - p)) and 3.40 < k < 3.42
    assert cut_k(0.01, 62)[1] > k and cut_k(0.01, 100_000)[1] > cut_k(0.01, 1000)[1] > 4.2
    with pytest.raises(ValueError):
        cut_k(0.0, 10)


def test_roster_cut_is_mean_plus_k_std_of_inter_worker_scores(embed, people):
    g = roster(embed, people)
    vecs = np.stack([embed(f"identities/{p}/1.jpg") for p in people])
    brute = [float(vecs[i] @ vecs[j]) for i in range(len(people)) for j in range(i + 1, len(people))]
    x = np.sort(g.inter_worker_scores())
    assert len(x) == 465 and np.allclose(x, np.sort(brute), atol=1e-5)
    cal = g.calibrate("roster", 0.01, T)
    k = cut_k(0.01, 31)[1]
    assert cal.calibrated and cal.comparisons == 31 and cal.cohort_pairs == 465
    assert cal.k == pytest.approx(k)
    assert cal.impostor_mean == pytest.approx(np.mean(brute), abs=1e-5)
    assert cal.impostor_std == pytest.approx(np.std(brute, ddof=1), abs=1e-5)
    assert cal.threshold == pytest.approx(max(T, np.mean(brute) + k * np.std(brute, ddof=1)), abs=1e-5)
    assert 0.39 < cal.threshold < 0.40          # measured 0.3943 (mean 0.094, std 0.088)


def test_znorm_and_tnorm_statistics_match_brute_force(embed, people):
    g = roster(embed, people, k=2)
    vecs = {p: np.stack([embed(f"identities/{p}/{i}.jpg") for i in (1, 2)]) for p in people}
    mean, std = g.worker_impostor_stats()
    for p in ("Hu_Jintao", "Wen_Jiabao", "Colin_Powell"):
        others = np.concatenate([vecs[q] for q in people if q != p])
        s = (vecs[p] @ others.T).ravel()
        wi = g.workers.index(p)
        assert mean[wi] == pytest.approx(s.mean(), abs=1e-5) and std[wi] == pytest.approx(s.std(ddof=1), abs=1e-5)
    probe = embed("identities/Hu_Jintao/4.jpg")
    cal = {r: g.calibrate(r, 0.01, T) for r in ("znorm", "tnorm", "snorm")}
    bi, bs, _, _ = g.search(probe)
    assert g.workers[bi] == "Hu_Jintao"
    others = np.concatenate([vecs[q] for q in people if q != "Hu_Jintao"]) @ probe
    zt = (bs - others.mean()) / others.std(ddof=1)
    zz = (bs - mean[bi]) / std[bi]
    assert zt > cal["tnorm"].k and zz > cal["znorm"].k        # a clear genuine match passes both
    for rule, z in (("tnorm", zt), ("znorm", zz), ("snorm", (zt + zz) / 2)):
        assert g.identify(probe, T, M, cal[rule]).accepted
        tight = dataclasses.replace(g.calibrate(rule, 0.01, T), k=z + 1e-3)   # cut just above its z
        d = g.identify(probe, T, M, tight)
        assert not d.accepted and d.reason == UNKNOWN, rule


def test_small_roster_falls_back_to_the_published_threshold(embed, people):
    g = roster(embed, people[: MIN_COHORT_WORKERS - 1])
    cal = g.calibrate("roster", 0.01, T)
    assert not cal.calibrated and cal.threshold == T
    with pytest.raises(ValueError):
        g.calibrate("nonsense")


def test_big_roster_calibrates_on_a_cohort_sample_fast(embed):
    import time
    rng = np.random.default_rng(3)
    t = rng.standard_normal((20_000, 128)).astype(np.float32)
    g = Gallery.from_arrays(t, np.repeat(np.arange(5000), 4).astype(str))
    t0 = time.perf_counter()
    cal = g.calibrate("snorm", 0.01, T)
    assert time.perf_counter() - t0 < 10
    assert cal.cohort_pairs > 1_000_000 and abs(cal.impostor_mean) < 0.01
    assert cal.impostor_std == pytest.approx(1 / np.sqrt(128), rel=0.05)   # random unit vectors
    assert g.identify(embed("identities/Li_Peng/1.jpg"), T, M, cal).reason == UNKNOWN


def test_look_alike_wen_jiabao_not_enrolled_hu_jintao_enrolled(embed, people):
    """Wen_Jiabao is a stranger, Hu_Jintao a worker: the pair issue 3's LOO test exposed.

    Asserts what is true, including the limit: the roster cut (0.393 here) rejects the
    weakest look-alike probe that the published 0.363 lets in, not the stronger ones
    (cosine 0.40-0.45 to Hu_Jintao/1.jpg)."""
    for k, fixed_in, roster_in in ((1, {2, 3, 4, 5, 6}, {3, 4, 5, 6}), (2, {2, 3, 4, 5, 6}, {4, 6})):
        g = roster(embed, people, k=k, leave_out={"Wen_Jiabao"})
        cal = g.calibrate("roster", 0.01, T)
        assert cal.threshold > T
        acc = {}
        for rule, c in (("fixed", None), ("roster", cal)):
            acc[rule] = set()
            for i in range(1, 7):
                d = g.identify(embed(f"identities/Wen_Jiabao/{i}.jpg"), T, M, c)
                if d.accepted:
                    assert d.worker == "Hu_Jintao"
                    acc[rule].add(i)
        assert acc == {"fixed": fixed_in, "roster": roster_in}, k


def test_look_alike_hu_jintao_not_enrolled_is_rejected(embed, people):
    for k in (1, 2):
        g = roster(embed, people, k=k, leave_out={"Hu_Jintao"})
        cal = g.calibrate("roster", 0.01, T)
        for i in range(1, 7):
            d = g.identify(embed(f"identities/Hu_Jintao/{i}.jpg"), T, M, cal)
            assert not d.accepted, (k, i, d)


def test_leave_one_out_mode_on_the_shared_identities(faces_dir, capsys):
    assert main(["eval", "identify", str(faces_dir), "--json", "--open-set", "leave-one-out"]) == 0
    r = json.loads(capsys.readouterr().out)
    # the standard keys and figures are unchanged by the mode (K=1: 156/159, 0/44 unknowns)
    assert (r["probes"], r["identified"], r["unknown_probes"], r["unknown_accepted"]) == (159, 156, 44, 0)
    assert r["threshold"] == T and r["open_set_rule"] == "roster"
    assert r["calibration"]["comparisons"] == 31 and 0.39 < r["effective_threshold"] < 0.40
    # every image of every person is probed once against a gallery without that person
    assert r["loo_probes"] == 190 and r["fpir_loo"] == round(r["loo_accepted"] / 190, 4)
    assert 0.37 < r["loo_threshold_min"] <= r["loo_threshold_max"] < 0.42
    # measured: 5/190 = 2.6% (the published 0.363 alone: 10/190); above the 1% target
    assert r["loo_accepted"] == 5
    assert {(m["file"].split("/")[1], m["accepted_as"]) for m in r["loo_false_accepts"]} == {
        ("Wen_Jiabao", "Hu_Jintao"), ("Kim_Dae-jung", "Lee_Hoi-chang")}
    assert all(m["score"] > r["loo_threshold_min"] for m in r["loo_false_accepts"])
    # the same data under the published threshold alone: twice as many strangers let in
    assert main(["eval", "identify", str(faces_dir), "--json", "--open-set", "leave-one-out",
                 "--open-set-rule", "fixed"]) == 0
    f = json.loads(capsys.readouterr().out)
    assert (f["identified"], f["unknown_accepted"], f["loo_accepted"], f["effective_threshold"]) == (156, 0, 10, T)
