#!/usr/bin/env bash
# Streaming backup benchmark (issue 14): COUNT KV v2 secrets (default 100000) in a fresh
# OpenBao dev server, then, interleaved in the same run so that all see the same load:
#   - curl --parallel --parallel-max 16 reading every secret (the server's read ceiling);
#   - lockstep backup create --to DIR (list + read over 16 connections, streamed through the
#     envelope into a 0600 temp file, fsync, rename), max RSS and time;
#   - with BASE_BIN=…: the same command with another lockstep binary (before/after);
#   - with S3=1: lockstep backup create --to s3://… on a local moto (signatures checked),
#     requests counted in moto's own request log.
# Prints `uptime` before and after: the machine is shared, say so with the figures.
# Usage: Benchmarks/backup_stream.sh [COUNT]; RUNS (default 3), BASE_BIN, S3=1.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
count=${1:-100000}
runs=${RUNS:-3}
mount=secret

bench_init lockstep-backup-stream
stream_cleanup() {
  [ -n "${s3_started:-}" ] && "$root/scripts/stack.sh" stop s3 "$dir" >/dev/null 2>&1 || true
  bench_cleanup
}
trap stream_cleanup EXIT
bench_start_vault
t0=$(now)
bench_seed "$mount" bench "$count"
t1=$(now)
echo "seeded $count secrets in $(python3 -c "print(f'{$t1-$t0:.0f}')") s" >&2
"$lockstep" keygen --out "$dir/id.txt" > "$dir/recipient"
"$lockstep" keygen --signing --out "$dir/sign.key" > /dev/null
{
  echo "header = \"X-Vault-Token: $VAULT_TOKEN\""
  sed "s#.*#url = \"$VAULT_ADDR/v1/&\"\noutput = \"/dev/null\"#" "$dir/paths"
} > "$dir/curl.cfg"
if [ "${S3:-}" = 1 ]; then
  s3_port=$(bench_free_port_pair)
  s3_started=1
  "$root/scripts/stack.sh" start s3 "$dir" "$s3_port" --watch $$ >/dev/null
  export AWS_ENDPOINT_URL="http://127.0.0.1:$s3_port" AWS_REGION=us-east-1
  AWS_ACCESS_KEY_ID=$(cat "$dir/s3-access-key-id"); AWS_SECRET_ACCESS_KEY=$(cat "$dir/s3-secret-access-key")
  export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
  python3 -c 'import boto3,sys; boto3.client("s3").create_bucket(Bucket="bench")'
fi
load_before=$(uptime)

# One backup with binary $1 to $2; appends "seconds rss_kb" to $dir/$3.
backup() {
  local bin=$1 to=$2 out=$3 t0 t1
  rm -rf "$dir/out" && mkdir -p "$dir/out"
  t0=$(now)
  /usr/bin/time -f '%M' -o "$dir/rss" "$bin" backup create --mount "$mount" --to "$to" \
    --recipient "$(cat "$dir/recipient")" --sign-key "$dir/sign.key" --json > "$dir/json"
  t1=$(now)
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["paths"]==int(sys.argv[2]), d["paths"]' \
    "$dir/json" "$count"
  echo "$(python3 -c "print(f'{$t1-$t0:.3f}')") $(cat "$dir/rss")" >> "$dir/$out"
}

: > "$dir/curl" ; : > "$dir/new" ; : > "$dir/base" ; : > "$dir/s3"
for _ in $(seq "$runs"); do
  t0=$(now)
  curl -s --no-progress-meter --fail --parallel --parallel-max 16 -K "$dir/curl.cfg"
  t1=$(now)
  python3 -c "print(f'{$t1-$t0:.3f}')" >> "$dir/curl"
  backup "$lockstep" "$dir/out" new
  if [ -n "${BASE_BIN:-}" ]; then backup "$BASE_BIN" "$dir/out" base; fi
  if [ -n "${s3_started:-}" ]; then
    before=$(wc -l < "$dir/s3.log")
    backup "$lockstep" "s3://bench/run-$RANDOM/" s3
    sleep 1
    requests=$(tail -n +"$((before + 1))" "$dir/s3.log" | grep -c '"[A-Z]* /bench' || true)
    sed -i "\$s/\$/ $requests/" "$dir/s3"
  fi
done
load_after=$(uptime)

median() { python3 -c 'import sys,statistics; print(f"{statistics.median(map(float,sys.argv[1:])):.2f}")' "$@"; }
curl_median=$(median $(cat "$dir/curl"))
row() { # NAME FILE
  [ -s "$dir/$2" ] || return 0
  local secs rss extra=""
  secs=$(median $(awk '{print $1}' "$dir/$2"))
  rss=$(awk '{print $2}' "$dir/$2" | sort -n | tail -1)
  [ "$2" = s3 ] && extra=" (S3 requests per backup: $(awk '{print $3}' "$dir/s3" | tr '\n' ' '))"
  echo "| $1$extra | $count | $secs | $(awk '{print $1}' "$dir/$2" | tr '\n' ' ') | $(python3 -c "print(f'{$curl_median/$secs*100:.0f}%')") | $((rss / 1024)) MB |"
}
echo "load before: $load_before"
echo "load after:  $load_after"
echo
echo "| command | secrets | median of $runs (s) | all runs (s) | speed vs curl (curl time / its time) | max RSS |"
echo "|---|---:|---:|---|---:|---:|"
echo "| curl --parallel --parallel-max 16, reads only (ceiling) | $count | $curl_median | $(tr '\n' ' ' < "$dir/curl") | 100% | |"
row "lockstep backup create --to DIR" new
row "base binary (BASE_BIN) backup create --to DIR" base
row "lockstep backup create --to s3:// (moto)" s3
