# parquet_compact: `make setup` installs everything (npm packages, Postgres 15, Ceph radosgw),
# `make test` runs the whole suite against real services, `make check` type-checks and lints.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
BIN := node_modules/.bin

.PHONY: setup deps services python check test build bench demo reliability

setup: deps services python

# npm ci when node_modules is missing or older than package-lock.json.
deps: node_modules/.package-lock.json

node_modules/.package-lock.json: package-lock.json
	npm ci --no-audit --no-fund
	@# bun and deno fetch their binaries in postinstall scripts: run them if npm skipped them.
	@$(BIN)/bun --version >/dev/null 2>&1 || node node_modules/bun/install.js
	@$(BIN)/deno --version >/dev/null 2>&1 || node node_modules/deno/install.cjs
	touch $@

services:
	bash scripts/install-services.sh

# .venv with the pinned Python Parquet readers of tests/readers.test.ts
python:
	bash scripts/install-python.sh

# Deno type-checks every source and runs the pure tests (no services) as Bun does.
CHECK_PATHS = $(wildcard cli.ts mod.ts src tests bench demo)
PURE_TESTS = $(wildcard tests/core/*.test.ts tests/plan.test.ts tests/config*.test.ts tests/errors.test.ts tests/encode.test.ts tests/encode-identity.test.ts tests/threaded.test.ts tests/encode-pages.test.ts tests/rowhash.test.ts tests/snappy.test.ts tests/snappy-values.test.ts)

check: deps
	$(BIN)/tsc -p .
	$(BIN)/deno check $(CHECK_PATHS)
	$(BIN)/deno fmt --check
	$(BIN)/deno lint
	$(BIN)/deno test --allow-env --allow-read $(PURE_TESTS)

# ARGS go to bun test, e.g. make test ARGS=tests/store.test.ts. The binary is built first:
# tests/binary.test.ts runs the same scenario through it.
test: setup build
	$(BIN)/bun tests/run.ts $(ARGS)

build: deps
	$(BIN)/bun build --compile --minify --bytecode --format=esm cli.ts src/parquet/encode-worker.ts --outfile dist/parquet_compact

bench: setup build
	$(BIN)/bun bench/run.ts $(ARGS)

# PGlite: no server to install
demo: deps
	$(BIN)/bun demo/demo.ts

# The full reliability campaign against fresh services (> 200 kill points, concurrent runs, model-based
# sequences, and the fault and bad-input runs); regenerates docs/RELIABILITY.md even when a case fails,
# then fails if one did. `make test` runs a bounded subset of the same files.
reliability: setup build
	@dir=$$(mktemp -d); status=0; \
	REL_FULL=1 REL_CLI=dist REL_REPORT_DIR=$$dir $(BIN)/bun tests/run.ts --timeout=1800000 tests/reliability/ || status=$$?; \
	$(BIN)/bun tests/reliability/report.ts $$dir docs/RELIABILITY.md; rm -rf $$dir; \
	$(BIN)/deno fmt docs/RELIABILITY.md; exit $$status
