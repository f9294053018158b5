#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR/..
# packaging/build-debs.sh OUTDIR: builds realname-edge_*.deb and realname-receiver_*.deb into OUTDIR.
#   DEB_VERSION=0.1.1 packaging/build-debs.sh OUTDIR    # another version (default: pyproject.toml's)
#   packaging/build-debs.sh --only edge OUTDIR          # one package
#   packaging/build-debs.sh --relock                    # regenerate packaging/locks/*.txt
# Needs dpkg-deb and Debian's python3.11 (the packages' interpreter); downloads wheels from PyPI
# once into RN_DEB_CACHE (default ~/.cache/realname-debs). See packaging/build_debs.py.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"
need=()
command -v dpkg-deb >/dev/null 2>&1 || need+=(dpkg)
[ -x /usr/bin/python3.11 ] || need+=(python3.11)
[ ${#need[@]} -eq 0 ] || apt_install "${need[@]}"
# the repo's venv drives pip (pip >= 22.3 for --python); it is not what gets packaged
if [ ! -x "$ROOT/.venv/bin/python" ]; then
  # shellcheck source=scripts/venv.sh
  source "$ROOT/scripts/venv.sh"
fi
exec "$ROOT/.venv/bin/python" "$ROOT/packaging/build_debs.py" "$@"
