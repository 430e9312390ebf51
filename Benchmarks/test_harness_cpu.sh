#!/usr/bin/env bash
# What the test harness spends CPU on, old way beside new way, in one run:
#  1. kubectl through the /usr/bin/kubectl dispatcher against a stand-in reporting 1.31
#     (the dispatcher starts kubectl.1.31 too) and 1.32 (the dispatcher's own minor, so it
#     runs the command itself), calls interleaved;
#  2. a server watcher waiting SECONDS for its test process: a `sleep 1` loop beside
#     `tail -f /dev/null --pid` (scripts/stack.sh watch_parent).
#   bash Benchmarks/test_harness_cpu.sh [CALLS=40] [SECONDS=20]
set -euo pipefail
cd "$(dirname "$0")/.."
calls=${1:-40}
wait_seconds=${2:-20}
dir=$(mktemp -d /tmp/lockstep-bench-harness-XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
trap 'scripts/stack.sh stop k8s "$dir" >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
scripts/stack.sh start k8s "$dir" "$port" >/dev/null
export KUBECACHEDIR=$dir/cache
for minor in 31 32; do
  sed "s#server: https://127.0.0.1:$port\$#server: https://127.0.0.1:$port/_as/1.$minor#" \
    "$dir/kubeconfig" > "$dir/kubeconfig-$minor"
  kubectl --kubeconfig "$dir/kubeconfig-$minor" get namespaces >/dev/null # warm the cache
done
# CPU seconds (user + system, children included) of one command, from GNU time.
cpu() { /usr/bin/time -f '%U %S' -o "$dir/time" "$@" >/dev/null 2>&1; awk '{print $1 + $2}' "$dir/time"; }
: > "$dir/kubectl"
for _ in $(seq "$calls"); do
  for minor in 31 32; do
    echo "$minor $(cpu kubectl --kubeconfig "$dir/kubeconfig-$minor" get namespaces)" >> "$dir/kubectl"
  done
done
sleep "$wait_seconds" & sleeper=$!
loop=$(cpu bash -c 'while kill -0 "$1" 2>/dev/null; do sleep 1; done' watch "$sleeper")
wait "$sleeper" || true
sleep "$wait_seconds" & sleeper=$!
tail_cpu=$(cpu tail -f /dev/null --pid="$sleeper")
python3 - "$dir/kubectl" "$calls" "$wait_seconds" "$loop" "$tail_cpu" <<'PY'
import statistics, sys
path, calls, seconds, loop, tail = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
by = {}
for line in open(path):
    minor, value = line.split()
    by.setdefault(minor, []).append(float(value))
print(f"kubectl get namespaces, {calls} calls each, CPU s per call (median, mean):")
for minor, label in (("31", "server 1.31 (dispatcher + kubectl.1.31)"), ("32", "server 1.32 (dispatcher alone)")):
    values = by[minor]
    print(f"  {label:42} {statistics.median(values):.3f}  {statistics.mean(values):.3f}")
print(f"one watcher over {seconds:.0f} s, CPU ms per minute of waiting:")
print(f"  sleep 1 loop                               {loop / seconds * 60 * 1000:.1f}")
print(f"  tail --pid                                 {tail / seconds * 60 * 1000:.1f}")
PY
