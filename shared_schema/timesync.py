"""Is this machine's clock synchronised? systemd-timesyncd's flag file, else ``timedatectl``, else
``chronyc``; "unknown" when none answers. Both services report it (the gateway's clock guard and
doctor; the receiver's doctor: its ack times are the gateways' reference)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

TIMESYNCD_FLAG = Path("/run/systemd/timesync/synchronized")


def ntp_status(run: Callable = subprocess.run, flag: Path | None = None) -> str:
    """"synchronized", "not synchronized" or "unknown"."""
    if (flag or TIMESYNCD_FLAG).exists():
        return "synchronized"
    probes = (("timedatectl", ["timedatectl", "show", "-p", "NTPSynchronized", "--value"]),
              ("chronyc", ["chronyc", "-n", "tracking"]))
    for exe, cmd in probes:
        if shutil.which(exe) is None:
            continue
        try:
            r = run(cmd, capture_output=True, text=True, timeout=2)
        except (OSError, subprocess.SubprocessError):
            continue
        if r.returncode != 0:
            continue
        out = r.stdout.strip()
        if exe == "timedatectl" and out in ("yes", "no"):
            return "synchronized" if out == "yes" else "not synchronized"
        if exe == "chronyc" and "Leap status" in out:
            return "not synchronized" if "Not synchronised" in out else "synchronized"
    return "unknown"
