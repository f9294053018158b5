"""The README's first command keeps working: the demo ends with a clean DEMO-RESULT."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_demo_prints_a_clean_result(tmp_path):
    out = subprocess.run([sys.executable, "-m", "devtools.demo", "--punches", "80", "--rate", "80",
                          "--outage-s", "1"], cwd=REPO, capture_output=True, text=True, timeout=300)
    lines = [x for x in out.stdout.splitlines() if x.startswith("DEMO-RESULT ")]
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert len(lines) == 1 and lines[0] == out.stdout.strip().splitlines()[-1]
    result = json.loads(lines[0][len("DEMO-RESULT "):])
    assert set(result) == {"punches_made", "punches_at_receiver", "lost", "duplicates"}
    assert result["punches_made"] > 0
    assert result["punches_made"] == result["punches_at_receiver"]
    assert result["lost"] == 0 and result["duplicates"] == 0
