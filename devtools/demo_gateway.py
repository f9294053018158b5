"""The demo's gateway with a camera: ``edge-agent run`` plus, optionally, a demo enrollment.

    python -m devtools.demo_gateway --config edge.toml --seconds 20 [--enroll-first 3]

Runs the real agent (the gate's vision pipeline on the configured camera, the configured
turnstile, ledger, sync) for ``--seconds``, then waits for the backlog to drain and prints
one JSON line. The roster is empty unless ``--enroll-first K`` is given: then, before the
agent starts, the first ``K`` good frames of the camera (quality as at the gate) are
enrolled as one demo worker (``--worker-ref``), so a video of one person shows punches
(once per cool-down) and liveness decisions; without it every face is a rejected
``not_enrolled`` attempt. Demo only: a site enrolls through the enrollment registry.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
import threading
import time

log = logging.getLogger("demo_gateway")


def enroll_first(cfg, k: int, worker: str, timeout: float = 60.0):
    """A Gallery with ``worker`` enrolled from the first ``k`` good frames of the gate's camera."""
    import numpy as np

    from edge_agent.drivers.camera import open_camera
    from edge_agent.vision.backend import create_backend
    from edge_agent.vision.gallery import Gallery
    from edge_agent.vision.quality import QualityParams, assess

    gate = next(g for g in cfg.gates if g.camera)
    cam_cfg = next(c for c in cfg.cameras if c.id == gate.camera)
    if getattr(cam_cfg, "type", "") == "file":
        cam_cfg = dataclasses.replace(cam_cfg, realtime=False)
    backend = create_backend(cfg.vision)
    params = QualityParams(min_face_px=float(cfg.pipeline.min_face_px))
    cam = open_camera(cam_cfg)
    picked = []
    try:
        deadline = time.monotonic() + timeout
        while len(picked) < k and time.monotonic() < deadline:
            f = cam.read_latest(1.0)
            if f is None:
                continue
            faces = backend.detect(f.image)
            if not faces:
                continue
            q = assess(f.image, faces[0], faces, params)
            if q.ok and q.score >= cfg.pipeline.quality_threshold:
                picked.append(backend.embed(f.image, faces[0]))
    finally:
        cam.close()
    if len(picked) < k:
        raise SystemExit(f"demo enrollment: only {len(picked)} good frames of {k} within {timeout:.0f}s")
    g = Gallery(backend.dim)
    g.add(worker, np.stack(picked))
    return g


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="demo_gateway")
    ap.add_argument("--config", required=True)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--enroll-first", type=int, default=0, metavar="K")
    ap.add_argument("--worker-ref", default="DEMO-W0001")
    ap.add_argument("--drain-timeout", type=float, default=60.0)
    args = ap.parse_args(argv)
    from edge_agent.agent import EdgeAgent
    from edge_agent.config import load_config

    cfg = load_config(args.config)
    logging.basicConfig(level=cfg.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    gallery = enroll_first(cfg, args.enroll_first, args.worker_ref) if args.enroll_first > 0 else None
    agent = EdgeAgent(cfg)
    if not agent.pipelines:
        print("demo_gateway: no gate with a working vision pipeline", file=sys.stderr)
        return 2
    agent.start()
    if gallery is not None:
        agent.update_gallery(gallery)
    try:
        threading.Event().wait(args.seconds)
        stats = {g: dict(p.stats) for g, p in agent.pipelines.items()}
        for p in agent.pipelines.values():
            p.stop()
        drained = agent.wait_drained(args.drain_timeout)
        st = agent.ledger.stats()
    finally:
        agent.stop()
    print(json.dumps({"pipelines": stats, "enrolled": gallery is not None, "head_seq": st.head_seq,
                      "backlog": st.backlog}), flush=True)
    return 0 if drained else 3


if __name__ == "__main__":
    sys.exit(main())
