"""``edge-agent eval liveness DIR --json``: the presentation-attack harness (issue 3).

DIR holds ``spoof/real/*`` (bona fide), ``spoof/fake/<type>_*`` (attacks; the type is the
file-name prefix before the first ``_``) and ``videos/*`` (bona fide videos). Each file is
one presentation (ISO/IEC 30107-3):

* an **image** is a one-frame track: only the passive cues can speak (MiniFASNet, texture);
  "live" then needs p(real) ≥ ``passive_only_threshold``, a rule only the still-image judge
  has (``MultiCueJudge.for_still_images``): the gate's judge never accepts without motion
  evidence, so at a real gate a still picture can only ever be refused or challenged;
* a **video** is read at ≤ 15 fps, the largest face per frame is followed (a jump to
  another face starts a new track), and the judge sees a sliding window of the last
  ``WINDOW`` observations (as the gate would, once per new frame, here every ``STRIDE``).
  The presentation's decision is the **first** window that decides (live or spoof): the
  gate acts on its first decisive verdict. No window decisive: "inconclusive" (the gate
  would escalate to a challenge; files cannot answer one).

A presentation counts as accepted only when its decision is "live". APCER per attack type
= accepted / presented; ``apcer`` = the worst type; BPCER = bona fide not accepted /
presented. Unreadable files and files without a face are **failures, not skips**: they
stay in the denominators (a bona fide one counts as rejected) and are listed.

``ablation``: the same presentations judged with each cue left out (``without_<cue>``) and
with each cue alone (``only_<cue>``), to show what each cue adds.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v")
MAX_FPS = 15.0
WINDOW = 15
STRIDE = 3
JUMP = 0.6          # a face whose centre moved more than this × its size is another face
# Faces are found with YuNet at this score (not the gate's 0.9 for recognition): a PAD test
# must put the attack in front of the judge; at 0.9 YuNet misses most of the phone screen.
EVAL_DET_SCORE = 0.6


def add_liveness_parser(esub) -> None:
    """Register ``eval liveness`` on the ``edge-agent eval`` sub-parsers."""
    p = esub.add_parser("liveness", help="presentation attacks on DIR/spoof/{real,fake} and DIR/videos")
    p.add_argument("dir", help="data folder with spoof/real/*, spoof/fake/<type>_* and videos/*")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--no-ablation", action="store_true", help="skip the per-cue ablation")
    p.add_argument("--det-score", type=float, default=EVAL_DET_SCORE, metavar="S",
                   help=f"YuNet score for finding faces (default {EVAL_DET_SCORE}; the gate uses [edge.vision])")
    p.set_defaults(eval_func=cmd_eval_liveness)


def collect(root: Path) -> tuple[list[dict], list[str]]:
    """Presentations ({file, path, truth, type, kind}) and the missing folders."""
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is not a folder")
    folders = {"spoof/real": "bona_fide", "spoof/fake": "attack", "videos": "bona_fide"}
    missing = [f for f in folders if not (root / f).is_dir()]
    if len(missing) == len(folders):
        raise FileNotFoundError(f"{root} has none of spoof/real, spoof/fake, videos")
    items = []
    for folder, truth in folders.items():
        if folder in missing:
            continue
        for p in sorted(x for x in (root / folder).iterdir() if not x.name.startswith(".")):
            if not p.is_file():
                continue
            suffix = p.suffix.lower()
            kind = "image" if suffix in IMAGE_SUFFIXES else "video" if suffix in VIDEO_SUFFIXES else "unknown"
            typ = p.name.split("_", 1)[0] if truth == "attack" else "bona_fide"
            items.append({"file": str(p.relative_to(root)), "path": p, "truth": truth, "type": typ, "kind": kind})
    return items, missing


def face_stream(path: Path, backend):
    """Yield (FaceObservation of the largest face, starts_a_new_track) from a video read at
    ≤ MAX_FPS. A frame without a face ends the track; so does a jump to another face."""
    import cv2
    import numpy as np

    from ..vision.track import FaceObservation

    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise ValueError(f"{path.name}: not a readable video")
    fps = cap.get(cv2.CAP_PROP_FPS) or MAX_FPS
    fps = fps if 1.0 <= fps <= 240.0 else MAX_FPS
    step = max(1, round(fps / MAX_FPS))
    prev, n = None, 0
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            n += 1
            if (n - 1) % step:
                continue
            faces = backend.detect(frame)
            if not faces:
                prev = None
                continue
            f = faces[0]
            c = np.array([f.box[0] + f.box[2] / 2, f.box[1] + f.box[3] / 2])
            new = prev is None or np.linalg.norm(c - prev[0]) > JUMP * prev[1]
            prev = (c, f.size_px)
            yield FaceObservation(frame, (n - 1) / fps, f, frame_seq=n - 1), new
    finally:
        cap.release()
    if n == 0:
        raise ValueError(f"{path.name}: no frame could be decoded")


def video_tracks(path: Path, backend) -> list[list]:
    """Tracks (lists of FaceObservation) of the largest face, frames at ≤ MAX_FPS (all in memory:
    for tests and benchmarks; the harness streams with :func:`stream_windows`)."""
    tracks: list[list] = []
    for obs, new in face_stream(path, backend):
        if new:
            tracks.append([])
        tracks[-1].append(obs)
    return tracks


def windows(tracks: list[list]) -> list[list]:
    """Sliding windows: the last WINDOW observations every STRIDE (a shorter track: itself)."""
    out = []
    for tr in tracks:
        if len(tr) <= WINDOW:
            out.append(tr)
            continue
        ends = list(range(WINDOW, len(tr) + 1, STRIDE))
        if ends[-1] != len(tr):
            ends.append(len(tr))
        out.extend(tr[e - WINDOW:e] for e in ends)
    return out


def stream_windows(path: Path, backend):
    """The same windows as ``windows(video_tracks(...))``, holding only WINDOW frames at a time."""
    from collections import deque

    recent: deque = deque(maxlen=WINDOW)
    n = 0

    def tail():
        if n and (n < WINDOW or (n - WINDOW) % STRIDE):
            yield list(recent)
    for obs, new in face_stream(path, backend):
        if new:
            yield from tail()
            recent.clear()
            n = 0
        recent.append(obs)
        n += 1
        if n >= WINDOW and (n - WINDOW) % STRIDE == 0:
            yield list(recent)
    yield from tail()


def presentation(windows_, judges: dict) -> dict[str, tuple[dict, list[float]]]:
    """Judge every window with every judge (name → judge). Per judge, the presentation's
    decision is the majority of the decisive windows (live vs spoof; a tie is spoof),
    "inconclusive" when none decided; ``first_decision`` / ``any_live`` are kept for the
    stricter views. Returns name → (summary, per-call ms)."""
    from ..vision.track import FaceTrack

    runs = {name: ([], []) for name in judges}       # verdicts, ms
    frames = set()
    for w in windows_:
        frames.update(o.frame_seq for o in w)      # ids of freed frames could be reused
        for name, j in judges.items():
            t0 = time.perf_counter()
            v = j.judge(FaceTrack(0, list(w)))
            runs[name][1].append((time.perf_counter() - t0) * 1e3)
            runs[name][0].append(v)
    return {name: (_summary(verdicts, len(frames)), ms) for name, (verdicts, ms) in runs.items()}


def _summary(verdicts: list, n_frames: int) -> dict | None:
    if not verdicts:
        return None
    counts = {"live": 0, "spoof": 0, "inconclusive": 0}
    for v in verdicts:
        counts[v.decision] += 1
    first = next((v for v in verdicts if v.decision != "inconclusive"), None)
    if counts["live"] == counts["spoof"] == 0:
        decision = "inconclusive"
    else:
        decision = "live" if counts["live"] > counts["spoof"] else "spoof"
    # the verdict shown: the median-scored window of the winning kind
    pick = sorted((v for v in verdicts if v.decision == decision), key=lambda v: v.score)
    v = pick[len(pick) // 2] if pick else verdicts[-1]
    cue_wins: dict[str, int] = {}
    for x in verdicts:
        if x.decision != "inconclusive":
            cue_wins[f"{x.decision}:{x.cue}"] = cue_wins.get(f"{x.decision}:{x.cue}", 0) + 1
    return {"decision": decision, "score": v.score, "cue": v.cue, "windows": counts, "frames": n_frames,
            "first_decision": first.decision if first else "inconclusive", "any_live": counts["live"] > 0,
            "deciding_cues": cue_wins,
            "suggested_challenge": v.suggested_challenge if decision == "inconclusive" else None,
            "cues": [{"name": c.name, "score": c.score, "conclusive": c.conclusive, "detail": c.detail}
                     for c in v.cues]}


def rates(results: list[dict], key: str = "decision") -> dict:
    """ISO/IEC 30107-3 figures; ``key`` picks which presentation decision is counted."""
    def accepted(r):
        return r.get("any_live", False) if key == "any_live" else r.get(key) == "live"
    attacks = [r for r in results if r["truth"] == "attack"]
    bona = [r for r in results if r["truth"] == "bona_fide"]
    by_type: dict[str, list[int]] = {}
    for r in attacks:
        acc = by_type.setdefault(r["type"], [0, 0])
        acc[0] += accepted(r)
        acc[1] += 1
    apcer_by_type = {t: round(a / n, 4) for t, (a, n) in sorted(by_type.items())}
    rejected = sum(not accepted(r) for r in bona)
    return {"apcer": max(apcer_by_type.values()) if apcer_by_type else None, "apcer_by_type": apcer_by_type,
            "bpcer": round(rejected / len(bona), 4) if bona else None,
            "attacks": len(attacks), "bona_fide": len(bona),
            "attacks_accepted": sum(accepted(r) for r in attacks), "bona_fide_rejected": rejected}


def run_liveness(root: str | Path, judge=None, backend=None, ablation: bool = True,
                 det_score: float = EVAL_DET_SCORE) -> dict:
    import numpy as np

    from ..vision.backend import create_backend
    from ..vision.config import VisionConfig
    from ..vision.images import ImageError, read_image
    from ..vision.track import FaceObservation
    from .judge import ALL_CUES, create_judge

    root = Path(root)
    items, missing = collect(root)
    judge = judge or create_judge()
    backend = backend or create_backend(VisionConfig(det_score_threshold=det_score))
    variants = {}
    if ablation:
        for cue in ALL_CUES:
            variants[f"without_{cue}"] = judge.with_cues([c for c in ALL_CUES if c != cue])
            variants[f"only_{cue}"] = judge.with_cues([cue])
    failures: list[dict] = []
    times: list[float] = []
    details: list[dict] = []
    abl_rows: dict[str, list[dict]] = {k: [] for k in variants}

    judges = {"": judge, **variants}
    still_judges = {name: j.for_still_images() for name, j in judges.items()}

    def base(it) -> dict:
        return {"file": it["file"], "truth": it["truth"], "type": it["type"], "kind": it["kind"]}

    # one presentation at a time; a video is streamed (WINDOW frames in memory, not the file)
    for it in items:
        results = None
        try:
            if it["kind"] == "image":
                img = read_image(it["path"])
                faces = backend.detect(img)
                wins = [[FaceObservation(img, 0.0, faces[0])]] if faces else []
            elif it["kind"] == "video":
                wins = stream_windows(it["path"], backend)
            else:
                raise ValueError(f"{it['path'].name}: not an image or video file")
            results = presentation(wins, still_judges if it["kind"] == "image" else judges)
            if results[""][0] is None:      # no window: no face anywhere
                results = None
                failures.append({"file": it["file"], "kind": "no_face"})
        except (ImageError, ValueError, OSError) as exc:
            failures.append({"file": it["file"], "kind": "unreadable", "detail": str(exc)})
        for name in judges:
            row = base(it)
            if results is None:
                row.update(decision="failure", score=None, cue=None, first_decision="failure", any_live=False)
            else:
                row.update(results[name][0])
                if name == "":
                    times.extend(results[name][1])
            (details if name == "" else abl_rows[name]).append(row)

    strict = {k: rates(details, k) for k in ("first_decision", "any_live")}
    result = {**rates(details), "missing_folders": missing, "failures": failures,
              "first_window_rule": {k: strict["first_decision"][k] for k in ("apcer", "apcer_by_type", "bpcer")},
              "any_window_rule": {k: strict["any_live"][k] for k in ("apcer", "apcer_by_type", "bpcer")},
              "judge_calls": len(times),
              "judge_p50_ms": round(float(np.percentile(times, 50)), 2) if times else None,
              "judge_p95_ms": round(float(np.percentile(times, 95)), 2) if times else None,
              "window": WINDOW, "stride": STRIDE, "max_fps": MAX_FPS, "det_score": det_score,
              "cues": list(judge.cue_names), "details": details,
              "still_image_rule": "images: passive cues only, live at p(real) >= passive_only_threshold; "
                                  "the gate's judge never accepts without motion evidence"}
    if ablation:
        result["ablation"] = {name: {**rates(r), "decisions": {d["file"]: d["decision"] for d in r}}
                              for name, r in abl_rows.items()}
    return result


def cmd_eval_liveness(args) -> int:
    from .config import LivenessConfig
    from .judge import create_judge

    cfg = LivenessConfig()
    if getattr(args, "config", None):           # optional: the gateway's [edge.liveness]
        from ..config import load_config
        cfg = getattr(load_config(args.config), "liveness", cfg)
    if not 0.05 <= args.det_score <= 1.0:
        print("错误 / error: --det-score must be in [0.05, 1]", file=sys.stderr)
        return 1
    try:
        result = run_liveness(args.dir, create_judge(cfg), ablation=not args.no_ablation,
                              det_score=args.det_score)
    except (FileNotFoundError, ValueError, RuntimeError) as exc:
        print(f"错误 / error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        print(f"APCER {result['apcer']} {result['apcer_by_type']}  BPCER {result['bpcer']}  "
              f"attacks {result['attacks']}  bona fide {result['bona_fide']}  failures {len(result['failures'])}  "
              f"judge p50 {result['judge_p50_ms']} ms")
        for d in result["details"]:
            print(f"  {d['file']}: {d['decision']} (score {d['score']}, cue {d['cue']})")
    return 0
