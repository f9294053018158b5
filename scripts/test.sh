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
# tests/packaging: builds the .debs with Debian's python3.11, lints the maintainer scripts and
# installs the gateway package into a debootstrap'd Debian root
[ -x /usr/bin/python3.11 ] || need+=(python3.11)
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
command -v shellcheck >/dev/null 2>&1 || need+=(shellcheck)
# tests/dashboard and tests/webui drive Debian's Chromium through its chromedriver (headless)
[ -x /usr/bin/chromium ] || need+=(chromium)
[ -x /usr/bin/chromedriver ] || need+=(chromium-driver)
[ -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || need+=(fonts-wqy-microhei)   # Chinese in screenshots
[ ${#need[@]} -eq 0 ] || apt_install "${need[@]}"
source "$ROOT/scripts/venv.sh"
exec python -m pytest "$@"
