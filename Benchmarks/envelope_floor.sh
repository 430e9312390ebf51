#!/usr/bin/env bash
# What the envelope and start-up goals are up against on this machine, measured rather than
# assumed (docs/benchmarks.md, "Ceilings and floors"):
# 1. throughput ceiling: `openssl speed` for AES-256-GCM on 64 KiB blocks, and a C program
#    doing exactly lockstep encrypt's work (read 8 x 64 KiB with readv into slots, seal each
#    in place with EVP AES-256-GCM and a fresh nonce, one write per batch) on the same file;
# 2. memory and start-up floor: that C program and Swift hello-worlds linked against the six
#    C libraries lockstep links (curl, pq, hiredis, sodium, ssl, crypto), with no Foundation,
#    FoundationEssentials or Foundation, static or dynamic Swift runtime.
# Usage: Benchmarks/envelope_floor.sh [SIZE_MB] (default 1024). Env: RUNS (default 5),
# BENCH_DIR (default /tmp/lockstep-bench). Needs: cc, swiftc, openssl, hyperfine, GNU time.
set -euo pipefail
SIZE_MB=${1:-1024}
RUNS=${RUNS:-5}
WORK=${BENCH_DIR:-/tmp/lockstep-bench}
mkdir -p "$WORK/floor"
cd "$WORK/floor"
INPUT=$WORK/input-${SIZE_MB}M.bin
[[ -f $INPUT ]] || head -c $((SIZE_MB * 1024 * 1024)) /dev/urandom >"$INPUT"
cat "$INPUT" >/dev/null
LIBS=(-lcurl -lpq -lhiredis -lsodium -lssl -lcrypto)

cat >stream.c <<'EOF'
#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>
#include <fcntl.h>
enum { CHUNK = 65536, SLOT = CHUNK + 16, BATCH = 8 };
int main(int argc, char **argv) {
  int in = open(argv[1], O_RDONLY);
  unsigned char key[32] = {1}, nonce[12] = {0};
  EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
  if (in < 0 || !c || !EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, NULL)) return 1;
  unsigned char *slots = aligned_alloc(64, BATCH * SLOT);
  uint64_t counter = 0;
  for (;;) {
    struct iovec v[BATCH];
    for (int i = 0; i < BATCH; i++) { v[i].iov_base = slots + i * SLOT; v[i].iov_len = CHUNK; }
    ssize_t got = readv(in, v, BATCH);
    if (got <= 0) break;
    size_t out = 0;
    for (ssize_t off = 0; off < got; off += CHUNK) {
      int n = got - off < CHUNK ? (int)(got - off) : CHUNK, len;
      memcpy(nonce + 3, &counter, 8); counter++;
      unsigned char *p = slots + out;
      EVP_EncryptInit_ex(c, NULL, NULL, NULL, nonce);
      EVP_EncryptUpdate(c, p, &len, p, n);
      EVP_EncryptFinal_ex(c, p + len, &len);
      EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, p + n);
      out += n + 16;
    }
    if (write(1, slots, out) != (ssize_t)out) return 1;
  }
  return 0;
}
EOF
cc -O2 stream.c -o stream-crypto -lcrypto
cc -O2 stream.c -o stream-libs -Wl,--no-as-needed "${LIBS[@]}" -lstdc++ -lm

echo 'print("hello \(CommandLine.arguments.count)")' >plain.swift
for module in FoundationEssentials Foundation; do
  printf 'import %s\nprint("hello \\(Date().timeIntervalSince1970 > 0) \\(URL(fileURLWithPath: "/tmp").path)")\n' \
    "$module" >"$module.swift"
done
SWIFT_LIBS=(-Xlinker --no-as-needed)
for lib in "${LIBS[@]}"; do SWIFT_LIBS+=("$lib"); done
STATIC=(-static-stdlib -use-ld=lld -Xlinker -z -Xlinker pack-relative-relocs)
swiftc -O "${STATIC[@]}" plain.swift -o swift-static-libs "${SWIFT_LIBS[@]}" 2>/dev/null
swiftc -O "${STATIC[@]}" FoundationEssentials.swift -o essentials-static-libs "${SWIFT_LIBS[@]}" 2>/dev/null
swiftc -O "${STATIC[@]}" Foundation.swift -o foundation-static-libs "${SWIFT_LIBS[@]}" 2>/dev/null
swiftc -O Foundation.swift -o foundation-dynamic-libs "${SWIFT_LIBS[@]}" 2>/dev/null

rss() { # least max RSS of 3 runs, MB
  local best=""
  for _ in 1 2 3; do
    /usr/bin/time -f '%M' -o rss.txt "$@" >/dev/null
    kb=$(cat rss.txt)
    [[ -z $best || $kb -lt $best ]] && best=$kb
  done
  awk -v kb="$best" 'BEGIN { printf "%.1f MB", kb / 1024 }'
}

echo "load: $(cut -d' ' -f1-3 /proc/loadavg); $(openssl version)"
echo
echo "## AES-256-GCM, 64 KiB blocks, one core (openssl speed, 3 s each)"
for direction in "" -decrypt; do
  openssl speed -evp aes-256-gcm $direction -bytes 65536 -seconds 3 2>/dev/null | awk -v d="${direction:-encrypt}" \
    '/^AES-256-GCM/ { sub(/k$/, "", $2); printf "%-8s %.2f GB/s = %.2f GiB/s\n", d, $2 * 1000 / 1e9, $2 * 1000 / 1073741824 }'
done
echo
echo "## The C stream (lockstep encrypt's work, no Swift) on $SIZE_MB MiB, $RUNS runs"
hyperfine -N --warmup 1 --runs "$RUNS" --output=null "./stream-crypto $INPUT" "./stream-libs $INPUT" 2>&1 |
  grep -E 'Benchmark|Time|Range'
echo "max RSS: stream-crypto $(rss ./stream-crypto "$INPUT"); stream-libs $(rss ./stream-libs "$INPUT")"
echo
echo "## Hello-world floors, all linked with ${LIBS[*]}"
hyperfine -N --warmup 5 --runs 40 --output=null ./swift-static-libs ./essentials-static-libs \
  ./foundation-static-libs ./foundation-dynamic-libs 2>&1 | grep -E 'Benchmark|Time'
for b in swift-static-libs essentials-static-libs foundation-static-libs foundation-dynamic-libs; do
  echo "max RSS $b: $(rss "./$b")"
done
