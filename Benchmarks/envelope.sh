#!/usr/bin/env bash
# Envelope throughput and memory: lockstep encrypt/decrypt vs age vs the runbook's
# `openssl enc -aes-256-cbc -pbkdf2`, on the same page-cached file, output to /dev/null,
# max RSS from GNU time. Usage: Benchmarks/envelope.sh [SIZE_MB] (default 1024).
# Needs: a release build (built here unless LOCKSTEP=path is set), age, openssl, /usr/bin/time.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MB=${1:-1024}
RUNS=${RUNS:-3}
WORK=${BENCH_DIR:-/tmp/lockstep-bench}
mkdir -p "$WORK"
if [[ -z "${LOCKSTEP:-}" ]]; then
  swift build -c release --product lockstep >/dev/null
  LOCKSTEP=$(swift build -c release --show-bin-path)/lockstep
fi
for tool in age age-keygen openssl /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "missing: $tool (apt-get install age time openssl)" >&2; exit 69; }
done

INPUT=$WORK/input-${SIZE_MB}M.bin
if [[ ! -f $INPUT ]]; then
  head -c $((SIZE_MB * 1024 * 1024)) /dev/urandom >"$INPUT"
fi
cat "$INPUT" >/dev/null # page-cache it
umask 077
[[ -f $WORK/id.txt ]] || "$LOCKSTEP" keygen --out "$WORK/id.txt" >/dev/null
[[ -f $WORK/age.txt ]] || age-keygen -o "$WORK/age.txt" 2>/dev/null
printf 'benchmark passphrase\n' >"$WORK/pass"
RECIPIENT=$(sed -n 's/^# recipient: //p' "$WORK/id.txt")
AGE_RECIPIENT=$(age-keygen -y "$WORK/age.txt")

"$LOCKSTEP" encrypt --recipient "$RECIPIENT" --in "$INPUT" --out "$WORK/lockstep.enc"
age -r "$AGE_RECIPIENT" -o "$WORK/age.enc" "$INPUT"
openssl enc -aes-256-cbc -pbkdf2 -salt -pass "file:$WORK/pass" -in "$INPUT" -out "$WORK/openssl.enc"
cat "$WORK"/*.enc >/dev/null

# Runs "$@" RUNS times; prints the best wall time's throughput and the max RSS of that run.
measure() {
  local name=$1; shift
  local best="" rss=""
  for _ in $(seq "$RUNS"); do
    /usr/bin/time -f '%e %M' -o "$WORK/time.txt" "$@" >/dev/null
    read -r secs kb <"$WORK/time.txt"
    if [[ -z $best ]] || awk "BEGIN{exit !($secs < $best)}"; then best=$secs; rss=$kb; fi
  done
  awk -v n="$name" -v s="$best" -v kb="$rss" -v mb="$SIZE_MB" \
    'BEGIN{ gbs = (s > 0) ? mb/1024/s : 0; printf "| %-42s | %7.2f s | %6.2f GB/s | %7.1f MB |\n", n, s, gbs, kb/1024 }'
}

echo "Input: $SIZE_MB MiB, page-cached, output /dev/null, best of $RUNS; $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs))"
echo
echo "| command | time | throughput | max RSS |"
echo "|---|---|---|---|"
measure "lockstep encrypt (X25519)" "$LOCKSTEP" encrypt --recipient "$RECIPIENT" --in "$INPUT"
measure "lockstep decrypt (X25519)" "$LOCKSTEP" decrypt --identity "$WORK/id.txt" "$WORK/lockstep.enc"
measure "age -r (X25519)" age -r "$AGE_RECIPIENT" "$INPUT"
measure "age -d" age -d -i "$WORK/age.txt" "$WORK/age.enc"
measure "openssl enc -aes-256-cbc -pbkdf2 (encrypt)" openssl enc -aes-256-cbc -pbkdf2 -salt -pass "file:$WORK/pass" -in "$INPUT"
measure "openssl enc -d -aes-256-cbc -pbkdf2" openssl enc -d -aes-256-cbc -pbkdf2 -pass "file:$WORK/pass" -in "$WORK/openssl.enc"
