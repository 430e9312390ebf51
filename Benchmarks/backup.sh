#!/usr/bin/env bash
# Backup benchmark (issue 4): 10,000 KV v2 secrets in a fresh local OpenBao, then
# `lockstep backup create` of all of them to a directory (list + read over 16 kept-alive
# connections, payload, envelope encryption, 0600 temp file + fsync + rename), and the
# runbook's `vault kv get` per secret + `openssl enc` for comparison (sampled, extrapolated).
# Usage: Benchmarks/backup.sh [COUNT] (default 10000). Goal: <= 3 s for 10,000 secrets.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
count=${1:-10000}
sample=${BAO_SAMPLE:-200}
runs=${RUNS:-3}
prefix=bench
mount=secret

bench_init lockstep-backup-bench
bench_start_vault
bench_seed "$mount" "$prefix" "$count"
"$lockstep" keygen --out "$dir/id.txt" > "$dir/recipient"
recipient=$(cat "$dir/recipient")
# Signed, as the shipped templates are; verify trusts the signer (restore and verify
# refuse unsigned backups since issue 10).
"$lockstep" keygen --signing --out "$dir/signing.key" >/dev/null
mkdir -p "$dir/out"

times=()
walls=()
for _ in $(seq "$runs"); do
  t0=$(now)
  json=$(/usr/bin/time -f '%M' -o "$dir/rss" "$lockstep" backup create --mount "$mount" \
    --to "$dir/out" --recipient "$recipient" --sign-key "$dir/signing.key" --json)
  t1=$(now)
  walls+=("$(python3 -c "print(f'{$t1-$t0:.3f}')")")
  secs=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["duration_seconds"])' "$json")
  paths=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["paths"])' "$json")
  bytes=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["bytes"])' "$json")
  [ "$paths" -eq "$count" ] || { echo "backed up $paths of $count secrets" >&2; exit 1; }
  times+=("$secs")
  rss=$(cat "$dir/rss")
done
# Wall time of the whole process (start-up, Vault, encryption, fsync), median of the runs.
wall=$(python3 -c 'import sys,statistics; print(f"{statistics.median(map(float,sys.argv[1:])):.2f}")' "${walls[@]}")
verify_t0=$(now)
"$lockstep" backup verify "$(ls "$dir"/out/*.lsb | head -1)" --identity "$dir/id.txt" \
  --verify-key "$dir/signing.key.pub" >/dev/null
verify_t1=$(now)
verify=$(python3 -c "print(f'{$verify_t1-$verify_t0:.2f}')")

# The runbook: `vault kv get` per secret into a file, then openssl enc (sampled).
shuf -n "$sample" --random-source=<(yes) "$dir/paths" | sed "s#^$mount/data/##" > "$dir/sample"
t0=$(now)
while read -r p; do bao kv get -mount="$mount" -format=json "$p" >> "$dir/runbook.json"; done < "$dir/sample"
t1=$(now)
runbook=$(python3 -c "print(f'{($t1-$t0)/$sample*$count:.0f}')")

median=$(python3 -c 'import sys,statistics; print(f"{statistics.median(map(float,sys.argv[1:])):.2f}")' "${times[@]}")
echo "| secrets | lockstep backup create, median of $runs (s) | all runs (s) | whole process, median (s) | backup verify (s) | file bytes | max RSS (KB) | runbook kv get loop (s, extrapolated) |"
echo "|---:|---:|---|---:|---:|---:|---:|---:|"
echo "| $count | $median | ${times[*]} | $wall | $verify | $bytes | $rss | ~$runbook |"
