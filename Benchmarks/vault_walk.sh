#!/usr/bin/env bash
# Vault walk benchmark (issue 3): 10,000 KV v2 secrets in a fresh local OpenBao, then, in
# one run, secrets/second for
#   1. lockstep vault walk (list + read every secret, 16 kept-alive connections)
#   2. the runbook's loop, `bao kv get` per secret (sampled, extrapolated)
#   3. a Python hvac sequential walk (list + read)
#   4. the ceiling: curl --parallel --parallel-max 16 over the same read URLs (reads only)
# Usage: Benchmarks/vault_walk.sh [COUNT] (default 10000). Needs a release build
# (`make bench` does it) or builds one. Prints a Markdown table on stdout.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
count=${1:-10000}
sample=${BAO_SAMPLE:-200}
prefix=bench
mount=secret

python3 -c 'import hvac' 2>/dev/null || python3 -m pip install -q hvac >/dev/null
bench_init lockstep-bench
bench_start_vault
rate() { python3 -c "import sys; n,s=float(sys.argv[1]),float(sys.argv[2]); print(f'{n/s:.0f}')" "$@"; }

t0=$(now)
bench_seed "$mount" "$prefix" "$count"
t1=$(now)
echo "seeded $count secrets in $(python3 -c "print(f'{$t1-$t0:.1f}')") s" >&2

# 2. `bao kv get` per secret, on a sample of paths, extrapolated.
shuf -n "$sample" --random-source=<(yes) "$dir/paths" | sed "s#^$mount/data/##" > "$dir/sample"
t0=$(now)
while read -r p; do bao kv get -mount="$mount" -format=json "$p" >/dev/null; done < "$dir/sample"
t1=$(now)
bao_secs=$(python3 -c "print(($t1-$t0)/$sample*$count)")

# 3. hvac sequential walk (list + read).
read -r hv_count hv_secs < <(python3 "$here/vault_walk_helper.py" hvac "$VAULT_ADDR" "$mount" "$prefix")

# 1 and 4, interleaved for ROUNDS rounds (default 3) so that both see the same machine
# load; the median of each is reported.
# 1. Lockstep: list + read, 16 connections.
# 4. curl --parallel over the same read URLs: the server's ceiling (reads only, no lists).
{
  echo 'header = "X-Vault-Token: root"'
  sed "s#.*#url = \"$VAULT_ADDR/v1/&\"\noutput = \"/dev/null\"#" "$dir/paths"
} > "$dir/curl.cfg"
"$lockstep" vault walk "$mount/$prefix" --json >/dev/null   # warm-up
ls_runs=(); curl_runs=()
for _ in $(seq "${ROUNDS:-3}"); do
  ls_json=$("$lockstep" vault walk "$mount/$prefix" --json)
  ls_count=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["secrets"])' "$ls_json")
  [ "$ls_count" -eq "$count" ] || { echo "lockstep read $ls_count of $count secrets" >&2; exit 1; }
  ls_runs+=("$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["seconds"])' "$ls_json")")
  t0=$(now)
  curl -s --no-progress-meter --fail --parallel --parallel-max 16 -K "$dir/curl.cfg" 2>/dev/null
  t1=$(now)
  curl_runs+=("$(python3 -c "print($t1-$t0)")")
done
median() { python3 -c 'import statistics,sys; print(statistics.median(map(float,sys.argv[1:])))' "$@"; }
ls_secs=$(median "${ls_runs[@]}"); curl_secs=$(median "${curl_runs[@]}")
echo "lockstep runs: ${ls_runs[*]}; curl runs: ${curl_runs[*]}" >&2

ls_rate=$(rate "$count" "$ls_secs"); bao_rate=$(rate "$count" "$bao_secs")
hv_rate=$(rate "$hv_count" "$hv_secs"); curl_rate=$(rate "$count" "$curl_secs")
pct() { python3 -c "import sys; print(f'{float(sys.argv[1])/float(sys.argv[2])*100:.0f}%')" "$1" "$curl_rate"; }
fmt() { python3 -c "import sys; print(f'{float(sys.argv[1]):.2f}')" "$1"; }
cat <<TABLE
$count KV v2 secrets (100 folders x 100), OpenBao $(bao version | awk '{print $2}'), $(nproc) cores shared by client and server; lockstep and curl: median of ${ROUNDS:-3} interleaved runs.

| Method | Time for $count (s) | Secrets/s | vs curl ceiling |
|---|---:|---:|---:|
| lockstep vault walk (list + read, 16 connections) | $(fmt "$ls_secs") | $ls_rate | $(pct "$ls_rate") |
| curl --parallel --parallel-max 16 (reads only, ceiling) | $(fmt "$curl_secs") | $curl_rate | 100% |
| Python hvac, sequential (list + read) | $(fmt "$hv_secs") | $hv_rate | $(pct "$hv_rate") |
| bao kv get per secret ($sample sampled, extrapolated) | $(fmt "$bao_secs") | $bao_rate | $(pct "$bao_rate") |

lockstep vs the bao kv get loop: $(python3 -c "print(f'{$ls_rate/$bao_rate:.0f}x')").
TABLE
