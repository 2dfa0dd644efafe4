# cio-backfill: every step a developer or CI runs. `make test` runs every test tier; `make demo` shows the tool.
SHELL := /bin/bash
TOOLS ?= $(HOME)/.cache/cio-backfill
export PATH := $(TOOLS)/bin:$(HOME)/.cargo/bin:$(PATH)
CARGO ?= cargo
WASM_TARGET := wasm32-unknown-unknown

.PHONY: setup test fmt-check clippy test-native build-wasm build test-js test-wasm test-e2e test-worker worker-dry-run demo inspect bench fuzz clean

setup:
	bash scripts/ci/setup.sh

## The README's test command: every tier, in order of speed.
test: fmt-check clippy test-native build-wasm test-js test-wasm test-worker worker-dry-run test-e2e
	@echo "all test tiers passed"

fmt-check:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --all-targets -- -D warnings
	$(CARGO) clippy --lib --target $(WASM_TARGET) -- -D warnings
	$(CARGO) clippy --target $(WASM_TARGET) --test wasm_node --test wasm_browser -- -D warnings

test-native:
	$(CARGO) test --all-targets

build-wasm:
	$(CARGO) build --lib --release --target $(WASM_TARGET)

## The npm package in dist/pkg (and the web page's copy of the wasm in www/pkg).
build:
	bash scripts/build.sh

## The package and the command line in Node against the sandbox, and the sandbox's own tests.
test-js: build
	node --test tests/js/ tests/sandbox/

## wasm-bindgen tests in Node and headless Chromium, with real fetches to the sandbox.
test-wasm:
	bash scripts/ci/wasm-tests.sh

## Start the sandbox, import the bundled samples through the command line, print the summaries.
demo:
	bash scripts/demo.sh

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

## The web importer (www/) driven in headless Chromium (playwright-core) against the sandbox; saves screenshots.
test-e2e: build
	node --test --test-concurrency=1 tests/e2e/
