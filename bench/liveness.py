#!/usr/bin/env python3
"""Liveness judge cost per call on ~15-frame tracks of the live video (run on one core:
``taskset -c 0 python bench/liveness.py``).

* ``cold_15_p50_ms``: a judge call on a 15-observation window never seen before (every
  observation new: MiniFASNet on ``minifasnet_frames`` of them, face mesh on all 15, texture,
  3-D fits, blink) — the worst case, e.g. the first call on a track.
* ``incremental_p50_ms``: the gate's pattern: the track grows by one frame and the judge is
  called on its last 15 observations (per-observation caches hold the earlier frames).
* ``baseline_cold_15_p50_ms``: the same cold windows judged by MiniFASNet alone (the learned
  cue without the others); ``ratio`` = full cold p50 / baseline cold p50.
* ``*_cpu_*``: the same calls in CPU time of this process (``time.process_time``): on a
  machine shared with other work, wall time is inflated, CPU time much less.

Frames come from ../shared/data/faces/videos/live_webcam_blink_turn_zubair.mov; detection
(YuNet) is done beforehand and not timed.

    python bench/liveness.py [--faces ../shared/data/faces] [--windows 8]
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from pathlib import Path

from _common import emit, percentile

import cv2

REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--faces", default=str(REPO.parent / "shared" / "data" / "faces"))
    ap.add_argument("--windows", type=int, default=8)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    cv2.setNumThreads(1)
    from edge_agent.liveness.eval_liveness import EVAL_DET_SCORE, video_tracks
    from edge_agent.liveness.judge import create_judge
    from edge_agent.vision.config import VisionConfig
    from edge_agent.vision.sface import SFaceBackend
    from edge_agent.vision.track import FaceObservation, FaceTrack

    video = Path(args.faces) / "videos" / "live_webcam_blink_turn_zubair.mov"
    if not video.is_file():
        raise SystemExit(f"missing {video}")
    tracks = video_tracks(video, SFaceBackend(VisionConfig(det_score_threshold=EVAL_DET_SCORE)))
    obs = max(tracks, key=len)
    judge = create_judge()
    baseline = judge.with_cues(["minifasnet"])

    def fresh(window):   # new objects: every per-observation cache misses
        return FaceTrack(0, [FaceObservation(o.image, o.t_mono, o.face, o.frame_seq) for o in window])

    judge.judge(fresh(obs[:15]))        # warm-up (model initialisation)
    starts = [round(i * (len(obs) - 15) / max(1, args.windows - 1)) for i in range(args.windows)]
    cold, base, cold_cpu, base_cpu = [], [], [], []
    for s in starts:
        w = obs[s:s + 15]
        for j, out, cpu in ((judge, cold, cold_cpu), (baseline, base, base_cpu)):
            tr = fresh(w)
            t0, c0 = time.perf_counter(), time.process_time()
            j.judge(tr)
            out.append((time.perf_counter() - t0) * 1e3)
            cpu.append((time.process_time() - c0) * 1e3)
    inc, inc_cpu = [], []
    grow = fresh(obs[:60]).observations
    for k in range(15, len(grow)):
        tr = FaceTrack(0, grow[k - 14:k + 1])
        t0, c0 = time.perf_counter(), time.process_time()
        judge.judge(tr)
        inc.append((time.perf_counter() - t0) * 1e3)
        inc_cpu.append((time.process_time() - c0) * 1e3)
    c50, b50 = percentile(cold, 50), percentile(base, 50)
    r = lambda v: round(v, 1)  # noqa: E731
    emit({"bench": "liveness", "window_frames": 15, "windows": len(cold),
          "cold_15_p50_ms": r(c50), "cold_15_p95_ms": r(percentile(cold, 95)),
          "incremental_p50_ms": r(percentile(inc, 50)), "incremental_p95_ms": r(percentile(inc, 95)),
          "baseline_cold_15_p50_ms": r(b50), "ratio": round(c50 / b50, 2) if b50 else None,
          # CPU time of this process (not inflated by other processes sharing the core)
          "cold_15_cpu_p50_ms": r(percentile(cold_cpu, 50)), "incremental_cpu_p50_ms": r(percentile(inc_cpu, 50)),
          "baseline_cold_15_cpu_p50_ms": r(percentile(base_cpu, 50)),
          "load_average_1min": round(os.getloadavg()[0], 2)})


if __name__ == "__main__":
    main()
