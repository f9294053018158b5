"""``cloud-receiver --config C upstream status [--json]`` and ``upstream run-once``.

``status`` prints what ``GET /api/v1/upstream/status`` returns (no ID numbers); ``run-once``
runs one bounded upload pass now (the sweep loop runs them every ``interval_s`` when
``[receiver.upstream] enabled``), printing its summary as JSON. Exit codes: 0 ok, 1 the
pass was stopped by platform trouble or another receiver holds the upload lease, 2 config error.
"""

from __future__ import annotations

import dataclasses
import json
import socket
import sys


def add_cli(sub) -> None:
    u = sub.add_parser("upstream", help="upload to the national platform: status, run-once")
    usub = u.add_subparsers(dest="upstream_command", required=True)
    st = usub.add_parser("status", help="counts per kind and state, cursors, backlog, failures")
    st.add_argument("--json", action="store_true")
    usub.add_parser("run-once", help="one bounded upload pass now (needs endpoint, appid, appsecret_file)")


def _print_status(status: dict) -> None:
    print(f"enabled: {status['enabled']}")
    for kind, counts in sorted(status["objects"].items()):
        print(f"{kind}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    for st, v in sorted(status["attendance"].items()):
        print(f"attendance {st}: {v['batches']} batches, {v['records']} records")
    for p in status["projects"]:
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(p.get("waiting_reasons", {}).items()))
        print(f"project {p['project_code']}: through ingest_no {p.get('through_ingest_no', 0)}, "
              f"backlog {p.get('ledger_backlog', 0)}, waiting {p.get('waiting', 0)}"
              f"{' (' + reasons + ')' if reasons else ''}, open batches {p.get('batches_open', 0)}")
    for f in status["failures"]:
        print(f"failed {f['kind']} {f['project_code']} {f['local_key']}: {f['last_error']}")
    for f in status["retrying"]:
        print(f"retrying {f['kind']} {f['project_code']} {f['local_key']} (attempt {f['attempts']}): {f['last_error']}")


def cmd(cfg, args) -> int:
    from ..store import open_store
    from .config import UpstreamConfigError, check
    from .job import UploadJob, make_client

    store = open_store(cfg.store.url, migrate=True)
    try:
        if args.upstream_command == "status":
            status = {"enabled": cfg.upstream.enabled, **store.upstream_status()}
            if args.json:
                print(json.dumps(status, ensure_ascii=False, sort_keys=True))
            else:
                _print_status(status)
            return 0
        up = cfg.upstream
        problem = check(dataclasses.replace(up, enabled=True))   # a manual pass works while the hook is off
        if problem:
            print(f"error: receiver.upstream: {problem}", file=sys.stderr)
            return 2
        try:
            client = make_client(up)
        except (UpstreamConfigError, ValueError) as exc:
            print(f"error: receiver.upstream: {exc}", file=sys.stderr)
            return 2
        job = UploadJob(store, client, up, holder=f"{socket.gethostname()}:{cfg.receiver_id}")
        out = job.run_once()
        print(json.dumps(out, ensure_ascii=False, sort_keys=True))
        return 0 if out["lease"] and not out["stopped"] else 1
    finally:
        store.close()
