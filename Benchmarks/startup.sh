#!/usr/bin/env bash
# Start-up: `lockstep --help` as a whole process, with hyperfine (-N, no shell), and its max
# RSS from GNU time. Goal (DESIGN.md): <= 20 ms. Usage: Benchmarks/startup.sh
# Env: LOCKSTEP=path (default: `make release`'s binary, built here); BASELINE=path to a
# second binary measured in the same hyperfine run; RUNS (default 50).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-50}
if [[ -z "${LOCKSTEP:-}" ]]; then
  make -s release >/dev/null
  LOCKSTEP=.build/release/lockstep
fi
for tool in hyperfine /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "missing: $tool (apt-get install hyperfine time)" >&2; exit 69; }
done
binaries=("$LOCKSTEP")
[[ -n "${BASELINE:-}" ]] && binaries+=("$BASELINE")

echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
commands=()
for bin in "${binaries[@]}"; do commands+=("$bin --help"); done
hyperfine -N --warmup 5 --runs "$RUNS" --output=null "${commands[@]}"
for bin in "${binaries[@]}"; do
  best=""
  for _ in 1 2 3 4 5; do
    /usr/bin/time -f '%M' -o /tmp/lockstep-startup-rss.txt "$bin" --help >/dev/null
    kb=$(cat /tmp/lockstep-startup-rss.txt)
    [[ -z $best || $kb -lt $best ]] && best=$kb
  done
  rm -f /tmp/lockstep-startup-rss.txt
  awk -v b="$bin" -v kb="$best" 'BEGIN { printf "max RSS %s --help: %.1f MB (least of 5)\n", b, kb / 1024 }'
done
