#!/usr/bin/env bash
# Where the CPU goes during a Vault walk and a backup: one fresh OpenBao dev server with
# COUNT KV v2 secrets, then, interleaved for ROUNDS rounds so that every binary sees the
# same machine load:
#   - `lockstep vault walk --parallelism P` for each binary and each P in PARALLEL,
#   - `lockstep backup create` (16 connections) for each binary,
#   - `curl --parallel --parallel-max 16` over the read URLs (the reads-only reference).
# For each run: the time lockstep reports itself (`seconds` of the walk, `duration_seconds`
# of the backup: no process start-up), the process's wall seconds, the client's
# user+system CPU (GNU time) and the OpenBao server's user+system CPU over the same
# interval (/proc/PID/stat utime+stime). curl reports no time of its own: its wall time.
# Usage: BINS="base=/tmp/base/lockstep new=.build/release/lockstep" \
#          [PARALLEL="8 16 32 64"] [ROUNDS=3] bash Benchmarks/walk_cpu.sh [COUNT]
# Prints one Markdown table of medians on stdout; every run on stderr.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
count=${1:-10000}
rounds=${ROUNDS:-3}
parallel=${PARALLEL:-"8 16 32 64"}
prefix=bench
mount=secret
bench_init lockstep-walkcpu
bins=${BINS:-"lockstep=$lockstep"}
bench_start_vault
port=${VAULT_ADDR##*:}
# The server process is whatever listens on the port (`bao` is a Python wrapper).
server_pid=$(ss -ltnpH "sport = :$port" | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)
[ -n "$server_pid" ] || { echo "cannot find the OpenBao server process" >&2; exit 1; }
ticks=$(getconf CLK_TCK)
server_cpu() { awk -v t="$ticks" '{ printf "%.2f\n", ($14 + $15) / t }' "/proc/$server_pid/stat"; }

bench_seed "$mount" "$prefix" "$count"
{
  echo 'header = "X-Vault-Token: root"'
  sed "s#.*#url = \"$VAULT_ADDR/v1/&\"\noutput = \"/dev/null\"#" "$dir/paths"
} > "$dir/curl.cfg"
first_bin=${bins%% *}; first_bin=${first_bin#*=}
"$first_bin" keygen --out "$dir/id.txt" > "$dir/recipient"
recipient=$(cat "$dir/recipient")
mkdir -p "$dir/out"
"$first_bin" vault walk "$mount/$prefix" --json >/dev/null # warm-up

# measure LABEL COMMAND...: appends "label own wall client_cpu server_cpu" to $dir/runs.
measure() {
  local label=$1; shift
  local s0 s1
  s0=$(server_cpu)
  /usr/bin/time -f '%e %U %S' -o "$dir/time" "$@" >"$dir/out.json" 2>"$dir/err" \
    || { cat "$dir/err" >&2; exit 1; }
  s1=$(server_cpu)
  read -r wall user sys < "$dir/time"
  local line
  line=$(python3 - "$dir/out.json" "$wall" "$user" "$sys" "$s0" "$s1" <<'PY'
import json, sys
w, u, s, a, b = map(float, sys.argv[2:])
try:
    report = json.load(open(sys.argv[1]))
    own = report.get("seconds", report.get("duration_seconds", w))
    phases = report.get("phases")
except ValueError:
    own, phases = w, None
extra = f" vault={phases['vault_seconds']:.2f} encrypt={phases['encrypt_seconds']:.2f}" if phases else ""
print(f"{own:.2f} {w:.2f} {u+s:.2f} {b-a:.2f}{extra}")
PY
)
  echo "$label $line" >> "$dir/runs"
  echo "$label own/wall/client/server: $line  (load $(cut -d' ' -f1 /proc/loadavg))" >&2
}

for _ in $(seq "$rounds"); do
  for entry in $bins; do
    name=${entry%%=*}; bin=${entry#*=}
    for p in $parallel; do
      measure "$name:walk-p$p" "$bin" vault walk "$mount/$prefix" --parallelism "$p" --json
    done
    measure "$name:backup" "$bin" backup create --mount "$mount" --to "$dir/out" \
      --recipient "$recipient" --json
    rm -f "$dir"/out/*
  done
  measure "curl:parallel-16" curl -s --no-progress-meter --fail --parallel --parallel-max 16 \
    -K "$dir/curl.cfg"
done

echo "$count KV v2 secrets, OpenBao $(bao version | awk '{print $2}'), $(nproc) cores shared by client and server, median of $rounds interleaved rounds."
echo
echo "| run | lockstep's own time (s) | process wall (s) | client CPU (s) | server CPU (s) | client share of CPU used |"
echo "|---|---:|---:|---:|---:|---:|"
python3 - "$dir/runs" <<'PY'
import statistics, sys
runs = {}
order = []
for line in open(sys.argv[1]):
    label, own, wall, client, server = line.split()[:5]
    if label not in runs:
        order.append(label)
    runs.setdefault(label, []).append(tuple(map(float, (own, wall, client, server))))
for label in order:
    values = runs[label]
    own, wall, client, server = (statistics.median(v[i] for v in values) for i in range(4))
    share = client / (client + server) * 100 if client + server else 0
    print(f"| {label} | {own:.2f} | {wall:.2f} | {client:.2f} | {server:.2f} | {share:.0f}% |")
PY
