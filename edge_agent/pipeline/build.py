"""One :class:`~.gate.GatePipeline` per gate that names a camera, from the gateway's config.

The recognition backend and the liveness judge are created once and shared by every gate
(the backend serialises its own calls; the judge is wrapped in a lock here). A judge that
cannot be created (model missing, runtime broken) leaves every camera gate without face
entry: its pipeline records each face as a rejected attempt ``liveness_unavailable`` and
reports itself down in the heartbeat; manual release works as ever. A backend that cannot be created leaves the
gates without pipelines at all (logged as critical): nothing can be recognised.
"""

from __future__ import annotations

import logging
import threading

from ..drivers.camera import open_camera
from ..vision.gallery import Gallery
from .cooldown import Cooldown
from .gate import GatePipeline
from .snapshot import SnapshotStore

log = logging.getLogger(__name__)


class SharedJudge:
    """One judge for every gate: its face-mesh and ONNX sessions are not for concurrent use."""

    def __init__(self, judge):
        self.judge_impl = judge
        self.cfg = getattr(judge, "cfg", None)
        self._lock = threading.Lock()

    def judge(self, track, challenge=None, challenge_t_mono=None):
        with self._lock:
            return self.judge_impl.judge(track, challenge, challenge_t_mono)


def build_pipelines(cfg, controllers, gallery: Gallery | None = None, *, camera_factory=open_camera,
                    ledger=None) -> dict[str, GatePipeline]:
    """gate id → pipeline (threads not started) for every gate of ``cfg`` with a camera. The
    cool-down starts from ``ledger``'s recent punches (default: the controllers' recorder's ledger)."""
    gates = [g for g in cfg.gates if g.camera is not None]
    if not gates:
        return {}
    from ..vision.backend import create_backend
    try:
        backend = create_backend(cfg.vision)
    except Exception as exc:  # noqa: BLE001 - the agent still records, syncs and releases by hand
        log.critical("recognition backend %s unavailable (%s: %s): no face entry at gates %s", cfg.vision.type,
                     type(exc).__name__, exc, ",".join(g.id for g in gates))
        return {}
    judge, judge_error = None, None
    try:
        from ..liveness.judge import create_judge
        judge = SharedJudge(create_judge(cfg.liveness))
    except Exception as exc:  # noqa: BLE001 - never open by face without liveness
        judge_error = f"{type(exc).__name__}: {exc}"[:100]
    cooldown = Cooldown(cfg.pipeline.cooldown_s)
    if ledger is None:
        ledger = next((getattr(getattr(c, "recorder", None), "ledger", None) for c in controllers.values()), None)
    if ledger is not None:
        try:
            cooldown.restore(ledger)
        except Exception as exc:  # noqa: BLE001 - an unreadable ledger must not keep every gate shut
            log.error("cool-down not restored from the ledger (%s): a worker may punch again after this restart",
                      type(exc).__name__)
    snapshots = SnapshotStore(cfg.pipeline.snapshot_dir, cfg.pipeline.snapshot_jpeg_quality)
    cameras = {c.id: c for c in cfg.cameras}
    out = {}
    for g in gates:
        out[g.id] = GatePipeline(g, controllers[g.id], backend, judge, gallery, cfg.pipeline, cfg.vision,
                                 camera=camera_factory(cameras[g.camera]), cooldown=cooldown,
                                 snapshots=snapshots, judge_error=judge_error)
    return out
