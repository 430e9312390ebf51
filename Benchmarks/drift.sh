#!/usr/bin/env bash
# Drift check benchmark: 4 sources x 1,000 keys, whole-process wall time of the release
# binary. Goal (DESIGN.md): <= 100 ms. Uses hyperfine when installed, else a loop timed with
# `date +%s%N`. Usage: Benchmarks/drift.sh [path/to/lockstep]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$root/.build/release/lockstep}
[ -x "$bin" ] || { echo "build first: swift build -c release" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
mkdir -p src
# Expected: 1,000 keys. Each source differs by a few keys so the report has content.
for i in $(seq 1 1000); do echo "APP_KEY_$i"; done > env_keys.txt
for i in $(seq 3 1002); do printf 'APP_KEY_%d="value-%d with spaces # and $dollar"\n' "$i" "$i"; done > .env
for i in $(seq 1 998); do echo "APP_KEY_$i"; done > deployed_keys.txt
for f in $(seq 0 9); do
  for i in $(seq $((f * 100 + 1)) $((f * 100 + 100))); do
    echo "const v$i = process.env.APP_KEY_$i; // $f"
  done > "src/module_$f.js"
done
args=(drift --expect keys:env_keys.txt --against dotenv:.env keys:deployed_keys.txt 'code:src/**/*.js' --format json)
# Variant: the code scan replaced by ExternalSecret manifests holding the same 1,000 keys
# (10 files, each a Deployment document and an ExternalSecret of 100 keys).
mkdir -p deploy
for f in $(seq 0 9); do
  { printf 'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: app-%d}\n---\n' "$f"
    printf 'apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata: {name: app-%d}\nspec:\n  data:\n' "$f"
    for i in $(seq $((f * 100 + 1)) $((f * 100 + 100))); do
      printf '    - secretKey: APP_KEY_%d\n      remoteRef: {key: app/production, property: APP_KEY_%d}\n' "$i" "$i"
    done; } > "deploy/es_$f.yaml"
done
es_args=(drift --expect keys:env_keys.txt --against dotenv:.env keys:deployed_keys.txt 'externalsecret:deploy/*.yaml' --format json)
"$bin" "${es_args[@]}" > /dev/null || [ $? -eq 2 ]
"$bin" "${args[@]}" > /dev/null || [ $? -eq 2 ]
if command -v hyperfine > /dev/null; then
  hyperfine --warmup 5 -N -i --runs 50 "$bin ${args[*]}" "$bin ${es_args[*]}"
else
  runs=50
  for variant in code externalsecret; do
    if [ $variant = code ]; then run=("${args[@]}"); else run=("${es_args[@]}"); fi
    best=999999999; total=0
    for _ in $(seq 1 5); do "$bin" "${run[@]}" > /dev/null || true; done
    for _ in $(seq 1 $runs); do
      start=$(date +%s%N)
      "$bin" "${run[@]}" > /dev/null || true
      end=$(date +%s%N)
      elapsed=$(( (end - start) / 1000 ))
      total=$(( total + elapsed ))
      [ $elapsed -lt $best ] && best=$elapsed
    done
    echo "4 sources x 1,000 keys ($variant): mean $(( total / runs / 1000 )).$(( total / runs % 1000 / 100 )) ms, best $(( best / 1000 )).$(( best % 1000 / 100 )) ms over $runs runs"
  done
fi
