#!/usr/bin/env bash
# Makes sure bubblewrap (bwrap) is installed: the local job backend runs every job in a
# bubblewrap sandbox and refuses to start without one (docs/isolation.md).
# Idempotent: does nothing when bwrap is on PATH; otherwise installs Debian's package.
set -euo pipefail

command -v bwrap >/dev/null 2>&1 && exit 0
"$(dirname "$0")/apt-install.sh" ensure-bubblewrap bubblewrap
command -v bwrap >/dev/null 2>&1 || { echo "ensure-bubblewrap: installed bubblewrap, but bwrap is still not on PATH" >&2; exit 1; }
echo "ensure-bubblewrap: ok" >&2
