#!/usr/bin/env bash
# Source this: makes .venv in the repo root (if missing or stale) and activates it.
# Needs Python 3.11. On Debian without python3-venv it installs the package when run as root.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PY="${PYTHON:-}"
if [ -z "$PY" ]; then
  for c in python3.11 python3; do
    if command -v "$c" >/dev/null 2>&1 && "$c" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then PY="$c"; break; fi
  done
fi
[ -n "$PY" ] || { echo "error: Python 3.11 is required (python3.11 not found)" >&2; exit 1; }

# shellcheck source=lib.sh
source "$ROOT/scripts/lib.sh"

if [ ! -x "$VENV/bin/pip" ]; then
  rm -rf "$VENV"
  if ! "$PY" -m venv "$VENV" >/dev/null 2>&1; then  # Debian ships venv/ensurepip apart
    rm -rf "$VENV"
    apt_install python3-venv
    "$PY" -m venv "$VENV"
  fi
fi
# mediapipe 0.10.21 is the newest release that carries its face-mesh models; its declared
# dependencies (opencv-contrib-python, jax) would replace the headless OpenCV and add 1 GB,
# so it goes in with --no-deps; its real runtime needs are pinned in pyproject.toml.
MEDIAPIPE="mediapipe==0.10.21"
STAMP="$VENV/.installed-$( (cat "$ROOT/pyproject.toml"; echo "$MEDIAPIPE") | sha256sum | cut -c1-16)-${RN_EXTRAS:-dev}"
if [ ! -f "$STAMP" ]; then
  "$VENV/bin/python" -m pip install -q --upgrade "pip>=23.2" >/dev/null
  "$VENV/bin/python" -m pip install -q -e "$ROOT[${RN_EXTRAS:-dev}]"
  "$VENV/bin/python" -m pip install -q --no-deps "$MEDIAPIPE"
  rm -f "$VENV"/.installed-*
  touch "$STAMP"
fi
# shellcheck disable=SC1091
source "$VENV/bin/activate"
