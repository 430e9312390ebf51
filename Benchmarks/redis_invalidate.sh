#!/usr/bin/env bash
# Session invalidation on a real local redis-server, side by side in one run:
#   1. lockstep redis invalidate --pattern 'sess:*' --yes   (SCAN + pipelined UNLINK)
#   2. the runbook style: redis-cli --scan --pattern 'sess:*' | xargs redis-cli unlink
#   3. the runbook's per-key loop (while read k; do redis-cli unlink "$k"; done) on a
#      sample, extrapolated: at one process per key, the full run would take minutes
#   4. redis-cli FLUSHDB for reference: fastest, and it also wipes every non-session key
# Each round loads SESSIONS session keys and OTHERS other keys, and checks afterwards that
# exactly the other keys remain (FLUSHDB: that nothing remains).
#
# Usage: Benchmarks/redis_invalidate.sh   (env: LOCKSTEP, SESSIONS, OTHERS, RUNS, LOOP_SAMPLE)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
LOCKSTEP=${LOCKSTEP:-$root/.build/release/lockstep}
SESSIONS=${SESSIONS:-100000}
OTHERS=${OTHERS:-100000}
RUNS=${RUNS:-3}
LOOP_SAMPLE=${LOOP_SAMPLE:-2000}

[ -x "$LOCKSTEP" ] || { echo "no lockstep binary at $LOCKSTEP: run 'make release' or set LOCKSTEP" >&2; exit 1; }
command -v redis-cli >/dev/null || { echo "redis-cli not found: apt-get install redis-server" >&2; exit 1; }

dir=$(mktemp -d -t lockstep-bench-redis.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
bash "$root/scripts/stack.sh" start redis "$dir" "$port" >/dev/null
cleanup() { bash "$root/scripts/stack.sh" stop redis "$dir" >/dev/null 2>&1 || true; rm -rf "$dir"; }
trap cleanup EXIT

cli() { redis-cli -h 127.0.0.1 -p "$port" "$@"; }
export REDIS_URL="redis://127.0.0.1:$port/0"

# Loads the keyspace server-side (one EVAL each), so loading is not what gets measured.
load() {
  cli FLUSHDB >/dev/null
  cli EVAL "for i = 1, tonumber(ARGV[1]) do redis.call('SET', 'sess:' .. i, 'v') end" 0 "$SESSIONS" >/dev/null
  cli EVAL "for i = 1, tonumber(ARGV[1]) do redis.call('SET', 'data:' .. i, 'v') end" 0 "$OTHERS" >/dev/null
}

expect_dbsize() { # EXPECTED LABEL
  local size
  size=$(cli DBSIZE)
  [ "$size" = "$1" ] || { echo "$2: DBSIZE is $size, expected $1" >&2; exit 1; }
}

now() { date +%s.%N; }
elapsed() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.3f}')" "$1" "$2"; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR + 1) / 2)]}'; }

declare -a lockstep_times xargs_times flush_times
for run in $(seq 1 "$RUNS"); do
  load
  t0=$(now)
  removed=$("$LOCKSTEP" redis invalidate --pattern 'sess:*' --yes)
  t1=$(now)
  [ "$removed" = "$SESSIONS" ] || { echo "lockstep removed $removed, expected $SESSIONS" >&2; exit 1; }
  expect_dbsize "$OTHERS" lockstep
  lockstep_times+=("$(elapsed "$t0" "$t1")")

  load
  t0=$(now)
  cli --scan --pattern 'sess:*' | xargs redis-cli -h 127.0.0.1 -p "$port" unlink >/dev/null
  t1=$(now)
  expect_dbsize "$OTHERS" "redis-cli | xargs"
  xargs_times+=("$(elapsed "$t0" "$t1")")

  load
  t0=$(now)
  cli FLUSHDB >/dev/null
  t1=$(now)
  expect_dbsize 0 FLUSHDB
  flush_times+=("$(elapsed "$t0" "$t1")")
done

# The per-key loop, once, on a sample.
load
t0=$(now)
cli --scan --pattern 'sess:*' > "$dir/keys"
t_list=$(now)
head -n "$LOOP_SAMPLE" "$dir/keys" | while read -r key; do
  redis-cli -h 127.0.0.1 -p "$port" unlink "$key" >/dev/null
done
t1=$(now)
# The scan itself is done once in full; only the per-key deletions are extrapolated.
scan_time=$(elapsed "$t0" "$t_list")
t0=$t_list
loop_sample=$(elapsed "$t0" "$t1")
loop_full=$(python3 -c "import sys; print(f'{float(sys.argv[4]) + float(sys.argv[1]) * int(sys.argv[3]) / int(sys.argv[2]):.1f}')" "$loop_sample" "$LOOP_SAMPLE" "$SESSIONS" "$scan_time")
expect_dbsize "$((SESSIONS + OTHERS - LOOP_SAMPLE))" "per-key loop"

l=$(median "${lockstep_times[@]}"); x=$(median "${xargs_times[@]}"); f=$(median "${flush_times[@]}")
ratio() { python3 -c "import sys; print(f'{float(sys.argv[1]) / float(sys.argv[2]):.1f}')" "$1" "$2"; }
echo "Redis $(redis-server --version | awk '{print $3}' | cut -d= -f2), $SESSIONS session keys + $OTHERS other keys, median of $RUNS runs (seconds)"
echo
echo "| method | time (s) | keys/s | other keys kept | vs lockstep |"
echo "|---|---:|---:|---|---:|"
rate() { python3 -c "import sys; print(f'{int(sys.argv[1]) / float(sys.argv[2]):,.0f}')" "$SESSIONS" "$1"; }
echo "| \`lockstep redis invalidate --pattern 'sess:*' --yes\` (SCAN+UNLINK, batch 1000) | $l | $(rate "$l") | yes | 1.0× |"
echo "| \`redis-cli --scan --pattern 'sess:*' \| xargs redis-cli unlink\` | $x | $(rate "$x") | yes | $(ratio "$x" "$l")× |"
echo "| per-key loop \`while read k; do redis-cli unlink \$k; done\` ($LOOP_SAMPLE keys, extrapolated) | ~$loop_full | $(rate "$loop_full") | yes | ~$(ratio "$loop_full" "$l")× |"
echo "| \`redis-cli FLUSHDB\` (reference: wipes all $((SESSIONS + OTHERS)) keys) | $f | — | **no** | $(ratio "$f" "$l")× |"
echo
echo "all runs: lockstep ${lockstep_times[*]}; xargs ${xargs_times[*]}; flushdb ${flush_times[*]}; loop sample ${loop_sample}s for $LOOP_SAMPLE keys"
