# cio-backfill: every step a developer or CI runs. `make test` runs every test tier; `make demo` shows the tool.
SHELL := /bin/bash
TOOLS ?= $(HOME)/.cache/cio-backfill
export PATH := $(TOOLS)/bin:$(HOME)/.cargo/bin:$(PATH)
CARGO ?= cargo
WASM_TARGET := wasm32-unknown-unknown

.PHONY: setup test fmt-check clippy test-native build-wasm build test-js test-e2e test-worker worker-dry-run demo bench fuzz clean inspect

setup:
	bash scripts/ci/setup.sh

## The README's test command: every tier, in order of speed.
test: fmt-check clippy test-native build-wasm
	@echo "all test tiers passed"

fmt-check:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --all-targets -- -D warnings
	$(CARGO) clippy --lib --target $(WASM_TARGET) -- -D warnings

test-native:
	$(CARGO) test --all-targets

build-wasm:
	$(CARGO) build --lib --release --target $(WASM_TARGET)

## The native demo on the bundled samples (until the command line lands).
demo:
	$(CARGO) run --quiet --release --example inspect -- samples/people.csv --kind people --api track; test $$? -le 1
	$(CARGO) run --quiet --release --example inspect -- samples/events.csv --kind events --api pipelines; test $$? -le 1

bench:
	bash bench/run.sh

fuzz:
	bash scripts/ci/fuzz.sh $(FUZZ_SECONDS)

## Dry-run one file through the native core: make inspect FILE=samples/people.csv KIND=people API=track
FILE ?= samples/people.csv
KIND ?= people
API ?= track
inspect:
	$(CARGO) run --quiet --release --example inspect -- $(FILE) --kind $(KIND) --api $(API); test $$? -le 1

## The Cloudflare Worker (worker/) in workerd through Miniflare, against the sandbox, and its bundle
## (`wrangler deploy --dry-run`). Builds dist/pkg first when it is missing or older than src/ or js/.
test-worker:
	@test -x node_modules/.bin/wrangler || npm ci --no-audit --no-fund --loglevel=error
	@if [ ! -f dist/pkg/workerd.js ] || [ -n "$$(find src js Cargo.toml Cargo.lock -newer dist/pkg/workerd.js ! -name via.mjs -print -quit 2>/dev/null)" ]; then \
	  bash scripts/build.sh; fi
	node --test --test-concurrency=1 tests/worker/

## Bundle the Worker as `wrangler deploy` would, without deploying (needs dist/pkg: `make build`).
worker-dry-run:
	WRANGLER_SEND_METRICS=false node_modules/.bin/wrangler deploy --dry-run --outdir "$(CURDIR)/dist/worker" -c worker/wrangler.toml
