#!/usr/bin/env bash
# `make demo`: start the local stack (OpenBao, PostgreSQL, Redis, moto S3, the Kubernetes
# stand-in), then show that lockstep reaches every part of it with `lockstep doctor`.
# The stack keeps running for you to explore; `make stack-down` stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-.lockstep-stack}
if [ -f "$dir/env" ]; then
  echo "== using the stack already up in $dir"
else
  echo "== starting the local stack in $dir"
  scripts/stack.sh up "$dir"
fi
# shellcheck disable=SC1091
source "$dir/env"
echo "== lockstep doctor"
.build/debug/lockstep doctor
echo
echo "Stack: source $dir/env to use it; make stack-down to stop it."
