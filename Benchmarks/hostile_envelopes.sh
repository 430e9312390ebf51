#!/usr/bin/env bash
# Hostile envelopes against the passphrase work budget (issue 10, docs/format.md
# "Passphrase work budget"): the 207-byte file whose one passphrase stanza asks for
# Argon2id with 4 GiB, and the ~101 KB file with 1024 passphrase stanzas at the old
# per-stanza limits (64 passes, 4 GiB). Each is opened with `decrypt --passphrase-file` and
# `backup verify --passphrase-file --allow-unsigned`; wall time and max RSS from GNU time.
# Goal: each refused (exit 65) in <= 10 s and <= 1.2 GB RSS. A third file shows the most a
# file within the budget can cost (two stanzas at the ceiling, neither opening: exit 77).
# Env: LOCKSTEP=path (default: `make release`'s binary); BENCH_DIR (default
# /tmp/lockstep-bench). Needs: python3, /usr/bin/time.
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${BENCH_DIR:-/tmp/lockstep-bench}/hostile
mkdir -p "$WORK"
if [[ -z "${LOCKSTEP:-}" ]]; then
  make -s release >/dev/null
  LOCKSTEP=.build/release/lockstep
fi
python3 - "$WORK" <<'PY'
import os, struct, sys
work = sys.argv[1]
def stanza(passes, memory_kib):
    body = struct.pack(">II", passes, memory_kib) + os.urandom(88)
    return bytes([2]) + struct.pack(">H", len(body)) + body
def envelope(stanzas):
    head = b"LOCKSTEP" + bytes([2, 0]) + os.urandom(32) + struct.pack(">H", len(stanzas))
    return head + b"".join(stanzas) + os.urandom(32) + os.urandom(32)
small = envelope([stanza(1, 4 * 1024 * 1024)])
assert len(small) == 207, len(small)
many = envelope([stanza(64, 4 * 1024 * 1024) for _ in range(1024)])
open(os.path.join(work, "small-4gib.lsb"), "wb").write(small)
open(os.path.join(work, "1024-stanzas.lsb"), "wb").write(many)
# The worst a file within the budget can cost: two stanzas at the per-stanza ceiling, both
# derived because neither opens (wrong passphrase, exit 77).
worst = envelope([stanza(3, 256 * 1024) for _ in range(2)])
open(os.path.join(work, "budget-worst.lsb"), "wb").write(worst)
open(os.path.join(work, "pass"), "w").write("correct horse\n")
PY
printf '| file | command | exit | wall (s) | max RSS (MB) |\n| --- | --- | ---: | ---: | ---: |\n'
for file in small-4gib.lsb 1024-stanzas.lsb budget-worst.lsb; do
  size=$(stat -c %s "$WORK/$file")
  for command in decrypt verify; do
    if [[ $command == decrypt ]]; then
      args=(decrypt "$WORK/$file" --passphrase-file "$WORK/pass" --out /dev/null)
    else
      args=(backup verify "$WORK/$file" --passphrase-file "$WORK/pass" --allow-unsigned)
    fi
    set +e
    /usr/bin/time -f '%e %M' -o "$WORK/time" "$LOCKSTEP" "${args[@]}" >/dev/null 2>"$WORK/stderr"
    status=$?
    set -e
    read -r wall rss < <(tail -n 1 "$WORK/time")
    printf '| %s (%s bytes) | %s | %s | %s | %.1f |\n' "$file" "$size" "$command" "$status" \
      "$wall" "$(echo "$rss / 1024" | bc -l)"
  done
done
