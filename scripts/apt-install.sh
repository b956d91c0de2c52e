#!/usr/bin/env bash
# Installs Debian packages for the ensure-*.sh scripts: as root, or through password-less sudo.
# Usage: scripts/apt-install.sh WHO PACKAGE...   (WHO prefixes every message)
# Quiet on success; apt's own output is shown when a step fails, and the exit status is 1.
set -euo pipefail
who=$1
shift
packages="$*"

fail() {
  echo "$who: $*" >&2
  echo "$who: install them by hand: apt-get install -y $packages" >&2
  exit 1
}

command -v apt-get >/dev/null 2>&1 || fail "$packages are missing, and there is no apt-get here"
SUDO=()
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=(sudo -n)
  else
    fail "installing $packages needs root (or password-less sudo)"
  fi
fi

echo "$who: installing $packages" >&2
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
trap 'rm -f "$log"' EXIT
"${SUDO[@]}" apt-get update -qq >"$log" 2>&1 || { cat "$log" >&2; fail "apt-get update failed"; }
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "$@" >"$log" 2>&1 || { cat "$log" >&2; fail "apt-get install failed"; }
