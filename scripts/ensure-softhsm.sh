#!/usr/bin/env bash
# Makes sure SoftHSM2 is installed: the PKCS#11 master-key provider is tested against it
# (services/key-management/providers/pkcs11-keyring.ts). Tests initialise their own token in a
# temp dir (SOFTHSM2_CONF), so nothing here touches a token.
# Idempotent: does nothing when softhsm2-util and the module are there; otherwise installs Debian's package.
set -euo pipefail

module_present() {
  for m in /usr/lib/softhsm/libsofthsm2.so /usr/lib/*/softhsm/libsofthsm2.so; do
    [[ -f $m ]] && return 0
  done
  return 1
}

command -v softhsm2-util >/dev/null 2>&1 && module_present && exit 0
"$(dirname "$0")/apt-install.sh" ensure-softhsm softhsm2
command -v softhsm2-util >/dev/null 2>&1 && module_present ||
  { echo "ensure-softhsm: installed softhsm2, but softhsm2-util or libsofthsm2.so is still missing" >&2; exit 1; }
echo "ensure-softhsm: ok" >&2
