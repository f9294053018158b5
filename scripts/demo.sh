#!/usr/bin/env bash
# The demo: a private Mosquitto, the city receiver on SQLite, and a gateway whose
# simulated gate makes punches that flow to the city. Ends with one DEMO-RESULT line.
# --camera SOURCE (device number, rtsp/http URL or video file) runs the real vision path on it
# instead (empty roster: not_enrolled attempts; --enroll-first K enrolls its first K good frames).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
source "$ROOT/scripts/lib.sh"
have_mosquitto || apt_install mosquitto
source "$ROOT/scripts/venv.sh"
exec python -m devtools.demo "$@"
