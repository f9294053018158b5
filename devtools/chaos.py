"""kill -9 the gateway at random moments while it makes and syncs punches.

Each round starts ``edge-agent simulate --print-committed`` (a gate making
punches flat out or at a rate, syncing to the receiver), waits a random time,
and kills it with SIGKILL: during start-up, mid-commit, mid-publish, mid-ack. Most rounds
count the random time from the process start; a share of them (``MID_TRAFFIC_SHARE``) counts it
from the process's first commit. How long a start takes depends on the machine (0.5-1.1 s measured here,
as long as the whole random window on a loaded one), and a campaign whose kills all landed
before the first punch would test nothing.

Every ``COMMITTED`` line a killed process printed was printed after its
commit, so each of those punches must end up in the ledger and at the city,
once. After the last round one clean run drains the backlog.

    python -m devtools.chaos --kills 1000 [--seed N]    # the long run
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time

from .stack import LocalStack

MID_TRAFFIC_SHARE = 0.15      # rounds whose kill is timed from the first commit (not the start)


def _reader(proc: subprocess.Popen, sink: list) -> threading.Thread:
    def run():
        for line in proc.stdout:
            if line.startswith("COMMITTED "):
                _, seq, event_id = line.split()
                sink.append((int(seq), event_id))
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def kill9_campaign(stack: LocalStack, kills: int, *, seed: int, rate: float = 500.0,
                   max_alive_s: float = 0.8, log=print) -> dict:
    gid = stack.gateway_ids[0]
    rng = random.Random(seed)
    printed: list[tuple[int, str]] = []
    for i in range(kills):
        proc = stack.edge_process(gid, "simulate", "--punches", "1000000", "--rate", str(rate),
                                  "--print-committed", stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, text=True)
        before = len(printed)
        reader = _reader(proc, printed)
        if rng.random() < MID_TRAFFIC_SHARE:       # from the first commit of this process
            deadline = time.monotonic() + 30.0
            while len(printed) == before and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.005)
        time.sleep(rng.uniform(0.0, max_alive_s))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        reader.join(5)
        if (i + 1) % 50 == 0:
            log(f"[chaos] {i + 1}/{kills} kills, {len(printed)} commits seen")
    drain = stack.edge_cli(gid, "simulate", "--punches", "0", "--drain-timeout", "120", check=False)
    time.sleep(0.5)
    audit = stack.audit(gid)
    ledger = {seq: eid for seq, eid, *_ in stack.gateway_entries(gid)}
    audit["kills"] = kills
    audit["printed_commits"] = len(printed)
    audit["printed_missing_from_ledger"] = sum(1 for seq, eid in printed if ledger.get(seq) != eid)
    audit["drain_exit"] = drain.returncode
    audit["drain_summary"] = drain.stdout.strip().splitlines()[-1] if drain.stdout.strip() else ""
    return audit


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m devtools.chaos")
    ap.add_argument("--kills", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=int(time.time()))
    args = ap.parse_args(argv)
    with LocalStack(tempfile.mkdtemp(prefix="rn-chaos-")) as stack:
        stack.start_receiver()
        audit = kill9_campaign(stack, args.kills, seed=args.seed)
    audit["seed"] = args.seed
    print(json.dumps(audit))
    ok = audit["lost"] == 0 and audit["duplicates"] == 0 and audit["mismatched"] == 0 \
        and audit["printed_missing_from_ledger"] == 0 and audit["unverified_links"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
