# parquet_compact: `make setup` installs everything (npm packages, Postgres 15, Ceph radosgw),
# `make test` runs the whole suite against real services, `make check` type-checks and lints.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
BIN := node_modules/.bin

.PHONY: setup deps services check test build bench demo

setup: deps services

# npm ci when node_modules is missing or older than package-lock.json.
deps: node_modules/.package-lock.json

node_modules/.package-lock.json: package-lock.json
	npm ci --no-audit --no-fund
	touch $@

services:
	bash scripts/install-services.sh

# Deno checks only the entry points and folders that exist; tests/core holds the pure-core
# tests (Deno runs them as well as Bun) and may be empty or missing.
CHECK_PATHS = $(wildcard cli.ts mod.ts src tests bench demo)
CORE_TESTS = $(shell find tests/core -name '*.test.ts' 2>/dev/null)

check: deps
	$(BIN)/tsc -p .
	$(BIN)/deno check $(CHECK_PATHS)
	$(BIN)/deno fmt --check
	$(BIN)/deno lint
	$(if $(CORE_TESTS),$(BIN)/deno test tests/core,@echo "deno test: no tests in tests/core yet")

# ARGS go to bun test, e.g. make test ARGS=tests/store.test.ts
test: setup
	$(BIN)/bun tests/run.ts $(ARGS)

build: setup
	$(BIN)/bun build --compile --minify --bytecode --format=esm cli.ts --outfile dist/parquet_compact

bench: setup
	$(BIN)/bun bench/run.ts

demo: setup
	$(BIN)/bun demo/demo.ts
