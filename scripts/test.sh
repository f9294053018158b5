#!/usr/bin/env bash
# Runs the whole test-suite. Needs Mosquitto and PostgreSQL programs (not running
# services: the tests start private instances on free loopback ports).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
source "$ROOT/scripts/lib.sh"
need=()
have_mosquitto || need+=(mosquitto)
have_postgres || need+=(postgresql)
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)   # tests/ops verifies the units
[ ${#need[@]} -eq 0 ] || apt_install "${need[@]}"
source "$ROOT/scripts/venv.sh"
exec python -m pytest "$@"
