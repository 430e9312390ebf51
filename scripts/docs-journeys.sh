#!/usr/bin/env bash
# `make docs-journeys`: runs the user journeys of the docs from the docs' own code blocks,
# literally, on a fresh local stack, and fails when a block fails (issue 17: a newcomer must
# be able to follow them as written).
#
#   scripts/docs-journeys.sh [NAME...]    # default: every journey found
#
# A journey block is a fenced block whose info string is `sh journey=NAME` in README.md or
# docs/*.md. The `setup` blocks run first, in this shell (they start the stack and export
# its settings); then each other journey, in document order, in a bash of its own with
# `set -euo pipefail`, from the root of the checkout. The stack lives in .lockstep-stack/, as
# the docs say, so a stack already up there is refused rather than reused or stopped; the
# one this script starts is stopped at the end, whatever happened.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
required=(setup rotate backup env drift)

die() { echo "docs-journeys: $*" >&2; exit 1; }

[ ! -e .lockstep-stack/env ] \
  || die "a stack is already up in .lockstep-stack (the journeys start their own): run make stack-down first"

work=$(mktemp -d)
started=0
cleanup() {
  local status=$?
  if [ "$started" = 1 ]; then scripts/stack.sh down .lockstep-stack >/dev/null 2>&1 || true; fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT

# Extract: one file per journey, blocks appended in document order; `order` lists names in
# the order they first appear.
python3 - "$work" README.md docs/*.md <<'PY'
import re, sys
out, files = sys.argv[1], sys.argv[2:]
order, blocks = [], {}
fence = re.compile(r'^(`{3,})\s*(\w+)\s+journey=([A-Za-z0-9_-]+)\s*$')
for path in files:
    lines = open(path, encoding="utf-8").read().split("\n")
    i = 0
    while i < len(lines):
        m = fence.match(lines[i])
        if not m:
            i += 1
            continue
        ticks, name, start = m.group(1), m.group(3), i + 1
        i += 1
        while i < len(lines) and lines[i].strip() != ticks:
            i += 1
        if i == len(lines):
            sys.exit(f"docs-journeys: {path}:{start}: the journey block {name} is not closed")
        if name not in blocks:
            order.append(name)
            blocks[name] = []
        blocks[name].append(f"# {path}:{start + 1}\n" + "\n".join(lines[start:i]) + "\n")
        i += 1
for name in order:
    with open(f"{out}/{name}.sh", "w", encoding="utf-8") as f:
        f.write("".join(blocks[name]))
with open(f"{out}/order", "w") as f:
    f.write("\n".join(order) + "\n")
PY

mapfile -t found < "$work/order"
for name in "${required[@]}"; do
  [ -f "$work/$name.sh" ] || die "no \`sh journey=$name\` block in README.md or docs/*.md"
done
if [ $# -gt 0 ]; then selected=("$@"); else selected=("${found[@]}"); fi

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
total=$SECONDS

say "journey setup ($(head -1 "$work/setup.sh" | sed 's/^# //'))"
started=1
set +u   # the blocks are the newcomer's shell, not this script's
# shellcheck disable=SC1091
source "$work/setup.sh"
set -u
echo "setup: $((SECONDS - total)) s"

failed=()
for name in "${selected[@]}"; do
  [ "$name" = setup ] && continue
  [ -f "$work/$name.sh" ] || die "no journey named $name (found: ${found[*]})"
  say "journey $name ($(head -1 "$work/$name.sh" | sed 's/^# //'))"
  begin=$SECONDS
  if (cd "$root" && bash -euo pipefail "$work/$name.sh"); then
    echo "journey $name: ok in $((SECONDS - begin)) s"
  else
    echo "journey $name: FAILED (exit $?) after $((SECONDS - begin)) s" >&2
    failed+=("$name")
  fi
done

say "done in $((SECONDS - total)) s"
if [ ${#failed[@]} -gt 0 ]; then
  die "journeys that cannot be followed as written: ${failed[*]}"
fi
echo "every journey ran as written: ${selected[*]}"
