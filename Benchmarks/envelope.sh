#!/usr/bin/env bash
# Envelope throughput and memory: lockstep encrypt/decrypt vs age vs the runbook's
# `openssl enc -aes-256-cbc -pbkdf2`, on the same page-cached file, output to /dev/null,
# max RSS from GNU time. Usage: Benchmarks/envelope.sh [SIZE_MB] (default 1024).
# Env: LOCKSTEP=path (default: `make release`'s binary, built here); BASELINE=path to a
# second lockstep binary (e.g. built from main) measured side by side; RUNS (default 3);
# BENCH_DIR (default /tmp/lockstep-bench). Paths must not contain spaces.
# Every command runs once per round, rounds interleaved, so all of them see the same load;
# the table gives each one's best wall time (and that run's max RSS) and its median.
# Throughput is in GiB/s (input MiB / 1024 / seconds).
# Needs: age, openssl, /usr/bin/time.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MB=${1:-1024}
RUNS=${RUNS:-3}
WORK=${BENCH_DIR:-/tmp/lockstep-bench}
mkdir -p "$WORK"
if [[ -z "${LOCKSTEP:-}" ]]; then
  make -s release >/dev/null
  LOCKSTEP=.build/release/lockstep
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

names=() commands=()
add() { names+=("$1"); commands+=("$2"); }
add "lockstep encrypt (X25519)" "$LOCKSTEP encrypt --recipient $RECIPIENT --in $INPUT"
if [[ -n "${BASELINE:-}" ]]; then
  add "baseline lockstep encrypt (X25519)" "$BASELINE encrypt --recipient $RECIPIENT --in $INPUT"
fi
add "lockstep decrypt (X25519)" "$LOCKSTEP decrypt --identity $WORK/id.txt $WORK/lockstep.enc"
if [[ -n "${BASELINE:-}" ]]; then
  add "baseline lockstep decrypt (X25519)" "$BASELINE decrypt --identity $WORK/id.txt $WORK/lockstep.enc"
fi
add "age -r (X25519)" "age -r $AGE_RECIPIENT $INPUT"
add "age -d" "age -d -i $WORK/age.txt $WORK/age.enc"
add "openssl enc -aes-256-cbc -pbkdf2 (encrypt)" \
  "openssl enc -aes-256-cbc -pbkdf2 -salt -pass file:$WORK/pass -in $INPUT"
add "openssl enc -d -aes-256-cbc -pbkdf2" \
  "openssl enc -d -aes-256-cbc -pbkdf2 -pass file:$WORK/pass -in $WORK/openssl.enc"

# One line per run: index, seconds, KB.
results=$WORK/results.txt
: >"$results"
for _ in $(seq "$RUNS"); do
  for i in "${!commands[@]}"; do
    read -ra argv <<<"${commands[$i]}"
    /usr/bin/time -f '%e %M' -o "$WORK/time.txt" "${argv[@]}" >/dev/null
    echo "$i $(cat "$WORK/time.txt")" >>"$results"
  done
done

echo "Input: $SIZE_MB MiB, page-cached, output /dev/null, $RUNS interleaved rounds;" \
  "$(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)); load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| command | best time | best GiB/s | median time | max RSS |"
echo "|---|---:|---:|---:|---:|"
for i in "${!commands[@]}"; do
  awk -v i="$i" '$1 == i { print $2, $3 }' "$results" | sort -n | awk -v n="${names[$i]}" -v mb="$SIZE_MB" '
    { s[NR] = $1; kb[NR] = $2 }
    END {
      median = (NR % 2) ? s[(NR + 1) / 2] : (s[NR / 2] + s[NR / 2 + 1]) / 2
      gibs = (s[1] > 0) ? mb / 1024 / s[1] : 0
      printf "| %-42s | %6.2f s | %5.2f | %6.2f s | %6.1f MB |\n", n, s[1], gibs, median, kb[1] / 1024
    }'
done
