"""``edge-agent eval identify DIR --json``: the 1:N identification harness (issue 3).

DIR holds ``identities/<person>/*`` and optionally ``misc/unknown_*`` (people never
enrolled). The first K images of each person in sorted file-name order are enrolled
(``--enroll-per-identity K``, default 1); every other image of each person and every
unknown is probed. Images where no face is found are failures, not skips: a genuine
probe without a face is a miss, an enrolment image without a face leaves the person
with fewer (maybe no) templates. Decisions use the gate's rule (threshold and margin,
:mod:`edge_agent.vision.gallery`) with ``[edge.vision]`` from ``--config`` or its defaults.

Output: one JSON object with ``tpir`` (share of genuine probes accepted as the right
person), ``fpir`` (share of unknown probes accepted as anyone), ``probes``,
``unknown_probes``, ``p50_ms``/``p95_ms`` (per-probe decision time: detection,
alignment, descriptor and 1:N decision on the decoded image; file decoding is
reported apart as ``decode_p50_ms``), ``failures`` and per-identity ``misses``; also the
open-set rule in force (``open_set_rule``, ``target_fpir``, ``effective_threshold``,
``calibration``: see :meth:`edge_agent.vision.gallery.Gallery.calibrate`).

``--open-set leave-one-out`` adds ``fpir_loo``: for each identity X, everyone else is
enrolled (first K images, calibrated by the same rule) and *all* of X's images are probed
as unknowns; ``fpir_loo`` is the share accepted as anyone (``loo_probes``, ``loo_accepted``,
``loo_false_accepts``). It measures rejection of people the gallery has never seen,
including look-alikes, which the few ``misc/unknown_*`` images cannot.
``--open-set-rule`` / ``--target-fpir`` override ``[edge.vision]`` to compare rules;
``--backend sface|dlib`` overrides ``[edge.vision] type`` to compare backends.

This module imports OpenCV only when a command runs, so ``edge-agent`` starts fast.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
import time
from pathlib import Path

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


def add_eval_parser(sub) -> None:
    """Register ``eval identify`` on the edge-agent sub-command parser."""
    e = sub.add_parser("eval", help="offline evaluation harnesses (need no gateway config)")
    esub = e.add_subparsers(dest="eval_command", required=True)
    i = esub.add_parser("identify", help="1:N identification on DIR/identities and DIR/misc/unknown_*")
    i.add_argument("dir", help="data folder with identities/<person>/* and misc/unknown_*")
    i.add_argument("--enroll-per-identity", type=int, default=1, metavar="K",
                   help="enrol the first K images of each person by sorted file name (default 1)")
    i.add_argument("--json", action="store_true", help="print one JSON object")
    i.add_argument("--open-set", choices=["leave-one-out"], default=None,
                   help="also report fpir_loo: for each person, enrol everyone else and probe all "
                        "of that person's images as unknowns")
    i.add_argument("--open-set-rule", choices=["fixed", "roster", "znorm", "tnorm", "snorm"], default=None,
                   help="override [edge.vision] open_set_rule (see edge_agent/vision/gallery.py)")
    i.add_argument("--target-fpir", type=float, default=None, metavar="F",
                   help="override [edge.vision] target_fpir (default 0.01)")
    i.add_argument("--backend", choices=["sface", "dlib"], default=None,
                   help="override [edge.vision] type; a different backend than the config's also "
                        "takes that backend's published match_threshold")
    i.set_defaults(eval_func=cmd_eval_identify)
    from ..liveness.eval_liveness import add_liveness_parser   # light: models load only when it runs
    add_liveness_parser(esub)


def _images(folder: Path, prefix: str = "") -> list[Path]:
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and p.name.startswith(prefix))


def collect(root: Path, k: int) -> tuple[dict[str, list[Path]], dict[str, list[Path]], list[Path]]:
    """(enrol images per person, probe images per person, unknown images)."""
    ident = root / "identities"
    if not ident.is_dir():
        raise FileNotFoundError(f"{ident} is not a folder")
    enrol, probes = {}, {}
    for person in sorted(p for p in ident.iterdir() if p.is_dir()):
        imgs = _images(person)
        if imgs:
            enrol[person.name], probes[person.name] = imgs[:k], imgs[k:]
    if not enrol:
        raise FileNotFoundError(f"{ident} holds no person folder with images")
    misc = root / "misc"
    unknowns = _images(misc, "unknown_") if misc.is_dir() else []
    return enrol, probes, unknowns


def _pct(values: list[float], q: float) -> float:
    import numpy as np
    return round(float(np.percentile(values, q)), 2) if values else 0.0


def run_identify(root: str | Path, k: int = 1, cfg=None, backend=None, open_set: str | None = None) -> dict:
    """Run the protocol; returns the result dictionary (the JSON the command prints).

    Every image is decoded and embedded once; galleries, calibration and decisions are
    then numpy bookkeeping over those vectors. ``open_set="leave-one-out"`` adds, for each
    identity X, a gallery of everyone else (their first K images, calibrated by the same
    rule) probed with *all* of X's images: ``fpir_loo`` is the share accepted as anyone.
    """
    import numpy as np

    from .backend import create_backend
    from .config import VisionConfig
    from .gallery import Gallery
    from .images import ImageError, read_image

    if k < 1:
        raise ValueError("--enroll-per-identity must be ≥ 1")
    if open_set not in (None, "leave-one-out"):
        raise ValueError(f"unknown --open-set mode {open_set!r}")
    root = Path(root)
    cfg = cfg or VisionConfig()
    backend = backend or create_backend(cfg)
    enrol, probes, unknowns = collect(root, k)
    rel = lambda p: str(p.relative_to(root))  # noqa: E731
    failures: list[dict] = []
    decode_ms: list[float] = []
    vec: dict[Path, np.ndarray | None] = {}     # every image embedded once (None: unreadable / no face)
    embed_ms: dict[Path, float] = {}

    def embed(path: Path, no_face_kind: str) -> None:
        t0 = time.perf_counter()
        try:
            img = read_image(path)
        except ImageError as exc:
            failures.append({"file": rel(path), "kind": "unreadable", "detail": str(exc)})
            vec[path] = None
            return
        decode_ms.append((time.perf_counter() - t0) * 1e3)
        t0 = time.perf_counter()
        faces = backend.detect(img)
        vec[path] = backend.embed(img, faces[0]) if faces else None
        embed_ms[path] = (time.perf_counter() - t0) * 1e3
        if not faces:
            failures.append({"file": rel(path), "kind": no_face_kind})

    for paths in enrol.values():
        for path in paths:
            embed(path, "enroll_no_face")
    for paths in probes.values():
        for path in paths:
            embed(path, "no_face")
    for path in unknowns:
        embed(path, "no_face")

    def make_gallery(people) -> Gallery:
        g = Gallery(backend.dim)
        for person in people:
            for path in enrol[person]:
                if vec[path] is not None:
                    g.add(person, vec[path])
        return g

    def calibrate(g: Gallery):
        return g.calibrate(cfg.open_set_rule, cfg.target_fpir, cfg.match_threshold)

    gallery = make_gallery(enrol)
    cal = calibrate(gallery)
    times: list[float] = []

    def decide(path: Path, g: Gallery, c, timed: bool = True):
        v = vec[path]
        if v is None:
            if timed and path in embed_ms:
                times.append(embed_ms[path])
            return None
        t0 = time.perf_counter()
        d = g.identify(v, cfg.match_threshold, cfg.match_margin, c)
        if timed:
            times.append(embed_ms[path] + (time.perf_counter() - t0) * 1e3)
        return d

    def brief(path: Path, d) -> dict:
        if d is None:
            return {"file": rel(path), "reason": "no_face"}
        return {"file": rel(path), "reason": d.reason, "best": d.worker, "score": round(d.score, 4),
                "runner_up": d.runner_up, "runner_up_score": round(d.runner_up_score, 4)}

    n_probes = identified = 0
    misses: dict[str, list[dict]] = {}
    reasons: dict[str, int] = {}
    for person, paths in probes.items():
        for path in paths:
            n_probes += 1
            d = decide(path, gallery, cal)
            reason = "no_face" if d is None else d.reason
            if d is not None and d.accepted and d.worker == person:
                identified += 1
                continue
            if d is not None and d.accepted:
                reason = "wrong_person"
            reasons[reason] = reasons.get(reason, 0) + 1
            misses.setdefault(person, []).append(brief(path, d))
    false_accepts = []
    for path in unknowns:
        d = decide(path, gallery, cal)
        if d is not None and d.accepted:
            false_accepts.append(brief(path, d))
    result = {
        "tpir": round(identified / n_probes, 4) if n_probes else 0.0,
        "fpir": round(len(false_accepts) / len(unknowns), 4) if unknowns else 0.0,
        "probes": n_probes, "identified": identified,
        "unknown_probes": len(unknowns), "unknown_accepted": len(false_accepts),
        "p50_ms": _pct(times, 50), "p95_ms": _pct(times, 95), "decode_p50_ms": _pct(decode_ms, 50),
        "identities": len(enrol), "enrolled_identities": len(gallery.workers), "templates": len(gallery),
        "enroll_per_identity": k, "backend": backend.name, "threshold": cfg.match_threshold,
        "margin": cfg.match_margin, "miss_reasons": reasons, "failures": failures,
        "misses": misses, "false_accepts": false_accepts,
        "open_set_rule": cfg.open_set_rule, "target_fpir": cfg.target_fpir,
        "effective_threshold": round(max(cfg.match_threshold, cal.threshold), 4),
        "calibration": cal.summary(),
    }
    if open_set == "leave-one-out":
        n_loo, loo_fa, cuts = 0, [], []
        for person in enrol:
            g = make_gallery(p for p in enrol if p != person)
            c = calibrate(g)
            cuts.append(max(cfg.match_threshold, c.threshold))
            for path in (*enrol[person], *probes[person]):
                n_loo += 1
                d = decide(path, g, c, timed=False)
                if d is not None and d.accepted:
                    loo_fa.append({"file": rel(path), "accepted_as": d.worker, "score": round(d.score, 4),
                                   "runner_up_score": round(d.runner_up_score, 4)})
        result.update({
            "open_set": open_set, "fpir_loo": round(len(loo_fa) / n_loo, 4) if n_loo else 0.0,
            "loo_probes": n_loo, "loo_accepted": len(loo_fa),
            "loo_threshold_min": round(min(cuts), 4), "loo_threshold_max": round(max(cuts), 4),
            "loo_false_accepts": loo_fa,
        })
    return result


def cmd_eval_identify(args) -> int:
    from .config import VisionConfig

    cfg = VisionConfig()
    if getattr(args, "config", None):           # optional: the gateway's [edge.vision]
        from ..config import load_config
        cfg = getattr(load_config(args.config), "vision", cfg)
    if getattr(args, "open_set_rule", None):
        cfg = dataclasses.replace(cfg, open_set_rule=args.open_set_rule)
    if getattr(args, "backend", None) and args.backend != cfg.type:
        cfg = dataclasses.replace(cfg, type=args.backend, match_threshold=None)   # its own threshold
    if getattr(args, "target_fpir", None) is not None:
        if not 0.0 < args.target_fpir < 1.0:
            print("错误 / error: --target-fpir must be in (0, 1)", file=sys.stderr)
            return 1
        cfg = dataclasses.replace(cfg, target_fpir=args.target_fpir)
    try:
        result = run_identify(args.dir, args.enroll_per_identity, cfg, open_set=getattr(args, "open_set", None))
    except (FileNotFoundError, ValueError) as exc:
        print(f"错误 / error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        print(f"TPIR {result['tpir']:.3f} ({result['identified']}/{result['probes']})  "
              f"FPIR {result['fpir']:.3f} ({result['unknown_accepted']}/{result['unknown_probes']})  "
              f"p50 {result['p50_ms']} ms  p95 {result['p95_ms']} ms  failures {len(result['failures'])}  "
              f"rule {result['open_set_rule']} threshold {result['effective_threshold']}")
        if "fpir_loo" in result:
            print(f"FPIR leave-one-out {result['fpir_loo']:.3f} ({result['loo_accepted']}/{result['loo_probes']})")
            for m in result["loo_false_accepts"]:
                print(f"  false accept {m['file']} as {m['accepted_as']} ({m['score']})")
        for person, items in result["misses"].items():
            for m in items:
                print(f"  miss {m['file']}: {m['reason']} (best {m.get('best')} {m.get('score')})")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m edge_agent.vision.eval_identify identify DIR --json`` (same as edge-agent eval)."""
    p = argparse.ArgumentParser(prog="edge-agent")
    p.add_argument("--config", help="optional TOML file; its [edge.vision] is used")
    add_eval_parser(p.add_subparsers(dest="command", required=True))
    args = p.parse_args(["eval", *(sys.argv[1:] if argv is None else argv)])
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    return args.eval_func(args)


if __name__ == "__main__":
    sys.exit(main())
