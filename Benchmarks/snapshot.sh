#!/usr/bin/env bash
# Raft snapshot backup benchmark (issue 14): COUNT KV v2 secrets in a fresh one-node Raft
# OpenBao (scripts/stack.sh's vault-raft), then, alternating in the same run:
#   - curl: the snapshot's own GET (sys/storage/raft/snapshot) to a file, the floor;
#   - lockstep backup snapshot: GET + header + envelope encryption + signing + 0600 temp
#     file, fsync, rename.
# The goal: lockstep's whole process within 1 s of the curl GET.
# Usage: Benchmarks/snapshot.sh [COUNT] (default 10000); RUNS (default 5).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
count=${1:-10000}
runs=${RUNS:-5}

bench_init lockstep-snapshot-bench
snapshot_cleanup() {
  "$root/scripts/stack.sh" stop vault-raft "$dir" >/dev/null 2>&1 || true
  bench_cleanup
}
trap snapshot_cleanup EXIT
port=$(bench_free_port_pair)
"$root/scripts/stack.sh" start vault-raft "$dir" "$port" --watch $$ >/dev/null
# The throwaway cluster's root token (stack.sh makes one with the id `root`).
export VAULT_ADDR="http://127.0.0.1:$port" VAULT_TOKEN=root
bench_seed secret bench "$count"
"$lockstep" keygen --out "$dir/id.txt" > "$dir/recipient"
"$lockstep" keygen --signing --out "$dir/sign.key" > /dev/null
mkdir -p "$dir/out"

curls=() walls=() gets=() cpus=() rss=0 bytes=0 snapshot_bytes=0
for _ in $(seq "$runs"); do
  t0=$(now)
  printf 'X-Vault-Token: %s\n' "$VAULT_TOKEN" \
    | curl -fsS -H @- -o "$dir/curl.snap" "$VAULT_ADDR/v1/sys/storage/raft/snapshot"
  t1=$(now)
  curls+=("$(python3 -c "print(f'{$t1-$t0:.3f}')")")
  t0=$(now)
  json=$(/usr/bin/time -f '%M %U %S' -o "$dir/rss" "$lockstep" backup snapshot --to "$dir/out" \
    --recipient "$(cat "$dir/recipient")" --sign-key "$dir/sign.key" --json)
  t1=$(now)
  walls+=("$(python3 -c "print(f'{$t1-$t0:.3f}')")")
  gets+=("$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["phases"]["snapshot_seconds"])' "$json")")
  bytes=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["bytes"])' "$json")
  snapshot_bytes=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["snapshot_bytes"])' "$json")
  read -r rss user sys < "$dir/rss"
  # CPU seconds of the lockstep process: what it costs beyond waiting for the server,
  # and the figure least disturbed by other load on the machine.
  cpus+=("$(python3 -c "print(f'{$user+$sys:.2f}')")")
done
"$lockstep" backup verify "$(ls "$dir"/out/*.snapshot.lsb | head -1)" --identity "$dir/id.txt" \
  --verify-key "$dir/sign.key.pub" >/dev/null

median() { python3 -c 'import sys,statistics; print(f"{statistics.median(map(float,sys.argv[1:])):.3f}")' "$@"; }
curl_median=$(median "${curls[@]}")
wall_median=$(median "${walls[@]}")
get_median=$(median "${gets[@]}")
overhead=$(python3 -c "print(f'{$wall_median-$curl_median:.3f}')")
cpu_median=$(median "${cpus[@]}")
echo "| secrets | snapshot bytes | curl GET, median of $runs (s) | lockstep backup snapshot, whole process, median (s) | its own GET phase, median (s) | lockstep − curl (s) | lockstep CPU user+sys, median (s) | all curl runs (s) | all lockstep runs (s) | file bytes | max RSS (KB) |"
echo "|---:|---:|---:|---:|---:|---:|---:|---|---|---:|---:|"
echo "| $count | $snapshot_bytes | $curl_median | $wall_median | $get_median | $overhead | $cpu_median | ${curls[*]} | ${walls[*]} | $bytes | $rss |"
