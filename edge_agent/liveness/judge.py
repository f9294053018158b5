"""The gate's liveness judge: several independent cues fused over the short track.

Fusion rule (fixed a priori; docs/liveness.md gives the reasons):

* Every cue maps its measurement to 0..1 with 0.5 at its operating point. The fused
  ``score`` is the **lowest** score of the conclusive cues (an AND of the cues: one cue
  that sees an attack is enough to refuse). ``cue`` names the deciding cue: the vetoing
  cue for spoof, the evidence of life for live (the strongest motion cue, else
  ``minifasnet``; ``challenge_blink`` / ``challenge_turn_head`` after a challenge), the
  weakest or missing cue for inconclusive.
* ``spoof``: a conclusive cue scores below 0.5 (it vetoes).
* ``live``: no veto, the learned cue (MiniFASNet) is conclusive, and there is positive
  evidence of life: a motion cue (3-D structure, blink, micro-motion) is conclusively live. The gate's
  judge has no other path: a photo held up and jiggled by hand can make the learned cue
  very sure, so "very sure and motionless" is only ``inconclusive`` there and leads to a
  challenge. Only a judge built for still images (``still_images=True``, the evaluation
  harness's single-image presentations) may say live on the learned cue alone, when it
  is very sure (p(real) ≥ ``passive_only_threshold``) on a one-frame track.
* otherwise ``inconclusive`` with a suggested challenge (``turn_head`` while the 3-D cue
  has not seen the head turn; it also defeats a held photo; else ``blink``).
* With ``challenge``: only the observations at or after ``challenge_t_mono`` count; live
  needs the challenge performed (blink seen / head turned with 3-D parallax) and no veto.
  The learned cue may sit in its uncertain band then: an action performed right after an
  unannounced prompt is evidence a replayed video lacks (unless it happens to show that
  action at that moment). Not (yet) performed = inconclusive.

The judge is pure: no I/O, no state about people (only per-observation caches of
frame measurements, keyed by object identity). Cue errors make that cue inconclusive
(never live) and are logged; a malformed track raises :class:`LivenessInputError`.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Sequence

from ..vision.track import FaceTrack
from .config import LivenessConfig
from .cue import Cue
from .frames import LivenessInputError, UnusableObservation, as_bgr, face_box
from .verdict import Challenge, CueScore, LivenessVerdict

log = logging.getLogger(__name__)

CHALLENGES = ("blink", "turn_head")
ALL_CUES = ("minifasnet", "texture", "depth", "blink", "micromotion")


def models_dir(cfg: LivenessConfig) -> Path:
    if cfg.models_dir:
        return Path(cfg.models_dir)
    return Path(__file__).resolve().parent / "models"


class MultiCueJudge:
    """``judge(track, challenge=None, challenge_t_mono=None) -> LivenessVerdict``.

    ``cues`` (names from :data:`ALL_CUES`) exists for evaluation (ablation); the gate
    always builds the full set through :func:`create_judge`.
    """

    def __init__(self, cfg: LivenessConfig | None = None, cues: Sequence[str] = ALL_CUES, *,
                 still_images: bool = False, _shared=None):
        self.cfg = cfg or LivenessConfig()
        # False at the gate (create_judge): live needs motion evidence; see the module docstring
        self.still_images = still_images
        unknown = set(cues) - set(ALL_CUES)
        if unknown or not cues:
            raise ValueError(f"unknown or no liveness cues {sorted(unknown)} (known: {ALL_CUES})")
        self.cue_names = tuple(c for c in ALL_CUES if c in cues)
        self._all = _shared if _shared is not None else _build_cues(self.cfg)
        self.cues: list[Cue] = [self._all[n] for n in self.cue_names]

    def with_cues(self, cues: Sequence[str]) -> "MultiCueJudge":
        """A judge over a subset of this one's cues, sharing models and caches (ablation)."""
        return MultiCueJudge(self.cfg, cues, still_images=self.still_images, _shared=self._all)

    def for_still_images(self) -> "MultiCueJudge":
        """The same cues judging single still images (evaluation only: see the module docstring)."""
        return MultiCueJudge(self.cfg, self.cue_names, still_images=True, _shared=self._all)

    # -- the one public method ---------------------------------------------
    def judge(self, track: FaceTrack, challenge: Challenge | None = None,
              challenge_t_mono: float | None = None) -> LivenessVerdict:
        obs = _checked_observations(track)
        if challenge is not None:
            if challenge not in CHALLENGES:
                raise LivenessInputError(f"unknown challenge {challenge!r} (known: {CHALLENGES})")
            if challenge_t_mono is None or not math.isfinite(float(challenge_t_mono)):
                raise LivenessInputError("a challenge needs the finite challenge_t_mono it was shown at")
            obs = [o for o in obs if o.t_mono >= challenge_t_mono]
        usable, dropped, first_why = [], 0, ""
        for o in obs:
            try:
                frame = as_bgr(getattr(o, "image", None))
                face_box(o, frame)
            except UnusableObservation as exc:
                dropped += 1
                first_why = first_why or str(exc)
                log.debug("liveness: observation dropped: %s", exc)
                continue
            usable.append((o, frame))
        if not usable:
            why = "no observation" if not obs else f"no usable observation ({dropped} dropped: {first_why})"
            return LivenessVerdict("inconclusive", 0.5, "no_usable_frame",
                                   (CueScore("input", 0.5, False, why),), challenge,
                                   suggested_challenge=challenge or "turn_head")
        scores = tuple(self._run(c, usable) for c in self.cues)
        if dropped:
            scores += (CueScore("input", 0.5, False, f"{dropped} of {len(obs)} observations unusable: {first_why}"),)
        v = self._fuse(scores, challenge, usable)
        log.debug("liveness: %s by %s (score %.3f, %d frames, challenge %s)", v.decision, v.cue, v.score,
                  len(usable), challenge)
        return v

    def prepare(self, obs) -> None:
        """Compute ahead the per-frame measurement the motion cues will ask of one observation
        (its face mesh), so the call that decides does not wait for it. Decides nothing and
        changes no verdict: results are cached per observation, as the cues cache them anyway."""
        try:
            frame = as_bgr(getattr(obs, "image", None))
            face_box(obs, frame)
        except UnusableObservation:
            return
        mesher = next((c.mesher for c in self.cues if getattr(c, "mesher", None) is not None), None)
        if mesher is not None:
            mesher.landmarks(obs, frame)

    # -- internals ------------------------------------------------------------
    @staticmethod
    def _run(cue: Cue, usable) -> CueScore:
        try:
            return cue.evaluate(usable)
        except Exception as exc:   # a cue that fails must not open the gate, nor crash it
            log.warning("liveness cue %s failed: %s", cue.name, type(exc).__name__)
            return CueScore(cue.name, 0.5, False, f"error: {type(exc).__name__}: {exc}")

    def _fuse(self, scores: tuple[CueScore, ...], challenge, usable) -> LivenessVerdict:
        conclusive = [c for c in scores if c.conclusive]
        weakest = min(conclusive, key=lambda c: c.score) if conclusive else None
        fused = weakest.score if weakest else 0.5
        by_name = {c.name: c for c in scores}

        def verdict(decision, cue, suggest=None, extra=()):
            return LivenessVerdict(decision, round(fused, 4), cue, scores + tuple(extra), challenge,
                                   suggested_challenge=suggest)

        if weakest is not None and weakest.score < 0.5:
            return verdict("spoof", weakest.name)
        learned = by_name.get("minifasnet")
        if challenge is not None:
            done = self._all["blink" if challenge == "blink" else "depth"].performed(usable, challenge)
            if done.conclusive and done.score >= 0.5:
                fused = min(fused, done.score)
                return verdict("live", done.name, extra=(done,))
            return verdict("inconclusive", done.name, challenge, extra=(done,))
        depth = by_name.get("depth")
        # a turn shows a held photo as a plane; once the head has turned, ask for a blink
        suggest = "turn_head" if depth is None or not depth.conclusive else "blink"
        if learned is not None and not learned.conclusive:
            return verdict("inconclusive", "minifasnet", suggest)
        motion = [c for c in conclusive if not self._all[c.name].passive and c.score >= 0.5]
        strong = (self.still_images and len(usable) == 1 and learned is not None and learned.raw is not None
                  and learned.raw >= self.cfg.passive_only_threshold)
        if motion:      # the evidence of life decides: the strongest motion cue
            return verdict("live", max(motion, key=lambda c: c.score).name)
        if strong:
            return verdict("live", learned.name)
        return verdict("inconclusive", weakest.name if weakest else "none", suggest)


def _checked_observations(track: FaceTrack) -> list:
    obs = getattr(track, "observations", None)
    if obs is None:
        raise LivenessInputError(f"expected a FaceTrack, got {type(track).__name__}")
    obs = list(obs)
    last = -math.inf
    for i, o in enumerate(obs):
        try:
            t = float(o.t_mono)
        except (AttributeError, TypeError, ValueError):
            raise LivenessInputError(f"observation {i} has no numeric t_mono") from None
        if not math.isfinite(t):
            raise LivenessInputError(f"observation {i}: t_mono is not finite")
        if t < last:
            raise LivenessInputError(f"track is not in time order at observation {i} ({t} < {last})")
        last = t
    return obs


def _build_cues(cfg: LivenessConfig) -> dict[str, Cue]:
    from .blink import BlinkCue
    from .depth import DepthCue
    from .mesh import FaceMesher
    from .micromotion import MicroMotionCue
    from .minifasnet import MiniFASNetCue
    from .texture import TextureCue

    mesher = FaceMesher()
    return {
        "minifasnet": MiniFASNetCue(models_dir(cfg), cfg.minifasnet_threshold, cfg.minifasnet_frames,
                                    cfg.minifasnet_spoof_threshold),
        "texture": TextureCue(cfg),
        "depth": DepthCue(cfg, mesher),
        "blink": BlinkCue(cfg, mesher),
        "micromotion": MicroMotionCue(cfg, mesher),
    }


def create_judge(cfg: LivenessConfig | None = None, *, still_images: bool = False) -> MultiCueJudge:
    """The gate's judge with every cue. Raises (FileNotFoundError / RuntimeError) when a
    model cannot be loaded: the gate must then not open by face. ``still_images`` is for
    the evaluation of single images only (see the module docstring); the gate never sets it."""
    judge = MultiCueJudge(cfg or LivenessConfig(), still_images=still_images)
    log.info("liveness judge ready: cues %s", ",".join(judge.cue_names))
    return judge
