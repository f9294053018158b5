"""The demo: ``./scripts/demo.sh``.

Starts a private Mosquitto on a free loopback port, the city receiver on
SQLite, and one gateway whose simulated gate makes punches at a steady rate;
halfway through, the broker is taken down for a few seconds (the gate keeps
recording, the backlog drains when it returns). Ends by auditing the gateway's
ledger against the city's store and printing one line:

    DEMO-RESULT {"punches_made": N, "punches_at_receiver": N, "lost": 0, "duplicates": 0}

With ``--camera SOURCE`` (a V4L2 device number, an rtsp:// / http:// URL or a video file) the
gateway runs the real vision path instead (devtools/demo_gateway.py): camera → tracking →
quality → 1:N → liveness → gate controller → the simulated turnstile, for ``--seconds``. The
roster is empty, so every face is a rejected ``not_enrolled`` attempt that reaches the city;
``--enroll-first K`` enrolls the first K good frames of the source as one demo worker, so
the same person then punches (once per cool-down) if the liveness judge finds them live.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time

from .stack import LocalStack


# The gate: a simulated turnstile behind the gate controller, so every punch goes
# commit → open pulse → passage, with a few turn-backs (not_passed) and tailgaters.
DEMO_GATE = {
    "gates": [{"id": "G1", "direction": "both", "turnstile": "T1"}],
    "turnstiles": [{"id": "T1", "type": "simulated", "passage_delay_ms": 20, "passage_ms": 40,
                    "turn_back_probability": 0.03, "tailgate_probability": 0.02}],
    "gate": {"passage_window_s": 0.5, "tailgate_window_s": 0.1, "door_held_s": 5.0,
             "poll_interval_s": 0.005},
}


def camera_gate(source: str) -> dict:
    """The gate of ``--camera``: a camera entry for a device number, a URL or a video file."""
    if source.isdigit():
        cam = {"id": "CAM1", "type": "v4l2", "device": int(source)}
    elif "://" in source:
        cam = {"id": "CAM1", "type": "rtsp", "url": source}
    else:
        from pathlib import Path
        cam = {"id": "CAM1", "type": "file", "path": str(Path(source).resolve())}
    return {
        "gates": [{"id": "G1", "direction": "in", "turnstile": "T1", "camera": "CAM1"}],
        "turnstiles": [{"id": "T1", "type": "simulated", "passage_delay_ms": 300, "passage_ms": 400}],
        "cameras": [cam],
        "gate": {"passage_window_s": 3.0, "tailgate_window_s": 0.5, "door_held_s": 8.0},
        "pipeline": {"snapshot_dir": "snapshots"},
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="demo")
    ap.add_argument("--punches", type=int, default=300)
    ap.add_argument("--rate", type=float, default=60.0)
    ap.add_argument("--outage-s", type=float, default=3.0, help="broker outage mid-run (0: none)")
    ap.add_argument("--keep", action="store_true", help="keep the working folder")
    ap.add_argument("--camera", metavar="SOURCE", help="run the real vision path on this camera "
                    "(device number, rtsp/http URL or video file)")
    ap.add_argument("--enroll-first", type=int, default=0, metavar="K",
                    help="with --camera: enroll the first K good frames as one demo worker")
    ap.add_argument("--seconds", type=float, default=20.0, help="with --camera: how long the gate runs")
    args = ap.parse_args(argv)
    if args.camera:
        return camera_demo(args)
    work = tempfile.mkdtemp(prefix="rn-demo-")
    print(f"[demo] working folder {work}", flush=True)
    with LocalStack(work, edge=DEMO_GATE) as stack:
        gid = stack.gateway_ids[0]
        print(f"[demo] Mosquitto on 127.0.0.1:{stack.broker.port}; gateway {gid} registered at the city",
              flush=True)
        stack.start_receiver()
        print("[demo] city receiver running (SQLite store)", flush=True)
        sim = stack.edge_process(gid, "simulate", "--punches", str(args.punches), "--rate", str(args.rate),
                                 "--drain-timeout", "120", stdout=subprocess.PIPE, text=True)
        if args.outage_s > 0:
            def outage():
                time.sleep(args.punches / args.rate / 2)
                stack.broker.stop()
                print(f"[demo] broker down for {args.outage_s}s: the gate keeps recording", flush=True)
                time.sleep(args.outage_s)
                stack.broker.start()
                print("[demo] broker back: backlog drains", flush=True)
            threading.Thread(target=outage, daemon=True).start()
        out, _ = sim.communicate(timeout=args.punches / args.rate + 300)
        summary = out.strip().splitlines()[-1] if out.strip() else "{}"
        print(f"[demo] gateway: {summary} (exit {sim.returncode})", flush=True)
        time.sleep(0.5)
        audit = stack.audit(gid)
        stats = json.loads(stack.receiver_cli("stats", "--json").stdout)
        print(f"[demo] city stats: punches={stats.get('punches')} rejected_attempts="
              f"{stats.get('rejected_attempts')} gate_events={stats.get('gate_events')} "
              f"duplicates_dropped={stats.get('duplicates_dropped')}", flush=True)
    result = {"punches_made": audit["punches_at_gateway"], "punches_at_receiver": audit["punches_at_receiver"],
              "lost": audit["lost"], "duplicates": audit["duplicates"]}
    if not args.keep:
        import shutil
        shutil.rmtree(work, ignore_errors=True)
    print("DEMO-RESULT " + json.dumps(result), flush=True)
    ok = sim.returncode == 0 and result["lost"] == 0 and result["duplicates"] == 0 \
        and result["punches_made"] == result["punches_at_receiver"] and audit["mismatched"] == 0
    return 0 if ok else 1


def camera_demo(args) -> int:
    work = tempfile.mkdtemp(prefix="rn-demo-")
    print(f"[demo] working folder {work}; camera {args.camera}", flush=True)
    with LocalStack(work, edge=camera_gate(args.camera)) as stack:
        gid = stack.gateway_ids[0]
        stack.start_receiver()
        roster = (f"enrolling the first {args.enroll_first} good frames" if args.enroll_first
                  else "empty roster: every face is not_enrolled")
        print(f"[demo] city receiver running; gateway {gid} runs the vision path for {args.seconds:g}s "
              f"({roster})", flush=True)
        gw = subprocess.Popen([sys.executable, "-m", "devtools.demo_gateway", "--config",
                               str(stack.edge_config(gid)), "--seconds", str(args.seconds),
                               "--enroll-first", str(args.enroll_first)],
                              env=stack.env, stdout=subprocess.PIPE, text=True)
        out, _ = gw.communicate(timeout=args.seconds + 300)
        summary = out.strip().splitlines()[-1] if out.strip() else "{}"
        print(f"[demo] gateway: {summary} (exit {gw.returncode})", flush=True)
        time.sleep(0.5)
        audit = stack.audit(gid)
        rejected_rx = sum(1 for e in stack.receiver_entries(gid) if e["type"] == "rejected")
        import sqlite3
        conn = sqlite3.connect(f"file:{stack.ledger_path(gid)}?mode=ro", uri=True)
        reasons = dict(conn.execute("SELECT json_extract(entry_json, '$.reject_reason'), count(*) FROM entries "
                                    "WHERE json_extract(entry_json, '$.type') = 'rejected' GROUP BY 1").fetchall())
        conn.close()
    result = {"punches_made": audit["punches_at_gateway"], "punches_at_receiver": audit["punches_at_receiver"],
              "rejected_made": reasons, "rejected_at_receiver": rejected_rx, "lost": audit["lost"],
              "duplicates": audit["duplicates"]}
    if not args.keep:
        import shutil
        shutil.rmtree(work, ignore_errors=True)
    print("DEMO-RESULT " + json.dumps(result), flush=True)
    ok = gw.returncode == 0 and result["lost"] == 0 and result["duplicates"] == 0 \
        and result["punches_made"] == result["punches_at_receiver"] and audit["mismatched"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
