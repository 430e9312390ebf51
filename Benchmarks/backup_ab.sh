#!/usr/bin/env bash
# Two lockstep binaries side by side on `backup create` (issue 10's "no throughput
# regression beyond 5%"): one seeded OpenBao (COUNT KV v2 secrets), then signed backups
# alternating between the binaries, ROUNDS times each, so that both see the same load.
# For each run: the command's own duration_seconds (--json), and the client's CPU
# (user+sys from GNU time), which a loaded host disturbs far less than wall time.
#   Benchmarks/backup_ab.sh NEW OLD [COUNT]      (default 10000; ROUNDS default 7)
# OLD may be a build from before signing existed: it then backs up unsigned.
set -euo pipefail
NEW=$(readlink -f "$1") OLD=$(readlink -f "$2") count=${3:-10000} rounds=${ROUNDS:-7}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LOCKSTEP_BIN=$NEW
. "$here/lib.sh"
bench_init lockstep-backup-ab
bench_start_vault
bench_seed secret bench "$count"
recipient=$("$NEW" keygen --out "$dir/id.txt")
"$NEW" keygen --signing --out "$dir/signing.key" >/dev/null
sign_args() { # the signing flag when the binary knows it
  if "$1" backup create --help 2>&1 | grep -q -- '--sign-key'; then
    echo "--sign-key $dir/signing.key"
  fi
}
new_sign=$(sign_args "$NEW") old_sign=$(sign_args "$OLD")
: >"$dir/results"
for _ in $(seq "$rounds"); do
  for which in old new; do
    bin=$NEW sign=$new_sign
    [[ $which == old ]] && bin=$OLD sign=$old_sign
    rm -rf "$dir/out" && mkdir -p "$dir/out"
    # shellcheck disable=SC2086
    json=$(/usr/bin/time -f '%U %S %M' -o "$dir/time" "$bin" backup create --mount secret \
      --to "$dir/out" --recipient "$recipient" $sign --json)
    read -r user sys rss <"$dir/time"
    secs=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["duration_seconds"])' "$json")
    echo "$which $secs $(python3 -c "print(round($user + $sys, 3))") $rss" >>"$dir/results"
  done
done
python3 - "$dir/results" "$count" "$(uptime)" <<'PY'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
def column(which, index):
    return [float(r[index]) for r in rows if r[0] == which]
print(f"{sys.argv[2]} secrets, {len(column('new', 1))} rounds each, alternating; {sys.argv[3].strip()}")
print("| binary | duration median (s) | min | all runs (s) | client CPU median (s) | min | max RSS (KB) |")
print("|---|---:|---:|---|---:|---:|---:|")
for which in ("old", "new"):
    d, c, m = column(which, 1), column(which, 2), column(which, 3)
    print(f"| {which} | {statistics.median(d):.3f} | {min(d):.3f} | {' '.join(f'{x:.2f}' for x in d)} "
          f"| {statistics.median(c):.3f} | {min(c):.3f} | {int(max(m))} |")
for index, name in ((1, "duration"), (2, "client CPU")):
    old, new = statistics.median(column("old", index)), statistics.median(column("new", index))
    print(f"new vs old, {name} median: {100 * (new - old) / old:+.1f}%")
PY
