#!/usr/bin/env bash
# Makes sure the Python client's toolchain is installed (Debian packages; no pip):
#   protobuf-compiler        /usr/bin/protoc             (buf.gen.python.yaml: protoc_builtin)
#   protobuf-compiler-grpc   /usr/bin/grpc_python_plugin (buf.gen.python.yaml: local plugin)
#   python3-grpcio, python3-protobuf, python3-nacl           (clients/python/example.py)
# Idempotent: does nothing when everything is there. Otherwise installs them with
# scripts/apt-install.sh (as root, or through password-less sudo), which fails clearly when it cannot.
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

"$(dirname "$0")/apt-install.sh" ensure-python-deps "${PACKAGES[@]}"

have_all || { echo "ensure-python-deps: installed ${PACKAGES[*]}, but protoc, grpc_python_plugin or '$PYTHON -c \"import grpc, google.protobuf, nacl\"' still fail" >&2; exit 1; }
echo "ensure-python-deps: ok" >&2
