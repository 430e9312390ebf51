#!/usr/bin/env bash
# Seeds an Aura-Sign-like system into the servers named by the environment (VAULT_ADDR,
# VAULT_TOKEN, PG*, REDIS_URL, KUBECONFIG): the Vault secret with every runbook key, a
# PostgreSQL role and database with `identity` and `trust_event` rows, Redis with session
# and non-session keys, and the aura-api / aura-worker deployments reading a Secret.
# Used by `make demo` and by the rotation tests, so both start from the same system.
#
#   seed-aura.sh DIR    # DIR receives aura-old-password (0600) for the checks afterwards
#
# Secret values never go on a command line: they reach curl, psql, redis-cli and kubectl on
# stdin.
set -euo pipefail
dir=${1:?usage: seed-aura.sh DIR}
mkdir -p "$dir"
umask 077
rand() { head -c "$1" /dev/urandom | base64 | tr -d '\n'; }
password=$(head -c 24 /dev/urandom | base64 | tr -d '/+=\n')
printf '%s' "$password" > "$dir/aura-old-password"
# The application's own Redis user (ACL), whose password the rotation changes too.
head -c 24 /dev/urandom | base64 | tr -d '/+=\n' > "$dir/aura-redis-old-password"
pghost=${PGHOST:-127.0.0.1}; pgport=${PGPORT:-5432}
redis_url=${REDIS_URL:?REDIS_URL must be set}

# PostgreSQL: the application's role and database, and some data to keep.
PGOPTIONS="-c client_min_messages=warning" psql -v ON_ERROR_STOP=1 -q -d "${PGDATABASE:-postgres}" >/dev/null <<SQL
DROP DATABASE IF EXISTS aura_sign;
DROP ROLE IF EXISTS aura;
CREATE ROLE aura LOGIN PASSWORD '$password';
CREATE DATABASE aura_sign OWNER aura;
SQL
psql -v ON_ERROR_STOP=1 -q -d aura_sign >/dev/null <<'SQL'
SET ROLE aura;
CREATE TABLE identity (id serial PRIMARY KEY, email text NOT NULL, created_at timestamptz DEFAULT now());
CREATE TABLE trust_event (id serial PRIMARY KEY, identity_id int REFERENCES identity(id), kind text, at timestamptz DEFAULT now());
INSERT INTO identity (email) SELECT 'user' || g || '@example.com' FROM generate_series(1, 100) g;
INSERT INTO trust_event (identity_id, kind) SELECT (g % 100) + 1, 'login' FROM generate_series(1, 500) g;
SQL

# Vault: the live secret (KV v2 at secret/), every key of the runbook.
# The passwords come from their files and the admin URL from the environment, never argv.
python3 - "$dir/vault-seed.json" "$dir" "$pghost" "$pgport" <<'PY'
import json, os, sys, base64
from urllib.parse import urlparse
path, seed, host, port = sys.argv[1:]
password = open(seed + "/aura-old-password").read()
redis_password = open(seed + "/aura-redis-old-password").read()
admin = urlparse(os.environ["REDIS_URL"])
redis_url = f"redis://aura:{redis_password}@{admin.hostname}:{admin.port}{admin.path or '/0'}"
r = lambda n: base64.b64encode(os.urandom(n)).decode()
data = {
    "DATABASE_URL": f"postgresql://aura:{password}@{host}:{port}/aura_sign",
    "DATABASE_PASSWORD": password,
    "SESSION_SECRET": r(32),
    "IRON_SESSION_PASSWORD": r(48),
    "REDIS_URL": redis_url,
    "REDIS_PASSWORD": redis_password,
    "MINIO_ENDPOINT": "http://127.0.0.1:9000",
    "MINIO_ACCESS_KEY": "aura-" + r(6),
    "MINIO_SECRET_KEY": r(30),
    "SMTP_PASSWORD": r(18),
    # Not every value is a string: a rotation must keep these as the JSON they are.
    "DB_POOL_MAX": 20,
    "FEATURE_FLAGS": {"passkeys": True, "regions": ["eu", "us"]},
}
with open(path, "w") as f:
    json.dump({"data": data}, f)
PY
curl -fsS -o /dev/null -H "X-Vault-Token: ${VAULT_TOKEN:?}" -X POST --data @"$dir/vault-seed.json" \
  "${VAULT_ADDR:?}/v1/secret/data/aura/production"

# Kubernetes: the Secret the deployments read, and the deployments.
AURA_ROLLOUT_DELAY_MS=${AURA_ROLLOUT_DELAY_MS:-200} python3 - "$dir/vault-seed.json" > "$dir/k8s-seed.json" <<'PY'
import json, os, sys, base64
data = json.load(open(sys.argv[1]))["data"]
keys = ["SESSION_SECRET", "IRON_SESSION_PASSWORD", "DATABASE_URL", "REDIS_URL"]
secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "aura-secrets", "namespace": "default"},
          "type": "Opaque", "data": {k: base64.b64encode(data[k].encode()).decode() for k in keys}}
def deployment(name):
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": "default", "labels": {"app": name},
                         # How long the stand-in takes to roll out (a real cluster ignores it).
                         "annotations": {"lockstep.test/rollout-delay-ms": os.environ["AURA_ROLLOUT_DELAY_MS"]}},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": name.split("-")[1], "image": "aura/" + name + ":1.4.2",
                                           "envFrom": [{"secretRef": {"name": "aura-secrets"}}],
                                           "env": [{"name": "NODE_ENV", "value": "production"}]}]}}}}
print(json.dumps({"apiVersion": "v1", "kind": "List", "items": [secret, deployment("aura-api"), deployment("aura-worker")]}))
PY
kubectl apply --validate=false -f - < "$dir/k8s-seed.json" >/dev/null
rm -f "$dir/vault-seed.json" "$dir/k8s-seed.json"

# Redis: the application's ACL user `aura` (its password set by SHA-256), 1,000 sessions
# and 500 keys that must survive (RESP over a socket: no password reaches a command line).
python3 - "$dir/aura-redis-old-password" <<'PY'
import hashlib, os, socket, sys
from urllib.parse import urlparse, unquote
url = urlparse(os.environ["REDIS_URL"])
app_hash = hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest()
sock = socket.create_connection((url.hostname or "127.0.0.1", url.port or 6379))
def cmd(*args):
    out = f"*{len(args)}\r\n"
    for a in args:
        out += f"${len(a.encode())}\r\n{a}\r\n"
    return out
commands = []
if url.password:
    commands.append(cmd("AUTH", unquote(url.username or "default"), unquote(url.password)))
db = (url.path or "/0").strip("/") or "0"
commands.append(cmd("SELECT", db))
commands.append(cmd("ACL", "SETUSER", "aura", "reset", "on", "#" + app_hash, "~*", "&*", "+@all", "-@admin", "-@dangerous"))
for i in range(1000):
    commands.append(cmd("SET", f"sess:{i:05d}", f'{{"user":{i % 100}}}'))
for i in range(250):
    commands.append(cmd("SET", f"cache:page:{i}", "x"))
    commands.append(cmd("RPUSH", f"queue:mail:{i}", "job"))
sock.sendall("".join(commands).encode())
expected, seen, data = len(commands), 0, b""
while seen < expected:
    chunk = sock.recv(65536)
    if not chunk:
        break
    data += chunk
    seen = data.count(b"\r\n")
if b"-ERR" in data or b"-WRONGPASS" in data or b"-NOAUTH" in data:
    sys.exit("redis refused the seed: " + data.split(b"\r\n")[0].decode())
PY
echo "seeded: Vault secret/aura/production, PostgreSQL aura_sign, Redis 1000 sessions + 500 other keys, deployments aura-api and aura-worker"
