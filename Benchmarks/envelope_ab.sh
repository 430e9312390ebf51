#!/usr/bin/env bash
# Two lockstep binaries side by side on `encrypt` and `decrypt` of one page-cached file
# (issue 10's "no throughput regression beyond 5%" for Benchmarks/envelope.sh), rounds
# interleaved so both see the same load. Reports each one's wall time and CPU (user+sys,
# GNU time); on a shared host the CPU figure is the steadier one.
#   Benchmarks/envelope_ab.sh NEW OLD [SIZE_MB]   (default 1024; RUNS default 5)
set -euo pipefail
NEW=$(readlink -f "$1") OLD=$(readlink -f "$2") size=${3:-1024} runs=${RUNS:-5}
work=$(mktemp -d /tmp/lockstep-envelope-ab.XXXXXX)
trap 'rm -rf "$work"' EXIT
head -c $((size * 1024 * 1024)) /dev/urandom >"$work/input"
recipient=$("$NEW" keygen --out "$work/id.txt")
"$NEW" encrypt --recipient "$recipient" --in "$work/input" --out "$work/sealed"
cat "$work/input" "$work/sealed" >/dev/null # page-cache both
: >"$work/results"
measure() { # measure WHICH OPERATION COMMAND...
  local which=$1 operation=$2
  shift 2
  local t0 t1
  t0=$(date +%s%N)
  /usr/bin/time -f '%U %S %M' -o "$work/time" "$@" >/dev/null
  t1=$(date +%s%N)
  read -r user sys rss <"$work/time"
  echo "$which $operation $(((t1 - t0) / 1000000)) $(python3 -c "print(round($user + $sys, 3))") $rss" >>"$work/results"
}
for _ in $(seq "$runs"); do
  for which in old new; do
    bin=$NEW
    [[ $which == old ]] && bin=$OLD
    measure "$which" encrypt "$bin" encrypt --recipient "$recipient" --in "$work/input"
    measure "$which" decrypt "$bin" decrypt --identity "$work/id.txt" "$work/sealed"
  done
done
python3 - "$work/results" "$size" "$(uptime)" <<'PY'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
print(f"{sys.argv[2]} MiB, {sum(1 for r in rows if r[:2] == ['new', 'encrypt'])} rounds, interleaved; {sys.argv[3].strip()}")
print("| binary | operation | wall median (s) | best (s) | CPU median (s) | best (s) | max RSS (KB) |")
print("|---|---|---:|---:|---:|---:|---:|")
for operation in ("encrypt", "decrypt"):
    for which in ("old", "new"):
        w = [int(r[2]) / 1000 for r in rows if r[0] == which and r[1] == operation]
        c = [float(r[3]) for r in rows if r[0] == which and r[1] == operation]
        m = [int(r[4]) for r in rows if r[0] == which and r[1] == operation]
        print(f"| {which} | {operation} | {statistics.median(w):.2f} | {min(w):.2f} "
              f"| {statistics.median(c):.2f} | {min(c):.2f} | {max(m)} |")
for operation in ("encrypt", "decrypt"):
    for index, name in ((2, "wall"), (3, "CPU")):
        o = statistics.median(float(r[index]) for r in rows if r[0] == "old" and r[1] == operation)
        n = statistics.median(float(r[index]) for r in rows if r[0] == "new" and r[1] == operation)
        print(f"new vs old, {operation} {name} median: {100 * (n - o) / o:+.1f}%")
PY
