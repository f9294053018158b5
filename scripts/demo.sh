#!/usr/bin/env bash
# The demo: a private Mosquitto, the city receiver on SQLite, and a gateway whose
# simulated gate makes punches that flow to the city. Ends with one DEMO-RESULT line.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
if ! command -v mosquitto >/dev/null 2>&1 && [ ! -x /usr/sbin/mosquitto ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "error: the demo needs Mosquitto. Install with: sudo apt-get install -y mosquitto" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends mosquitto >/dev/null
fi
source "$ROOT/scripts/venv.sh"
exec python -m devtools.demo "$@"
