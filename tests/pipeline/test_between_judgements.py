"""Frames the liveness judge skips (it runs at most every JUDGE_EVERY_S) do ahead the work the
deciding frame would otherwise wait for: the identity check before the punch, and the frame's
face mesh. Real video, real backend and judge, real ledger (pipeline_rig)."""

from __future__ import annotations

import numpy as np
import pytest

from edge_agent.pipeline.attempt import Phase
from edge_agent.pipeline.gate import REVERIFY_S
from pipeline_rig import LIVE, SUBJECT, enroll_from_video, make_gallery, video_frames

ENROLL_FROM = 183          # the subject is enrolled from the video's last second; the rest is probed


@pytest.fixture(scope="module")
def subject_templates(backend):
    return enroll_from_video(backend, LIVE, ENROLL_FROM, 199)


def test_the_deciding_step_waits_for_no_descriptor(rig, backend, judge, roster, subject_templates):
    """Regression: the step that decided re-ran the SFace descriptor (≈25 ms on one core) and
    two face meshes while the skipped frames before it sat idle, so the live video was decided
    1.01 s after its face was large enough (the target is 1.0 s). The punched face must still
    have been verified by a descriptor no older than REVERIFY_S."""
    r = rig(backend, judge, make_gallery({**roster, SUBJECT: subject_templates}))
    frames = list(video_frames(LIVE, 0, ENROLL_FROM))
    r.play(frames)
    i = next(k for k, rep in enumerate(r.reports) for e in rep.entries if e.type == "punch")
    rep = r.reports[i]
    assert rep.descriptors == 0 and rep.judged == 1
    att = r.pipeline._attempts[rep.served]
    assert att.outcome == "punch" and frames[i].t_mono - att.last_desc_t <= REVERIFY_S
    before = r.reports[:i]
    assert any(x.prepared for x in before), "skipped frames must measure ahead for the judge"
    assert all(not (x.prepared and x.judged) for x in r.reports), "a judged frame needs no head start"


def test_another_face_in_the_spot_is_caught_before_the_next_judgement(rig, backend, judge, roster,
                                                                     subject_templates):
    """Someone else in the identified worker's spot (here: the attempt's template swapped for
    another worker's real descriptor, as if the face in view had changed) is found on a frame
    the judge skips: the track is split there, and nobody is punched on the first identity."""
    r = rig(backend, judge, make_gallery({**roster, SUBJECT: subject_templates}))
    frames = iter(video_frames(LIVE, 0, ENROLL_FROM))
    r.play([next(frames)])
    track_id = r.reports[-1].served
    att = r.pipeline._attempts[track_id]
    assert att.phase is Phase.LIVENESS and att.identity.worker == SUBJECT
    other = roster["Jackie_Chan"].mean(axis=0)
    att.template = (other / np.linalg.norm(other)).astype(np.float32)
    for f in frames:
        r.play([f])
        rep = r.reports[-1]
        if track_id not in r.pipeline._attempts:
            break
        assert not rep.entries, "no decision may be taken on the swapped identity"
    else:
        pytest.fail("the track was never split")
    assert rep.judged == 0 and rep.descriptors == 1, "split by the check between judgements"
    assert r.entries("punch") == []
    r.play(frames)          # the face in view is the subject's: a new track, identified afresh
    punches = r.entries("punch")
    assert [p.worker_ref for p in punches] == [SUBJECT]
    assert all(rep.served != track_id for rep in r.reports[-1:])
