# cio-backfill: every step a developer or CI runs. `make test` runs every test tier; `make demo` shows the tool.
SHELL := /bin/bash
TOOLS ?= $(HOME)/.cache/cio-backfill
export PATH := $(TOOLS)/bin:$(HOME)/.cargo/bin:$(PATH)
CARGO ?= cargo
WASM_TARGET := wasm32-unknown-unknown

.PHONY: setup test fmt-check clippy test-native build-wasm build test-js test-wasm test-e2e test-worker demo inspect bench fuzz clean

setup:
	bash scripts/ci/setup.sh

## The README's test command: every tier, in order of speed.
test: fmt-check clippy test-native build-wasm test-js test-wasm
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

## The native dry-run inspector on the bundled samples.
inspect:
	$(CARGO) run --quiet --release --example inspect -- samples/people.csv --kind people --api track; test $$? -le 1
	$(CARGO) run --quiet --release --example inspect -- samples/events.csv --kind events --api pipelines; test $$? -le 1

bench:
	bash bench/run.sh

fuzz:
	bash scripts/ci/fuzz.sh $(FUZZ_SECONDS)
