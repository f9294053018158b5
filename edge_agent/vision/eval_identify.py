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
reported apart as ``decode_p50_ms``), ``failures`` and per-identity ``misses``.

This module imports OpenCV only when a command runs, so ``edge-agent`` starts fast.
"""

from __future__ import annotations

import argparse
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
    i.set_defaults(eval_func=cmd_eval_identify)


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


def run_identify(root: str | Path, k: int = 1, cfg=None, backend=None) -> dict:
    """Run the protocol; returns the result dictionary (the JSON the command prints)."""
    from .backend import create_backend
    from .config import VisionConfig
    from .gallery import Gallery
    from .images import ImageError, read_image

    if k < 1:
        raise ValueError("--enroll-per-identity must be ≥ 1")
    root = Path(root)
    cfg = cfg or VisionConfig()
    backend = backend or create_backend(cfg)
    enrol, probes, unknowns = collect(root, k)
    rel = lambda p: str(p.relative_to(root))  # noqa: E731
    failures: list[dict] = []
    decode_ms: list[float] = []

    def load(path: Path):
        t0 = time.perf_counter()
        try:
            img = read_image(path)
        except ImageError as exc:
            failures.append({"file": rel(path), "kind": "unreadable", "detail": str(exc)})
            return None
        decode_ms.append((time.perf_counter() - t0) * 1e3)
        return img

    gallery = Gallery(backend.dim)
    for person, paths in enrol.items():
        for path in paths:
            img = load(path)
            if img is None:
                continue
            faces = backend.detect(img)
            if not faces:
                failures.append({"file": rel(path), "kind": "enroll_no_face"})
                continue
            gallery.add(person, backend.embed(img, faces[0]))

    times: list[float] = []

    def decide(path: Path):
        img = load(path)
        if img is None:
            return None
        t0 = time.perf_counter()
        faces = backend.detect(img)
        if not faces:
            times.append((time.perf_counter() - t0) * 1e3)
            failures.append({"file": rel(path), "kind": "no_face"})
            return None
        d = gallery.identify(backend.embed(img, faces[0]), cfg.match_threshold, cfg.match_margin)
        times.append((time.perf_counter() - t0) * 1e3)
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
            d = decide(path)
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
        d = decide(path)
        if d is not None and d.accepted:
            false_accepts.append(brief(path, d))
    return {
        "tpir": round(identified / n_probes, 4) if n_probes else 0.0,
        "fpir": round(len(false_accepts) / len(unknowns), 4) if unknowns else 0.0,
        "probes": n_probes, "identified": identified,
        "unknown_probes": len(unknowns), "unknown_accepted": len(false_accepts),
        "p50_ms": _pct(times, 50), "p95_ms": _pct(times, 95), "decode_p50_ms": _pct(decode_ms, 50),
        "identities": len(enrol), "enrolled_identities": len(gallery.workers), "templates": len(gallery),
        "enroll_per_identity": k, "backend": backend.name, "threshold": cfg.match_threshold,
        "margin": cfg.match_margin, "miss_reasons": reasons, "failures": failures,
        "misses": misses, "false_accepts": false_accepts,
    }


def cmd_eval_identify(args) -> int:
    from .config import VisionConfig

    cfg = VisionConfig()
    if getattr(args, "config", None):           # optional: the gateway's [edge.vision]
        from ..config import load_config
        cfg = getattr(load_config(args.config), "vision", cfg)
    try:
        result = run_identify(args.dir, args.enroll_per_identity, cfg)
    except (FileNotFoundError, ValueError) as exc:
        print(f"错误 / error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        print(f"TPIR {result['tpir']:.3f} ({result['identified']}/{result['probes']})  "
              f"FPIR {result['fpir']:.3f} ({result['unknown_accepted']}/{result['unknown_probes']})  "
              f"p50 {result['p50_ms']} ms  p95 {result['p95_ms']} ms  failures {len(result['failures'])}")
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
