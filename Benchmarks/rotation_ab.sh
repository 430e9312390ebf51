#!/usr/bin/env bash
# Two checkouts side by side on Benchmarks/rotation.sh (issue 11's "within 10% of today's
# figure, same run"): each checkout's own script, policy, seed and release binary, whole
# runs alternating ROUNDS times (default 2), so that both see the same load.
#   Benchmarks/rotation_ab.sh NEW_CHECKOUT OLD_CHECKOUT   (each with .build/release/lockstep)
set -euo pipefail
new=$(readlink -f "$1") old=$(readlink -f "$2") rounds=${ROUNDS:-2}
for round in $(seq "$rounds"); do
  for which in old new; do
    tree=$new
    [[ $which == old ]] && tree=$old
    echo "== $which ($tree), round $round; $(uptime)"
    (cd "$tree" && LOCKSTEP="$tree/.build/release/lockstep" bash Benchmarks/rotation.sh) |
      grep -E '^\| (all steps|all but deploy|whole process|deploy)'
  done
done
