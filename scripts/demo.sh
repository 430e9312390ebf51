#!/usr/bin/env bash
# `make demo`: the compromise rotation end to end on a local stack this script starts.
#
#  1. start OpenBao, PostgreSQL, Redis, moto S3 and the Kubernetes stand-in (scripts/stack.sh)
#  2. `lockstep doctor`: every part reachable
#  3. seed an Aura-Sign-like system (scripts/seed-aura.sh)
#  4. an attacker connects to PostgreSQL with the stolen password
#  5. `lockstep rotate run --yes` with policies/rotation/aura-sign.yaml
#  6. check what the runbook never could: old password refused, new accepted, the attacker's
#     connection gone, no compromised key left unaccounted (each rotated, derived, pending as
#     a manual follow-up, or kept with a reason), Secret updated and deployments rolled out,
#     only session keys removed from Redis, signed evidence verifies; then a notice.
#  7. complete one manual follow-up (SMTP_PASSWORD) with `rotate confirm`, the value on stdin.
#
# The stack keeps running for you to explore (`source DIR/env`); `make stack-down` stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
dir=${1:-.lockstep-stack}
lockstep=${LOCKSTEP:-$root/.build/debug/lockstep}
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
check() { # check DESCRIPTION COMMAND...
  if "${@:2}"; then printf '  \033[32m✔\033[0m %s\n' "$1"; else printf '  \033[31m✘\033[0m %s\n' "$1"; failed=1; fi
}
failed=0

if [ -f "$dir/env" ]; then
  say "using the stack already up in $dir"
else
  say "starting the local stack in $dir"
  scripts/stack.sh up "$dir"
fi
dir=$(cd "$dir" && pwd)
# shellcheck disable=SC1091
source "$dir/env"

say "lockstep doctor"
"$lockstep" doctor

say "seeding Aura-Sign (Vault secret/aura/production, PostgreSQL aura_sign, Redis, deployments)"
AURA_ROLLOUT_DELAY_MS=300 scripts/seed-aura.sh "$dir/seed"
echo "POST /api/login 401 unauthorized ip=203.0.113.7" > "$dir/aura-api.log"
echo "POST /api/login 401 unauthorized ip=203.0.113.7" >> "$dir/aura-api.log"
sed "s#/var/log/aura-api.log#$dir/aura-api.log#" policies/rotation/aura-sign.yaml > "$dir/aura-sign.yaml"
[ -f "$dir/signing.key" ] || "$lockstep" keygen --signing --out "$dir/signing.key" >/dev/null

say "an attacker holds a PostgreSQL session opened with the stolen password"
PGPASSWORD=$(cat "$dir/seed/aura-old-password") PGUSER=aura PGDATABASE=aura_sign \
  psql -q -t -c "SELECT 'attacker connected as ' || current_user; SELECT pg_sleep(600);" \
  >"$dir/attacker.log" 2>&1 &
attacker=$!
sleep 0.5
head -1 "$dir/attacker.log" | sed 's/^ */  /'

say "lockstep rotate plan (every key of the leaked secret accounted for)"
"$lockstep" rotate plan --policy "$dir/aura-sign.yaml"
"$lockstep" rotate plan --policy "$dir/aura-sign.yaml" --json > "$dir/plan.json"
# Fingerprints (SHA-256) of the values before the run, to tell changed from kept afterwards.
fingerprints() { curl -fsS -H "X-Vault-Token: $VAULT_TOKEN" "$VAULT_ADDR/v1/secret/data/aura/production" \
  | python3 -c 'import json,sys,hashlib; d=json.load(sys.stdin)["data"]["data"]; print(json.dumps({k: hashlib.sha256(json.dumps(v).encode()).hexdigest() for k, v in d.items()}))'; }
fingerprints > "$dir/before.json"

say "lockstep rotate run --yes"
start=$(date +%s.%N)
"$lockstep" rotate run --yes --policy "$dir/aura-sign.yaml" --signing-key "$dir/signing.key" \
  --evidence-dir "$dir/evidence" --state-dir "$dir/state"
end=$(date +%s.%N)

say "checks"
new_password() { curl -fsS -H "X-Vault-Token: $VAULT_TOKEN" "$VAULT_ADDR/v1/secret/data/aura/production" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["data"]["DATABASE_PASSWORD"])'; }
login() { PGPASSWORD=$1 PGUSER=aura PGDATABASE=aura_sign psql -q -t -c 'SELECT 1' >/dev/null 2>&1; }
check "old database password refused" bash -c "! PGPASSWORD=\$(cat '$dir/seed/aura-old-password') PGUSER=aura PGDATABASE=aura_sign psql -q -t -c 'SELECT 1' >/dev/null 2>&1"
check "new database password (from Vault) accepted" login "$(new_password)"
sleep 0.2
check "the attacker's open session was terminated" bash -c "! kill -0 $attacker 2>/dev/null"
fingerprints > "$dir/after.json"
"$lockstep" rotate status --policy "$dir/aura-sign.yaml" --json > "$dir/status.json"
check "no compromised key left unaccounted (rotated, derived, pending follow-up, or kept with a reason)" \
  python3 - "$dir/plan.json" "$dir/before.json" "$dir/after.json" "$dir/status.json" <<'PY'
import json, sys
plan, before, after, status = (json.load(open(p)) for p in sys.argv[1:])
pending = {item["key"] for item in status.get("pending_follow_ups", [])}
classes = {entry["key"]: entry for entry in plan["keys"] if entry["source"] == plan["secret"]}
problems = []
for key in before:
    entry = classes.get(key)
    if entry is None or entry["class"] == "unaccounted":
        problems.append(f"{key}: unaccounted")
    elif entry["class"] in ("rotated", "rotated by a target", "derived") and after.get(key) == before[key]:
        problems.append(f"{key}: {entry['class']} but unchanged")
    elif entry["class"] == "manual follow-up" and key not in pending:
        problems.append(f"{key}: manual follow-up not pending")
    elif entry["class"] == "kept" and (after.get(key) != before[key] or not entry.get("detail")):
        problems.append(f"{key}: kept without its value or a reason")
for problem in problems:
    print("    " + problem)
print("    follow-ups pending: " + ", ".join(sorted(pending)))
sys.exit(1 if problems or not plan["complete"] else 0)
PY
check "Kubernetes Secret aura-secrets holds the new DATABASE_URL" bash -c \
  "[ \"\$(kubectl get secret aura-secrets -o jsonpath='{.data.DATABASE_URL}' | base64 -d)\" = \"\$(curl -fsS -H 'X-Vault-Token: $VAULT_TOKEN' '$VAULT_ADDR/v1/secret/data/aura/production' | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"data\"][\"data\"][\"DATABASE_URL\"])')\" ]"
check "aura-api and aura-worker restarted and rolled out" bash -c \
  "kubectl rollout status deployment/aura-api --watch=false | grep -q 'successfully rolled out' && kubectl rollout status deployment/aura-worker --watch=false | grep -q 'successfully rolled out'"
check "Redis: every sess:* key gone, the 500 other keys kept" bash -c \
  "python3 - '$REDIS_URL' <<'PY'
import socket, sys
from urllib.parse import urlparse, unquote
u = urlparse(sys.argv[1]); s = socket.create_connection((u.hostname, u.port))
f = s.makefile('rb')
def cmd(*a):
    s.sendall(''.join(f'*{len(a)}\r\n' + ''.join(f'\${len(x.encode())}\r\n{x}\r\n' for x in a) for _ in [0]).encode())
    return f.readline()
cmd('AUTH', unquote(u.username or 'default'), unquote(u.password or ''))
n = int(cmd('DBSIZE')[1:])
sys.exit(0 if n == 500 else 1)
PY"
check "Redis user aura: old password refused, new one (from Vault) accepted" \
  python3 - "$dir/seed/aura-redis-old-password" <<'PY'
import json, os, socket, sys, urllib.request
from urllib.parse import urlparse
request = urllib.request.Request(os.environ["VAULT_ADDR"] + "/v1/secret/data/aura/production",
                                 headers={"X-Vault-Token": os.environ["VAULT_TOKEN"]})
new = json.load(urllib.request.urlopen(request))["data"]["data"]["REDIS_PASSWORD"]
old = open(sys.argv[1]).read()
u = urlparse(os.environ["REDIS_URL"])
def auth(password):
    s = socket.create_connection((u.hostname, u.port))
    args = ["AUTH", "aura", password]
    s.sendall(("*3\r\n" + "".join(f"${len(a.encode())}\r\n{a}\r\n" for a in args)).encode())
    answer = s.makefile("rb").readline()
    s.close()
    return answer.startswith(b"+OK")
sys.exit(0 if auth(new) and not auth(old) and new != old else 1)
PY
check "signed evidence verifies (hash chain + Ed25519 seal)" \
  "$lockstep" evidence verify "$dir/evidence" --key "$dir/signing.key.pub"
kill "$attacker" 2>/dev/null || true

say "a person rotated SMTP_PASSWORD at the relay: lockstep rotate confirm (value on stdin)"
head -c 18 /dev/urandom | base64 | "$lockstep" rotate confirm --policy "$dir/aura-sign.yaml" \
  --key SMTP_PASSWORD --signing-key "$dir/signing.key" --evidence-dir "$dir/confirmations"
"$lockstep" rotate status --policy "$dir/aura-sign.yaml"
check "SMTP_PASSWORD no longer pending; MINIO_SECRET_KEY still is" bash -c \
  "'$lockstep' rotate status --policy '$dir/aura-sign.yaml' --json | python3 -c 'import json,sys; p={i[\"key\"] for i in json.load(sys.stdin)[\"pending_follow_ups\"]}; sys.exit(0 if p == {\"MINIO_SECRET_KEY\"} else 1)'"

say "resolution notice, rendered from the evidence"
"$lockstep" evidence report "$(ls -t "$dir"/evidence/*.jsonl | head -1)" --template templates/notices/resolved.md

python3 -c "import sys; print(f\"\\nThe rotation took {float(sys.argv[2]) - float(sys.argv[1]):.2f} s (the runbook estimates 30 minutes to 2 hours).\")" "$start" "$end"
echo "Stack: source $dir/env to explore it; make stack-down to stop it."
exit $failed
