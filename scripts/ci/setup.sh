#!/usr/bin/env bash
# Install what a fresh machine lacks: the wasm target, wasm-bindgen-cli at the version Cargo.lock pins,
# Debian's Chromium (for browser tests), and the npm packages from package-lock.json. Idempotent: a warm
# machine skips every step it already has.
set -euo pipefail
cd "$(dirname "$0")/../.."
TOOLS="${CIO_TOOLS:-$HOME/.cache/cio-backfill}"
mkdir -p "$TOOLS"

step() { printf '\n== setup: %s\n' "$*"; }

step "rust wasm32 target"
rustup target add wasm32-unknown-unknown >/dev/null 2>&1 || rustup target add wasm32-unknown-unknown

WB_VERSION=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/,""); print; exit}' Cargo.lock)
step "wasm-bindgen-cli $WB_VERSION"
if [ "$("$TOOLS/bin/wasm-bindgen" --version 2>/dev/null | awk '{print $2}')" != "$WB_VERSION" ]; then
  # No --locked: the CLI's own lockfile wants a crate version the registry does not have (TOOLCHAIN.md).
  cargo install wasm-bindgen-cli --version "$WB_VERSION" --root "$TOOLS" --force
fi
"$TOOLS/bin/wasm-bindgen" --version

step "chromium (browser tests)"
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends chromium chromium-driver
fi

step "npm packages"
if [ -f package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
echo "setup done"
