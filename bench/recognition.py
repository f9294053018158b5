#!/usr/bin/env python3
"""1:N recognition: per-probe decision time of our pipeline vs. a baseline, on one core.

Probes are the identify harness's probes (shared/data/faces, K=1: 159 identity images
and 44 unknowns, decoded and capped at 1600 px beforehand; decoding is not timed) and
the same identities' 2nd images letterboxed into 640x480 camera-sized frames.

* ours: YuNet on a ≤640 px copy first (full size only if nothing is found), SFace
  descriptor of the largest face only, one matrix-vector product over the gallery with
  the threshold + margin rule (edge_agent.vision).
* baseline: the same two models used as OpenCV Zoo's demo does: YuNet on the full-size
  image (retry on the ≤640 px copy only when nothing is found, else big faces are
  missed), a descriptor for *every* detected face, and each compared with every template
  by ``FaceRecognizerSF.match`` in a Python loop.
* dlib (on the 640x480 frames only; it is slow): ``dlib_640x480_*`` is the dlib backend
  through our interface (HOG with ``dlib_upsample`` 1, 5-point alignment, ResNet descriptor
  of the largest face, gallery decision); ``face_recognition_640x480_*`` is the
  face_recognition library's pipeline (the baseline the issue names for bench/gate.py):
  HOG with one upsample on the frame, a descriptor for every face, Euclidean distance to
  every template, match if < 0.6. ``speedup_vs_face_recognition`` = that p50 / ours p50
  on the same frames in the same run. ``--no-dlib`` skips this part.

``search_100k_ms``: one 1:N decision over 100,000 random unit templates (25,000 workers
x 4); ``search_100k_baseline_ms``: face_recognition's linear compare
(``np.linalg.norm(templates - probe, axis=1)`` then the minimum). Runs alternate in rounds.
``ratio`` = ours p50 / baseline p50 (below 1 = faster); ``speedup_vs_baseline`` its inverse.

    python bench/recognition.py [--faces ../shared/data/faces] [--rounds 3] [--no-dlib]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from _common import emit, percentile

import cv2
import numpy as np

from edge_agent.vision.config import VisionConfig
from edge_agent.vision.eval_identify import collect
from edge_agent.vision.gallery import Gallery
from edge_agent.vision.images import read_image
from edge_agent.vision.sface import SFaceBackend

REPO = Path(__file__).resolve().parent.parent


def letterbox(img: np.ndarray, w: int = 640, h: int = 480) -> np.ndarray:
    s = min(w / img.shape[1], h / img.shape[0])
    small = cv2.resize(img, (round(img.shape[1] * s), round(img.shape[0] * s)), interpolation=cv2.INTER_AREA)
    out = np.zeros((h, w, 3), np.uint8)
    y, x = (h - small.shape[0]) // 2, (w - small.shape[1]) // 2
    out[y:y + small.shape[0], x:x + small.shape[1]] = small
    return out


def ours(backend, gallery: Gallery, cfg: VisionConfig, img: np.ndarray):
    faces = backend.detect(img)
    if not faces:
        return None
    return gallery.identify(backend.embed(img, faces[0]), cfg.match_threshold, cfg.match_margin)


def baseline(backend: SFaceBackend, templates: list[tuple[str, np.ndarray]], cfg: VisionConfig, img):
    rec = backend._recognizer
    best = (None, -2.0)
    for row in backend.detect_rows(img):                  # every face in the frame
        feat = rec.feature(rec.alignCrop(img, row.reshape(1, 15)))
        for worker, t in templates:                       # linear compare, one call per template
            s = rec.match(feat, t, cv2.FaceRecognizerSF_FR_COSINE)
            if s > best[1]:
                best = (worker, s)
    return best if best[1] >= cfg.match_threshold else None


def face_recognition_style(dlib_b, raw_templates: np.ndarray, img: np.ndarray) -> bool:
    """face_recognition.face_locations(img, 1) + face_encodings + compare_faces(tolerance=0.6)."""
    rgb = np.ascontiguousarray(img[:, :, ::-1])
    hit = False
    for rect in dlib_b._detector(rgb, 1):
        enc = np.asarray(dlib_b._resnet.compute_face_descriptor(rgb, dlib_b._shape(rgb, rect), 1))
        hit |= bool(np.any(np.linalg.norm(raw_templates - enc, axis=1) <= 0.6))
    return hit


def timed(fn, frames) -> list[float]:
    out = []
    for img in frames:
        t0 = time.perf_counter()
        fn(img)
        out.append((time.perf_counter() - t0) * 1e3)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--faces", default=str(REPO.parent / "shared" / "data" / "faces"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--no-dlib", action="store_true", help="skip the dlib / face_recognition timings")
    args = ap.parse_args()
    try:
        os.sched_setaffinity(0, {0})                      # as `taskset -c 0`
    except (AttributeError, OSError):
        pass
    cv2.setNumThreads(1)
    cfg = VisionConfig()
    ours_b, base_b = SFaceBackend(cfg), SFaceBackend(cfg, downscale_first=False)
    enrol, probes, unknowns = collect(Path(args.faces), 1)
    gallery, templates = Gallery(), []
    for person, paths in enrol.items():
        img = read_image(paths[0])
        faces = ours_b.detect(img)
        if faces:
            gallery.add(person, ours_b.embed(img, faces[0]))
            raw = ours_b._recognizer.feature(ours_b._recognizer.alignCrop(img, faces[0].raw.reshape(1, 15)))
            templates.append((person, raw))
    photos = [read_image(p) for ps in probes.values() for p in ps] + [read_image(p) for p in unknowns]
    frames = [letterbox(read_image(ps[0])) for ps in probes.values() if ps]
    dlib_b = None
    if not args.no_dlib:
        from edge_agent.vision.backend import create_backend
        dcfg = VisionConfig(type="dlib", dlib_upsample=1)
        dlib_b = create_backend(dcfg)
        dgallery, draw = Gallery(), []
        for person, paths in enrol.items():
            img = read_image(paths[0])
            faces = dlib_b.detect(img)
            if faces:
                dgallery.add(person, dlib_b.embed(img, faces[0]))
                draw.append(dlib_b.raw_descriptor(img, faces[0]))
        draw = np.stack(draw)

    res = {"ours": [], "base": [], "ours640": [], "base640": [], "dlib640": [], "fr640": []}
    for _ in range(args.rounds):
        res["ours"] += timed(lambda im: ours(ours_b, gallery, cfg, im), photos)
        res["base"] += timed(lambda im: baseline(base_b, templates, cfg, im), photos)
        res["ours640"] += timed(lambda im: ours(ours_b, gallery, cfg, im), frames)
        res["base640"] += timed(lambda im: baseline(base_b, templates, cfg, im), frames)
        if dlib_b is not None:
            res["dlib640"] += timed(lambda im: ours(dlib_b, dgallery, dcfg, im), frames)
            res["fr640"] += timed(lambda im: face_recognition_style(dlib_b, draw, im), frames)

    rng = np.random.default_rng(0)
    big = rng.standard_normal((100_000, 128)).astype(np.float32)
    g100k = Gallery.from_arrays(big, np.repeat(np.arange(25_000), 4).astype(str))
    big_unit = g100k._t
    queries = [v / np.linalg.norm(v) for v in rng.standard_normal((100, 128)).astype(np.float32)]
    s_ours, s_base = [], []
    for q in queries:
        t0 = time.perf_counter()
        g100k.identify(q, cfg.match_threshold, cfg.match_margin)
        s_ours.append((time.perf_counter() - t0) * 1e3)
        t0 = time.perf_counter()
        int(np.argmin(np.linalg.norm(big_unit - q, axis=1)))
        s_base.append((time.perf_counter() - t0) * 1e3)

    p = {k: (round(percentile(v, 50), 2), round(percentile(v, 95), 2)) for k, v in res.items() if v}
    dlib_part = {} if dlib_b is None else {
        "dlib_640x480_p50_ms": p["dlib640"][0], "dlib_640x480_p95_ms": p["dlib640"][1],
        "face_recognition_640x480_p50_ms": p["fr640"][0], "face_recognition_640x480_p95_ms": p["fr640"][1],
        "speedup_vs_face_recognition": round(p["fr640"][0] / p["ours640"][0], 2),
        "speedup_vs_dlib_backend": round(p["dlib640"][0] / p["ours640"][0], 2)}
    emit({**dlib_part, "bench": "recognition", "cpu_affinity": sorted(os.sched_getaffinity(0)), "cv2_threads": cv2.getNumThreads(),
          "probes": len(photos), "frames_640x480": len(frames), "rounds": args.rounds, "gallery": len(gallery),
          "ours_p50_ms": p["ours"][0], "ours_p95_ms": p["ours"][1],
          "baseline_p50_ms": p["base"][0], "baseline_p95_ms": p["base"][1],
          "ratio": round(p["ours"][0] / p["base"][0], 3),
          "speedup_vs_baseline": round(p["base"][0] / p["ours"][0], 2),
          "ours_640x480_p50_ms": p["ours640"][0], "ours_640x480_p95_ms": p["ours640"][1],
          "baseline_640x480_p50_ms": p["base640"][0], "baseline_640x480_p95_ms": p["base640"][1],
          "search_100k_ms": round(percentile(s_ours, 50), 2),
          "search_100k_p95_ms": round(percentile(s_ours, 95), 2),
          "search_100k_baseline_ms": round(percentile(s_base, 50), 2)})


if __name__ == "__main__":
    main()
