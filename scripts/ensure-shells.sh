#!/usr/bin/env bash
# Makes sure zsh and fish are installed: vesslctl's completion scripts are tested in each shell
# they are written for (test/cli-completion.test.ts). Idempotent.
set -euo pipefail

command -v zsh >/dev/null 2>&1 && command -v fish >/dev/null 2>&1 && exit 0
"$(dirname "$0")/apt-install.sh" ensure-shells zsh fish
command -v zsh >/dev/null 2>&1 && command -v fish >/dev/null 2>&1 || { echo "ensure-shells: installed zsh and fish, but they are still not on PATH" >&2; exit 1; }
echo "ensure-shells: ok" >&2
