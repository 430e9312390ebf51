#!/usr/bin/env bash
# The full compromise rotation on the local stack, 5 runs, median per step.
# The runbook estimates 30 minutes to 2 hours for the same procedure by hand.
#   bash Benchmarks/rotation.sh            (uses .build/release/lockstep; `make release` first)
set -euo pipefail
cd "$(dirname "$0")/.."
lockstep=${LOCKSTEP:-.build/release/lockstep}
[ -x "$lockstep" ] || { echo "build first: swift build -c release" >&2; exit 1; }
dir=$(mktemp -d /tmp/lockstep-bench-rotation-XXXXXX)
chmod 755 "$dir" # the PostgreSQL cluster inside belongs to the postgres user
trap 'scripts/stack.sh down "$dir/stack" >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
scripts/stack.sh up "$dir/stack" >/dev/null
# shellcheck disable=SC1091
source "$dir/stack/env"
"$lockstep" keygen --signing --out "$dir/signing.key" >/dev/null
: > "$dir/results.jsonl"
for run in 1 2 3 4 5; do
  AURA_ROLLOUT_DELAY_MS=200 scripts/seed-aura.sh "$dir/seed" >/dev/null
  start=$(date +%s%N)
  "$lockstep" rotate run --yes --json --policy policies/rotation/aura-sign.yaml \
    --signing-key "$dir/signing.key" --evidence-dir "$dir/evidence" --state-dir "$dir/state" \
    >> "$dir/results.jsonl"
  end=$(date +%s%N)
  echo "{\"wall\": $(( (end - start) / 1000000 ))}" >> "$dir/results.jsonl"
done
python3 - "$dir/results.jsonl" <<'PY'
import json, statistics, sys
runs, walls = [], []
for line in open(sys.argv[1]):
    record = json.loads(line)
    if "wall" in record:
        walls.append(record["wall"] / 1000)
    else:
        runs.append({s["step"]: s["seconds"] for s in record["steps"]})
steps = list(runs[0].keys())
print(f"rotate run, {len(runs)} runs on the local stack (stand-in rollout delay 200 ms per deployment)")
print(f"| step | median (ms) | min | max |")
print(f"| --- | ---: | ---: | ---: |")
for step in steps:
    values = [r[step] * 1000 for r in runs]
    print(f"| {step} | {statistics.median(values):.1f} | {min(values):.1f} | {max(values):.1f} |")
totals = [sum(r.values()) for r in runs]
no_deploy = [sum(v for k, v in r.items() if k != "deploy") for r in runs]
print(f"| all steps | {statistics.median(totals) * 1000:.1f} | {min(totals) * 1000:.1f} | {max(totals) * 1000:.1f} |")
print(f"| all but deploy (rollout wait) | {statistics.median(no_deploy) * 1000:.1f} | {min(no_deploy) * 1000:.1f} | {max(no_deploy) * 1000:.1f} |")
print(f"| whole process, wall | {statistics.median(walls) * 1000:.1f} | {min(walls) * 1000:.1f} | {max(walls) * 1000:.1f} |")
PY
