"""``demo --camera``: the real vision path on a video file, through the broker to the receiver."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from pipeline_rig import LIVE, faces_path

REPO = Path(__file__).resolve().parents[2]


def test_camera_demo_with_an_empty_roster_sends_not_enrolled_attempts_to_the_city():
    out = subprocess.run([sys.executable, "-m", "devtools.demo", "--camera", str(faces_path(LIVE)),
                          "--seconds", "8"], cwd=REPO, capture_output=True, text=True, timeout=400)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    last = out.stdout.strip().splitlines()[-1]
    assert last.startswith("DEMO-RESULT ")
    result = json.loads(last[len("DEMO-RESULT "):])
    assert result["punches_made"] == 0 == result["punches_at_receiver"]
    assert result["rejected_made"].get("not_enrolled", 0) >= 1
    assert result["rejected_at_receiver"] == sum(result["rejected_made"].values())
    assert result["lost"] == 0 and result["duplicates"] == 0
