#!/usr/bin/env bash
# The wasm-bindgen test tiers: tests/wasm_node.rs in Node and tests/wasm_browser.rs in headless Chromium, both
# doing real fetches to the sandbox. The sandbox starts first; its URL reaches the tests at compile time
# (SANDBOX_URL, read with option_env!). The sandbox is stopped when this script ends, however it ends.
set -euo pipefail
cd "$(dirname "$0")/../.."
TOOLS="${CIO_TOOLS:-$HOME/.cache/cio-backfill}"
export PATH="$TOOLS/bin:$HOME/.cargo/bin:$PATH"
CARGO="${CARGO:-cargo}"

out=$(mktemp)
node tests/sandbox/server.mjs --port 0 >"$out" 2>&1 &
sandbox_pid=$!
trap 'kill "$sandbox_pid" 2>/dev/null || true; wait "$sandbox_pid" 2>/dev/null || true; rm -f "$out"' EXIT
for _ in $(seq 1 100); do
  grep -q '^SANDBOX_URL=' "$out" && break
  kill -0 "$sandbox_pid" 2>/dev/null || { cat "$out" >&2; echo "wasm-tests: the sandbox did not start" >&2; exit 1; }
  sleep 0.1
done
SANDBOX_URL=$(sed -n 's/^SANDBOX_URL=//p' "$out" | head -1)
[ -n "$SANDBOX_URL" ] || { echo "wasm-tests: no SANDBOX_URL from the sandbox" >&2; exit 1; }
export SANDBOX_URL
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
echo "wasm-tests: sandbox at $SANDBOX_URL"

"$CARGO" test --target wasm32-unknown-unknown --test wasm_node

CHROMEDRIVER="${CHROMEDRIVER:-$(command -v chromedriver || echo /usr/bin/chromedriver)}" \
  "$CARGO" test --target wasm32-unknown-unknown --test wasm_browser
