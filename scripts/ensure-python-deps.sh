#!/usr/bin/env bash
# Makes sure the Python client's toolchain is installed (Debian packages; no pip):
#   protobuf-compiler        /usr/bin/protoc             (buf.gen.python.yaml: protoc_builtin)
#   protobuf-compiler-grpc   /usr/bin/grpc_python_plugin (buf.gen.python.yaml: local plugin)
#   python3-grpcio, python3-protobuf, python3-nacl           (clients/python/example.py)
# Idempotent: does nothing when everything is there. Otherwise runs apt-get (as root, or
# through sudo when available) and fails with a clear message when it cannot.
set -euo pipefail

PACKAGES=(protobuf-compiler protobuf-compiler-grpc python3-grpcio python3-protobuf python3-nacl)
PYTHON=/usr/bin/python3

have_all() {
  [[ -x /usr/bin/protoc && -x /usr/bin/grpc_python_plugin && -x $PYTHON ]] &&
    "$PYTHON" -c 'import grpc, google.protobuf, nacl' >/dev/null 2>&1
}

if have_all; then
  exit 0
fi

fail() {
  echo "ensure-python-deps: $*" >&2
  echo "ensure-python-deps: install them by hand: apt-get install -y ${PACKAGES[*]}" >&2
  exit 1
}

if ! command -v apt-get >/dev/null 2>&1; then
  fail "protoc, grpc_python_plugin or the python3 grpc/protobuf/nacl modules are missing, and there is no apt-get here"
fi
SUDO=()
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=(sudo -n)
  else
    fail "the Python client's packages are missing and installing them needs root (or password-less sudo)"
  fi
fi

echo "ensure-python-deps: installing ${PACKAGES[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# Quiet on success; apt's own output is shown when a step fails.
"${SUDO[@]}" apt-get update -qq >"$log" 2>&1 || { cat "$log" >&2; fail "apt-get update failed"; }
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >"$log" 2>&1 ||
  { cat "$log" >&2; fail "apt-get install failed"; }

have_all || fail "installed ${PACKAGES[*]}, but protoc, grpc_python_plugin or '$PYTHON -c \"import grpc, google.protobuf, nacl\"' still fail"
echo "ensure-python-deps: ok" >&2
