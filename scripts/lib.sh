#!/usr/bin/env bash
# Shared by the scripts: install Debian packages when root, else say what to install.

apt_install() {
  if [ "$(id -u)" != 0 ]; then
    echo "error: missing system packages: $*; install them with: sudo apt-get install -y $*" >&2
    exit 1
  fi
  echo "installing Debian packages: $*" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

have_mosquitto() { command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ]; }
have_postgres() {
  { command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; } &&
    { [ "$(id -u)" != 0 ] || id postgres >/dev/null 2>&1; }  # as root, the cluster runs as 'postgres'
}
