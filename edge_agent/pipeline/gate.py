"""The gate's eyes: camera → detection → tracking → quality → 1:N → liveness → gate controller.

One :class:`GatePipeline` per gate with a camera. Its thread takes the camera's newest
frame (older ones are gone: no backlog) and calls :meth:`GatePipeline.step`, which tests
also call directly, one frame at a time, with an injected clock. Per frame: detect
(YuNet on a downscaled copy), track, score quality; then the *served* face (the largest,
i.e. nearest the gate, or the most central) advances its :class:`~.attempt.Attempt`:

1. The descriptor runs only on good frames (quality ≥ ``quality_threshold``, at most
   ``max_descriptor_frames`` per attempt, a new one only for a clearly better frame or
   after a pause); the identity is the gallery's open-set decision (threshold + margin)
   on the mean of the attempt's descriptors. Unknown / ambiguous after the last allowed
   descriptor or the deadline → rejected attempt (``not_enrolled`` / ``ambiguous``).
2. Accepted, and the worker punched within ``cooldown_s`` → "already punched", no record.
3. Liveness on the same track: ``live`` → punch; ``spoof`` → rejected (``liveness_failed``);
   still ``inconclusive`` at ``decision_deadline_s`` → an active challenge (blink / turn
   head) through the feedback output, judged on the frames after the prompt until
   ``challenge_timeout_s`` (then ``liveness_timeout``). The ledger's ``liveness_cue`` of a
   challenged decision always starts with ``challenge_<challenge>``.
4. Before a punch the face is checked to still be the one identified (a fresh descriptor
   when the last one is older than ``REVERIFY_S``); a different face splits the track.

The gate controller commits every decision before it opens anything. A gate whose
liveness judge could not be created never opens by face: every face gets a rejected
attempt ``liveness_unavailable``; manual release is the controller's and always works.
"""

from __future__ import annotations

import logging
import math
import random
import time
from typing import Callable

import numpy as np

from shared_schema.messages import LedgerEntry

from ..gate import GateDecision
from ..vision.gallery import AMBIGUOUS, Decision, Gallery
from ..vision.quality import Quality, QualityParams, assess
from ..vision.tracker import FaceTracker, TrackerParams
from ..vision.track import FaceTrack
from .attempt import Attempt, Phase, StepReport, challenge_cue, ledger_cue, unit_score
from .config import PipelineConfig, verdict_timeout_problem
from .cooldown import Cooldown
from .frames import detect_scaled, finite_face, usable_image
from .prompts import GatePrompts
from .runner import CameraLoop
from .served_gallery import ServedGallery
from .snapshot import SnapshotStore

log = logging.getLogger(__name__)

REVERIFY_S = 0.5          # a punch older than this after the last descriptor gets a fresh one
RECHECK_S = 1.0           # a decided face standing in view is re-checked this often (new person?)
NEW_DESC_AFTER_S = 0.2    # another descriptor for a not-better frame only after this pause
BETTER_BY = 0.05          # ... or at once for a frame this much better
JUDGE_EVERY_S = 0.1       # liveness judged at most this often per attempt (its cost bound)
MIN_LIVENESS_OBS = 5      # frames a track needs before the judge is asked (the judge's min_frames)
FROZEN_STRIDE = 8         # px: the subsample compared with the previous frame's


class GatePipeline(CameraLoop):
    def __init__(self, gate, controller, backend, judge, gallery: Gallery | None, cfg: PipelineConfig,
                 vision, *, camera=None, cooldown: Cooldown | None = None,
                 snapshots: SnapshotStore | None = None, judge_error: str | None = None,
                 clock: Callable[[], float] = time.monotonic, seed: int | None = None):
        timing = getattr(controller, "timing", None)
        problem = verdict_timeout_problem(timing.verdict_timeout_s, cfg) if timing is not None else None
        if problem:
            raise ValueError(f"gate {gate.id}: {problem}")
        self.gate = gate
        self.gate_id = gate.id
        self.controller = controller
        self.backend = backend
        self.judge = judge
        self.judge_error = judge_error if judge is None else None
        self.cfg = cfg
        self.vision = vision
        self.camera = camera
        self._clock = clock
        self.cooldown = cooldown or Cooldown(cfg.cooldown_s, clock)
        self.snapshots = snapshots or SnapshotStore(cfg.snapshot_dir, cfg.snapshot_jpeg_quality)
        self.quality_params = QualityParams(min_face_px=float(cfg.min_face_px),
                                            good_face_px=float(max(cfg.min_face_px + 1, 140)))
        self.tracker = FaceTracker(TrackerParams(lost_after_s=cfg.lost_after_s,
                                                 max_observations=cfg.max_track_frames))
        self.direction = gate.direction if gate.direction in ("in", "out") else cfg.both_direction
        self.threshold = vision.match_threshold if vision.match_threshold is not None \
            else backend.default_threshold
        self._rng = random.Random(seed)
        # the judge is asked only once the track holds as many frames as its motion cues need
        # (a verdict on one frame could only be the passive cues' word)
        self.min_liveness_obs = int(getattr(getattr(judge, "cfg", None), "min_frames", MIN_LIVENESS_OBS))
        self._attempts: dict[int, Attempt] = {}
        self.gallery = ServedGallery(self.gate_id, vision, self.threshold)
        self.prompts = GatePrompts(controller, self.gate_id, self.direction, clock)
        self._bad_frames: dict[str, int] = {}
        self._prev_sub: np.ndarray | None = None
        self.stats = {"frames": 0, "skipped": 0, "descriptors": 0, "judged": 0, "punches": 0,
                      "rejected": 0, "cooldown": 0, "errors": 0}
        CameraLoop.__init__(self)
        # the heartbeat lists the pipeline as its camera's device (health: camera + liveness)
        self.id = camera.id if camera is not None else gate.id
        self.kind = camera.kind if camera is not None else "vision"
        if gallery is not None:
            self.update_gallery(gallery)
        if judge is None:
            log.error("gate %s: liveness judge unavailable (%s): face entry OFF, manual release only",
                      self.gate_id, self.judge_error or "not created")

    # ---- gallery ------------------------------------------------------------------------
    def update_gallery(self, gallery: Gallery) -> None:
        """Serve ``gallery`` from the next frame on (thread-safe); see :class:`ServedGallery`."""
        self.gallery.update(gallery)

    def identify(self, probe: np.ndarray) -> Decision:
        return self.gallery.identify(probe)

    # ---- one frame ------------------------------------------------------------------------
    def step(self, frame) -> StepReport:
        """Process one camera frame completely (detect, track, decide). Never raises for bad frames."""
        rep = StepReport()
        image, why = usable_image(frame)
        if image is None:
            self._refuse(why)
            rep.skipped = why
            return rep
        # a real sensor never repeats a frame bit for bit: a repeat is a frozen feed or an injected
        # still, and must not count as new evidence (liveness would see a face that never moves)
        sub = image[::FROZEN_STRIDE, ::FROZEN_STRIDE]
        frozen = self._prev_sub is not None and np.array_equal(sub, self._prev_sub)
        self._prev_sub = sub.copy()
        if frozen:
            self._refuse("identical to the previous frame")
            rep.skipped = "frozen"
            return rep
        self.stats["frames"] += 1
        t = getattr(frame, "t_mono", None)
        t = float(t) if isinstance(t, (int, float)) and math.isfinite(t) else self._clock()
        seq = getattr(frame, "seq", 0)
        try:
            faces = [f for f in detect_scaled(self.backend, image, self.cfg.detect_max_side) if finite_face(f)]
        except Exception as exc:  # noqa: BLE001 - a detector hiccup skips this frame only
            self._refuse(f"detector failed: {type(exc).__name__}")
            rep.skipped = "detector failed"
            return rep
        faces = faces[:self.tracker.params.max_tracks]
        quals = [assess(image, f, faces, self.quality_params) for f in faces]
        seen, expired = self.tracker.update(image, t, faces, seq if isinstance(seq, int) else 0,
                                            [q.score for q in quals])
        for track in expired:
            self._attempts.pop(track.track_id, None)
        rep.faces = len(faces)
        if not seen:
            return rep
        i = self._serve_index(faces, image.shape)
        track, q = seen[i], quals[i]
        att = self._attempts.setdefault(track.track_id, Attempt(track.track_id))
        rep.served = track.track_id
        self._advance(att, track, q, t, rep)
        rep.phase = att.phase.value
        return rep

    def _serve_index(self, faces, shape) -> int:
        if self.cfg.serve == "center":
            cx, cy = shape[1] / 2, shape[0] / 2
            return int(np.argmin([math.hypot(f.box[0] + f.box[2] / 2 - cx, f.box[1] + f.box[3] / 2 - cy)
                                  for f in faces]))
        return int(np.argmax([f.size_px for f in faces]))

    # ---- the attempt's state machine ----------------------------------------------------
    def _advance(self, att: Attempt, track: FaceTrack, q: Quality, t: float, rep: StepReport) -> None:
        cfg = self.cfg
        if att.phase is Phase.DONE:
            if att.outcome == "rejected" and t - att.done_at >= cfg.retry_after_s:
                att.retry()
            else:
                self._recheck(att, track, q, t, rep)
                return
        if att.phase is Phase.COLLECT:
            if q.size_px < cfg.min_face_px:
                self.prompts.hint("move_closer")
                return
            if att.started is None:
                att.started = t
                self.controller.face_seen()
                if self.judge is None:
                    self._reject(att, track, "liveness_unavailable", t, rep, cue="judge_unavailable")
                    return
            if self._collect(att, track, q, t, rep) is None:
                return
        if att.phase is Phase.LIVENESS:
            v = self._judge(att, track, t, rep)
            if v is None:
                self._between_judgements(att, track, q, t, rep)
                return
            if v.decision == "live":
                self._punch(att, track, v, v.cue, t, rep)
            elif v.decision == "spoof":
                self._reject(att, track, "liveness_failed", t, rep, verdict=v, cue=v.cue)
            elif t - att.started >= cfg.decision_deadline_s:
                self._challenge(att, v, t)
            return
        if att.phase is Phase.CHALLENGE:
            v = self._judge(att, track, t, rep)
            cue = challenge_cue(att.challenge, v.cue) if v is not None else None
            if v is not None and v.decision == "live":
                self._punch(att, track, v, cue, t, rep)
            elif v is not None and v.decision == "spoof":
                self._reject(att, track, "liveness_failed", t, rep, verdict=v, cue=cue)
            elif t - att.challenge_t >= cfg.challenge_timeout_s:
                self._reject(att, track, "liveness_timeout", t, rep, verdict=v or att.verdict,
                             cue=cue or challenge_cue(att.challenge, "not_performed"))
            elif v is None:
                self._between_judgements(att, track, q, t, rep)

    def _between_judgements(self, att: Attempt, track: FaceTrack, q: Quality, t: float, rep: StepReport) -> None:
        """A frame the judge skips (it runs at most every JUDGE_EVERY_S) does ahead what the
        deciding frame would otherwise wait for: the identity check the punch needs, kept
        fresher than REVERIFY_S (on this frame when it is a good one: not a head turned for a
        challenge), and this frame's per-frame liveness measurements."""
        if q.score >= self.cfg.quality_threshold and q.key is None:
            self._same_face(att, track, t, rep, fresh_s=REVERIFY_S / 2, obs=track.last)
            if att.track_id not in self._attempts:
                return          # another face: the track was split
        prepare = getattr(self.judge, "prepare", None)
        if prepare is not None:
            try:
                prepare(track.last)
                rep.prepared += 1
            except Exception as exc:  # noqa: BLE001 - only a head start; the judge recomputes
                log.debug("gate %s: liveness prepare failed: %s", self.gate_id, type(exc).__name__)

    def _collect(self, att: Attempt, track: FaceTrack, q: Quality, t: float, rep: StepReport):
        """Descriptors on good frames, then the identity. Returns the identity once it moves the
        attempt on (accepted), None while collecting or once rejected."""
        cfg = self.cfg
        good = q.score >= cfg.quality_threshold and q.key is None
        if good and len(att.descriptors) < cfg.max_descriptor_frames and (
                not att.descriptors or q.score > att.best_quality + BETTER_BY
                or t - att.last_desc_t >= NEW_DESC_AFTER_S):
            vec = self._embed(track.last, rep)
            if vec is not None:
                att.add_descriptor(vec, track.last, q.score)
        elif not good:
            self.prompts.hint(q.key or "look_at_camera")
        if att.template is None:
            return None
        d = att.identity = self.identify(att.template)
        if d.accepted:
            if self.cooldown.recent(d.worker):
                self._already(att, t)
                return None
            att.phase = Phase.LIVENESS
            return d
        if len(att.descriptors) >= cfg.max_descriptor_frames or t - att.started >= cfg.decision_deadline_s:
            reason = "ambiguous" if d.reason == AMBIGUOUS else "not_enrolled"
            self._reject(att, track, reason, t, rep)
        return None

    def _challenge(self, att: Attempt, v, t: float) -> None:
        suggested = getattr(v, "suggested_challenge", None)
        att.challenge = suggested if suggested in ("blink", "turn_head") else self._rng.choice(("blink", "turn_head"))
        # the frame just judged was captured before the prompt: only later ones count
        att.challenge_t = math.nextafter(t, math.inf)
        att.phase = Phase.CHALLENGE
        log.info("gate %s: track %d liveness inconclusive (%s): challenge %s", self.gate_id, att.track_id,
                 v.cue, att.challenge)
        self.prompts.show(att.challenge)

    def _recheck(self, att: Attempt, track: FaceTrack, q: Quality, t: float, rep: StepReport) -> None:
        """A decided face still in view: is it still the same person? (Someone else may have
        stepped into the spot within the tracker's reach.) If not, split the track."""
        if att.template is None or t - att.last_recheck < RECHECK_S or q.score < self.cfg.quality_threshold:
            return
        att.last_recheck = t
        vec = self._embed(track.last, rep)
        if vec is not None and float(vec @ att.template) < self.threshold:
            self._split(att, track)

    def _same_face(self, att: Attempt, track: FaceTrack, t: float, rep: StepReport, *,
                   fresh_s: float = REVERIFY_S, obs=None) -> bool:
        """Right before a punch: the track's best frame since the last descriptor (or ``obs``)
        still shows the identified face (checked when that descriptor is older than ``fresh_s``)."""
        if t - att.last_desc_t <= fresh_s:
            return True
        if obs is None:
            recent = [o for o in track.observations if o.t_mono > att.last_desc_t] or [track.last]
            obs = max(recent, key=lambda o: (o.quality or 0.0, o.t_mono))
        vec = self._embed(obs, rep)
        if vec is None:
            return False
        if float(vec @ att.template) >= self.threshold:
            att.last_desc_t = obs.t_mono
            return True
        log.warning("gate %s: track %d shows another face before the punch: no punch, track split",
                    self.gate_id, track.track_id)
        self._split(att, track)
        return False

    def _split(self, att: Attempt, track: FaceTrack) -> None:
        self._attempts.pop(att.track_id, None)
        self.tracker.split(track.track_id)

    # ---- expensive calls ------------------------------------------------------------------
    def _embed(self, obs, rep: StepReport) -> np.ndarray | None:
        try:
            vec = self.backend.embed(obs.image, obs.face)
        except Exception as exc:  # noqa: BLE001 - a face the aligner cannot use is just not used
            log.debug("gate %s: descriptor failed: %s", self.gate_id, exc)
            return None
        rep.descriptors += 1
        self.stats["descriptors"] += 1
        return vec

    def _judge(self, att: Attempt, track: FaceTrack, t: float, rep: StepReport, *, force: bool = False):
        if self.judge is None:
            return None
        if not force and (t - att.last_judged < JUDGE_EVERY_S or len(track) < self.min_liveness_obs):
            return None
        att.last_judged = t
        try:
            if att.phase is Phase.CHALLENGE:
                v = self.judge.judge(track, att.challenge, att.challenge_t)
            else:
                v = self.judge.judge(track)
        except Exception as exc:  # noqa: BLE001 - never live on an error
            log.warning("gate %s: liveness judge failed: %s", self.gate_id, type(exc).__name__)
            return None
        rep.judged += 1
        self.stats["judged"] += 1
        att.verdict = v
        return v

    # ---- decisions --------------------------------------------------------------------------
    def _punch(self, att: Attempt, track: FaceTrack, v, cue: str | None, t: float, rep: StepReport) -> None:
        if not self._same_face(att, track, t, rep):
            return
        worker = att.identity.worker
        if self.cooldown.recent(worker):     # punched at another gate meanwhile
            self._already(att, t)
            return
        entry = self._decide(att, GateDecision(
            gate_id=self.gate_id, direction=self.direction, type="punch", worker_ref=worker, kind="work",
            match_score=unit_score(att.identity.score), liveness_score=unit_score(v.score),
            liveness_cue=ledger_cue(cue),
            snapshot_ref=self._snapshot(att, track)), rep)
        if entry is not None and entry.type == "punch":
            self.cooldown.mark(worker)
            self.stats["punches"] += 1
            att.finish("punch", t)
            log.info("gate %s: punch seq %d (track %d)", self.gate_id, entry.seq, track.track_id)
        else:
            att.finish("rejected", t)     # gate fault or ledger failure: may retry

    def _reject(self, att: Attempt, track: FaceTrack, reason: str, t: float, rep: StepReport, *,
                verdict=None, cue: str | None = None) -> None:
        if verdict is None and self.judge is not None and att.phase is Phase.COLLECT:
            verdict = self._judge(att, track, t, rep, force=True)    # for the record only
            cue = verdict.cue if verdict is not None else cue
        d = att.identity
        liveness_reason = reason.startswith("liveness")
        self._decide(att, GateDecision(
            gate_id=self.gate_id, direction=self.direction, type="rejected",
            worker_ref=d.worker if liveness_reason and d is not None and d.accepted else None,
            match_score=unit_score(d.score) if d is not None else None,
            liveness_score=unit_score(verdict.score) if verdict is not None else None, liveness_cue=ledger_cue(cue),
            snapshot_ref=self._snapshot(att, track), reject_reason=reason), rep)
        self.stats["rejected"] += 1
        att.finish("rejected", t)
        log.info("gate %s: track %d rejected (%s)", self.gate_id, track.track_id, reason)

    def _already(self, att: Attempt, t: float) -> None:
        self.stats["cooldown"] += 1
        att.finish("cooldown", t)
        self.prompts.show("already_punched")

    def _decide(self, att: Attempt, decision: GateDecision, rep: StepReport) -> LedgerEntry | None:
        try:
            entry = self.controller.decide(decision)
        except Exception:  # noqa: BLE001 - ledger failure: nothing opened; the face may retry
            self.stats["errors"] += 1
            log.exception("gate %s: decision not recorded", self.gate_id)
            return None
        rep.entries.append(entry)
        return entry

    def _snapshot(self, att: Attempt, track: FaceTrack) -> str | None:
        obs = att.best or track.last
        return self.snapshots.save(obs.image, obs.face, self.gate_id)

    def _refuse(self, why: str) -> None:
        self.stats["skipped"] += 1
        n = self._bad_frames[why] = self._bad_frames.get(why, 0) + 1
        if n == 1 or n % 1000 == 0:
            log.warning("gate %s: frame refused (%s), %d so far", self.gate_id, why, n)
