#!/usr/bin/env bash
# Makes sure bubblewrap (bwrap) is installed: the local job backend runs every job in a
# bubblewrap sandbox and refuses to start without one (docs/isolation.md).
# Idempotent: does nothing when bwrap is on PATH. Otherwise runs apt-get (as root, or through
# password-less sudo) and fails with a clear message when it cannot.
set -euo pipefail

if command -v bwrap >/dev/null 2>&1; then
  exit 0
fi

fail() {
  echo "ensure-bubblewrap: $*" >&2
  echo "ensure-bubblewrap: install it by hand (apt-get install -y bubblewrap), or see docs/isolation.md" >&2
  exit 1
}

command -v apt-get >/dev/null 2>&1 || fail "bwrap is missing and there is no apt-get here"
SUDO=()
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=(sudo -n)
  else
    fail "bwrap is missing and installing it needs root (or password-less sudo)"
  fi
fi

echo "ensure-bubblewrap: installing bubblewrap (the local job sandbox)" >&2
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
trap 'rm -f "$log"' EXIT
"${SUDO[@]}" apt-get update -qq >"$log" 2>&1 || { cat "$log" >&2; fail "apt-get update failed"; }
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends bubblewrap >"$log" 2>&1 || { cat "$log" >&2; fail "apt-get install failed"; }
command -v bwrap >/dev/null 2>&1 || fail "installed bubblewrap, but bwrap is still not on PATH"
echo "ensure-bubblewrap: ok" >&2
