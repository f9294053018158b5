"""The judge end to end on the real files: assert what truly holds (figures: docs/liveness.md)."""

from __future__ import annotations

import gc
import hashlib

import numpy as np
import pytest

from edge_agent.liveness.eval_liveness import windows
from edge_agent.vision.track import FaceTrack

from .conftest import F1, F2, LIVE_VIDEO, REPLAY_VIDEO, T1, T2, frames


def check_verdict(v):
    assert v.decision in ("live", "spoof", "inconclusive")
    assert 0.0 <= v.score <= 1.0 and v.cue
    if v.cue != "no_usable_frame":
        assert {c.name for c in v.cues} >= {"minifasnet", "texture", "depth", "blink"}
    if v.decision == "inconclusive" and v.challenge is None:
        assert v.suggested_challenge in ("blink", "turn_head")
    return v


def test_single_frames_are_judged_by_the_passive_cues_only(judge, still):
    stills = judge.for_still_images()
    t1, t2 = check_verdict(stills.judge(still(T1))), check_verdict(stills.judge(still(T2)))
    for v in (t1, t2):
        motion = {c.name: c for c in v.cues if c.name in ("depth", "blink")}
        assert not any(c.conclusive for c in motion.values())
    # T1: p(real) ≈ 1.0 ≥ passive_only_threshold; T2: p(real) ≈ 0.55, live-ish but not sure enough
    assert t1.decision == "live" and t1.cue == "minifasnet"
    assert t2.decision == "inconclusive" and t2.suggested_challenge is not None


@pytest.mark.parametrize("rel", [F1, F2])
def test_print_and_tablet_photos_are_refused(judge, still, rel):
    v = check_verdict(judge.judge(still(rel)))
    assert v.decision == "spoof" and v.cue == "minifasnet" and v.score < 0.5


def test_the_phone_replay_is_never_judged_live(judge, video):
    wins = windows(video(REPLAY_VIDEO))
    verdicts = [check_verdict(judge.judge(FaceTrack(0, w))) for w in wins]
    assert len(verdicts) >= 20
    assert not any(v.decision == "live" for v in verdicts)
    assert sum(v.decision == "spoof" for v in verdicts) > len(verdicts) / 2


def test_the_live_video_is_mostly_judged_live(judge, video):
    """Measured: about 24 live, 4 spoof, 35 inconclusive windows (profile views, waving);
    only the majority of decisive windows is asserted."""
    verdicts = [check_verdict(judge.judge(FaceTrack(0, w))) for w in windows(video(LIVE_VIDEO))]
    live = sum(v.decision == "live" for v in verdicts)
    spoof = sum(v.decision == "spoof" for v in verdicts)
    assert live > spoof and live >= 10


def test_in_the_wild_live_footage_is_not_refused(judge, faces_dir, backend):
    """misc/group_video_hamilton_multi_person.mp4: stage and audience, low light, several faces
    (measured: 36 windows live, 0 spoof, 3 inconclusive)."""
    from edge_agent.liveness.eval_liveness import video_tracks
    path = faces_dir / "misc" / "group_video_hamilton_multi_person.mp4"
    if not path.is_file():
        pytest.fail(f"test data missing: {path}", pytrace=False)
    verdicts = [check_verdict(judge.judge(FaceTrack(0, w))) for w in windows(video_tracks(path, backend))]
    live = sum(v.decision == "live" for v in verdicts)
    spoof = sum(v.decision == "spoof" for v in verdicts)
    assert live > 2 * spoof and live >= 10


def test_turn_head_challenge_is_seen_in_the_live_head_turn(judge, video):
    obs = frames(video(LIVE_VIDEO), 100, 152)
    t = next(o.t_mono for o in obs if o.frame_seq >= 120)
    v = check_verdict(judge.judge(FaceTrack(0, obs), "turn_head", t))
    assert v.challenge == "turn_head"
    assert v.decision == "live" and v.cue == "challenge_turn_head"


def test_blink_challenge_is_seen_when_the_subject_blinks(judge, video):
    obs = frames(video(LIVE_VIDEO), 30, 66)
    t = next(o.t_mono for o in obs if o.frame_seq >= 45)
    v = check_verdict(judge.judge(FaceTrack(0, obs), "blink", t))
    assert v.decision == "live" and v.cue == "challenge_blink"


def test_frames_before_the_challenge_do_not_count(judge, video):
    """The blink near frame 55 happened before a challenge shown at frame 66: not performed."""
    obs = frames(video(LIVE_VIDEO), 40, 80)
    t = next(o.t_mono for o in obs if o.frame_seq >= 66)
    v = check_verdict(judge.judge(FaceTrack(0, obs), "blink", t))
    assert v.decision != "live"
    after = judge.judge(FaceTrack(0, obs), "blink", obs[-1].t_mono + 1.0)
    assert after.decision == "inconclusive" and after.cue == "no_usable_frame"


def test_a_challenge_does_not_let_the_replay_in(judge, video):
    obs = frames(video(REPLAY_VIDEO), 27, 94)
    for ch in ("turn_head", "blink"):
        v = check_verdict(judge.judge(FaceTrack(0, obs), ch, obs[0].t_mono))
        assert v.decision == "spoof" and v.cue == "minifasnet"


def test_the_judge_is_pure(judge, video):
    obs = frames(video(LIVE_VIDEO), 60, 74)
    digest = [hashlib.sha256(o.image.tobytes()).hexdigest() for o in obs]
    a, b = judge.judge(FaceTrack(1, obs)), judge.judge(FaceTrack(2, list(obs)))
    assert a == b
    assert [hashlib.sha256(o.image.tobytes()).hexdigest() for o in obs] == digest


def test_the_cache_forgets_observations_the_caller_dropped(judge, still):
    import numpy as np
    from edge_agent.vision.track import FaceObservation
    base = still(T1).last
    cache = judge._all["minifasnet"]._cache
    before = len(cache._d)
    track = FaceTrack(0, [FaceObservation(np.array(base.image), 0.0, base.face)])
    judge.judge(track)
    assert len(cache._d) == before + 1
    del track
    gc.collect()
    assert len(cache._d) == before


def test_ablation_judges_share_models(judge):
    sub = judge.with_cues(["minifasnet", "depth"])
    assert sub.cue_names == ("minifasnet", "depth") and sub._all is judge._all
    with pytest.raises(ValueError, match="unknown"):
        judge.with_cues(["nose_length"])


def test_the_gate_judge_never_accepts_on_the_learned_cue_alone(judge, still):
    """Regression: a real photo held up and jiggled 0-2 px per frame was punched "live" after
    5 frames because MiniFASNet alone scored it >= passive_only_threshold with no motion
    evidence at all (found by the pipeline's tests). The gate's judge now says inconclusive
    (and asks for a challenge) when only the passive cues speak."""
    import dataclasses
    one = still(T1)
    assert judge.for_still_images().judge(one).decision == "live"     # the still-image rule would accept it
    v = check_verdict(judge.judge(one))
    assert v.decision == "inconclusive" and v.suggested_challenge in ("blink", "turn_head")
    base = one.observations[0]
    jiggled = FaceTrack(0, [dataclasses.replace(base, t_mono=i / 15.0, frame_seq=i) for i in range(8)])
    v = check_verdict(judge.judge(jiggled))
    assert v.decision != "live"


def test_a_sliding_window_reuses_pairs_and_measures_what_a_fresh_cue_measures(judge, video):
    """The depth cue caches pair results per (observation, observation): as the judge's window
    slides over the live head turn, each measure equals that of a cue that has seen nothing."""
    from edge_agent.liveness.depth import DepthCue
    obs = frames(video(LIVE_VIDEO), 120, 150)
    cached = judge._all["depth"]
    for i in range(0, len(obs) - 14, 4):
        window = [(o, o.image) for o in obs[i:i + 15]]
        fresh = DepthCue(judge.cfg, cached.mesher)          # same meshes, no pair cache
        assert cached.measure(window) == fresh.measure(window), i


def test_prepare_is_only_a_head_start(judge, video):
    """prepare(obs) computes the frame's mesh ahead; the verdict is the one without it."""
    from edge_agent.vision.track import FaceObservation
    obs = frames(video(LIVE_VIDEO), 80, 94)
    want = judge.judge(FaceTrack(1, obs))
    copies = [FaceObservation(np.array(o.image), o.t_mono, o.face, frame_seq=o.frame_seq) for o in obs]
    mesher = judge._all["depth"].mesher
    for o in copies:
        judge.prepare(o)
        assert o in mesher._cache._d
    assert judge.judge(FaceTrack(2, copies)) == want


@pytest.mark.parametrize("image", [None, np.zeros((4, 4), np.uint8), np.zeros((0, 0, 3), np.uint8), "frame"])
def test_prepare_ignores_an_unusable_observation(judge, still, image):
    from edge_agent.vision.track import FaceObservation
    base = still(T1).last
    judge.prepare(FaceObservation(image, 0.0, base.face))        # no exception, nothing decided
